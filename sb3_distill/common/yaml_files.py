"""YAML files the tools read (benchmark specs, RL Zoo hyperparameter files): data only, every key once.

YAML's safe loader builds no objects, but it keeps only the last of a key given twice in one mapping, so a
setting written twice would be dropped without a word. :func:`refuse_duplicate_keys` checks the composed
node tree first and names the line of the second occurrence.

The RL Zoo saves a run's ``config.yml`` and ``args.yml`` with ``yaml.dump`` of an ``OrderedDict``, which
writes a Python tag that only PyYAML's unsafe loader accepts. :func:`load_zoo_yaml` reads that one tag as the
plain mapping it stands for, and every other Python tag stays an error: reading never builds an object.
"""

from __future__ import annotations

from typing import Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"
#: The tag of ``yaml.dump(OrderedDict(...))``: its argument is the list of ``[key, value]`` pairs.
ORDERED_DICT_TAG = "tag:yaml.org,2002:python/object/apply:collections.OrderedDict"


class _ZooLoader(yaml.SafeLoader):
    """The safe loader, plus the RL Zoo's ``OrderedDict`` tag read as a ``dict``."""


def _ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict[Any, Any]:
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != 1:
        raise yaml.constructor.ConstructorError(None, None, "an OrderedDict takes one list of pairs", node.start_mark)
    pairs = loader.construct_sequence(node.value[0], deep=True)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise yaml.constructor.ConstructorError(None, None, "an OrderedDict takes [key, value] pairs", node.start_mark)
    return {key: value for key, value in pairs}


_ZooLoader.add_constructor(ORDERED_DICT_TAG, _ordered_dict)


def load_zoo_yaml(text: str) -> Any:
    """A YAML document as the safe loader reads it, with the RL Zoo's ``OrderedDict`` mappings as ``dict``.

    :raises yaml.YAMLError: the text is not YAML, or holds any other Python tag
    """
    return yaml.load(text, Loader=_ZooLoader)  # a SafeLoader subclass: no other tag builds anything


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
