"""YAML files the tools read (benchmark specs, RL Zoo hyperparameter files): data only, every key once.

YAML's safe loader builds no objects, but it keeps only the last of a key given twice in one mapping, so a
setting written twice would be dropped without a word. :func:`refuse_duplicate_keys` checks the composed
node tree first and names the line of the second occurrence.
"""

from __future__ import annotations

from typing import Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(ValueError):
    """A key given twice in one mapping; the message names the file and both lines."""


def _key(node: yaml.Node) -> Any:
    """A mapping key as YAML reads it (``1`` and ``1.0`` are one key), hashable."""
    try:
        value = yaml.safe_load(yaml.serialize(node))
        hash(value)
    except (yaml.YAMLError, TypeError):
        return (node.tag, yaml.serialize(node))
    return value


def refuse_duplicate_keys(root: yaml.Node | None, path: str) -> None:
    """Raise :class:`DuplicateKey` at the second occurrence of a key given twice in one mapping under ``root``.

    :param root: the tree of ``yaml.compose(text)``
    :param path: the file's name, for the message
    """
    seen: set[int] = set()
    pending = [root] if root is not None else []
    while pending:
        node = pending.pop()
        if id(node) in seen:  # an alias to a node already checked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key, value in node.value:
                if key.tag != MERGE_TAG:
                    name = _key(key)
                    if name in first:
                        raise DuplicateKey(
                            f"{path}, line {key.start_mark.line + 1}: the key {key.value!r} is given twice (first on "
                            f"line {first[name].start_mark.line + 1}); YAML would keep only the last. Remove one."
                        )
                    first[name] = key
                pending += [value, key]
        elif isinstance(node, yaml.SequenceNode):
            pending += reversed(node.value)
