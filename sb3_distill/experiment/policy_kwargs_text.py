"""``policy_kwargs`` written as Python text, as RL Zoo files and ``--param`` give it, read without running it.

The RL Zoo ``eval``-s strings such as ``"dict(activation_fn=nn.ReLU, net_arch=dict(pi=[256], vf=[256]))"``,
which would run any code a hyperparameter file holds. This module reads the same text from its syntax tree
instead and builds only what the allow-list names:

- ``dict(...)`` with keyword arguments, dict, list and tuple literals;
- numbers (with a sign), strings, ``True``, ``False`` and ``None``;
- ``nn.X``, ``th.nn.X`` and ``torch.nn.X`` where ``X`` is a ``torch.nn.Module`` class (activations);
- ``th.optim.X`` and ``torch.optim.X`` where ``X`` is a ``torch.optim.Optimizer`` class;
- ``RMSpropTFLike``, SB3's TensorFlow-like RMSprop.

Anything else, a call of another function, an attribute chain off the list, a lambda or a comprehension,
is refused with its text, before anything is evaluated.
"""

from __future__ import annotations

import ast
from typing import Any

import torch as th
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

__all__ = ["parse_policy_kwargs", "read_python_literal"]

#: The module prefixes under which a class may be named, and the base class it must derive from.
_CLASS_PREFIXES: dict[str, tuple[Any, type]] = {
    "nn": (th.nn, th.nn.Module),
    "th.nn": (th.nn, th.nn.Module),
    "torch.nn": (th.nn, th.nn.Module),
    "th.optim": (th.optim, th.optim.Optimizer),
    "torch.optim": (th.optim, th.optim.Optimizer),
}
#: Names allowed on their own, as the RL Zoo's hyperparameter files use them.
_BARE_NAMES: dict[str, type] = {"RMSpropTFLike": RMSpropTFLike}
#: Long enough for any real policy_kwargs; a bound on the work a hostile file can ask for.
_MAX_LENGTH = 10_000

_ALLOWED = (
    "dict(...) with keyword arguments, literals (numbers, text, True, False, None, [...], (...), {...}), "
    "nn.X / th.nn.X / torch.nn.X (torch.nn modules), th.optim.X / torch.optim.X (optimizers) and RMSpropTFLike"
)


def read_python_literal(text: str, what: str = "policy_kwargs") -> Any:
    """The value that ``text`` writes, built from its syntax tree with the allow-list of this module.

    :param text: Python expression text, e.g. ``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"``
    :param what: the setting the text is for, named in errors
    :return: the value (classes of the allow-list stand for themselves)
    :raises ValueError: the text is not an expression, or holds something off the allow-list (named)
    """
    if not isinstance(text, str):
        raise ValueError(f"{what} expects Python text such as 'dict(net_arch=[64, 64])', got {type(text).__name__}.")
    if len(text) > _MAX_LENGTH:
        raise ValueError(f"{what} text is {len(text)} characters long; expected at most {_MAX_LENGTH}.")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        reason = getattr(error, "msg", None) or type(error).__name__
        raise ValueError(f"{what} is not a Python expression ({reason}): {_one_line(text)!r}.") from None
    try:
        return _Reader(text.strip(), what).value(tree.body)
    except RecursionError:
        raise ValueError(f"{what} text is nested too deeply: {_one_line(text)[:80]!r}...") from None


def parse_policy_kwargs(text: str) -> dict[str, Any]:
    """``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"`` -> ``{"net_arch": [64, 64], "activation_fn": nn.Tanh}``.

    :param text: the RL Zoo's text form of ``policy_kwargs``
    :return: the keyword arguments of the policy
    :raises ValueError: the text holds something off the allow-list, or does not give a mapping with text keys
    """
    value = read_python_literal(text, "policy_kwargs")
    if not isinstance(value, dict) or not all(isinstance(key, str) and key.isidentifier() for key in value):
        raise ValueError(
            f"policy_kwargs text must give a mapping of argument names, such as 'dict(net_arch=[64, 64])'; "
            f"got {_one_line(text)!r}."
        )
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Reader:
    """Builds a value from an expression's syntax tree; each node kind it does not know is refused."""

    def __init__(self, text: str, what: str):
        self.text = text
        self.what = what

    def refuse(self, node: ast.AST, kind: str) -> ValueError:
        source = ast.get_source_segment(self.text, node) or ast.dump(node)
        return ValueError(
            f"{self.what}: {_one_line(source)!r} ({kind}) is not allowed in hyperparameter text, which is read, "
            f"never run; allowed: {_ALLOWED}."
        )

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (bool, int, float, str)):
                return node.value
            raise self.refuse(node, f"a {type(node.value).__name__} constant")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            if isinstance(operand, bool) or not isinstance(operand, (int, float)):
                raise self.refuse(node, "a sign on something other than a number")
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.List):
            return [self.item(element) for element in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.item(element) for element in node.elts)
        if isinstance(node, ast.Dict):
            result = {}
            for key, item in zip(node.keys, node.values, strict=True):
                if key is None:
                    raise self.refuse(item, "a ** unpacking")
                name = self.value(key)
                if name is not None and not isinstance(name, (str, int, float)):
                    raise self.refuse(key, "a key other than text, a number or None")
                result[name] = self.value(item)
            return result
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.name(node)
        kinds = {
            ast.Lambda: "a lambda",
            ast.ListComp: "a comprehension",
            ast.SetComp: "a comprehension",
            ast.DictComp: "a comprehension",
            ast.GeneratorExp: "a comprehension",
            ast.Subscript: "a subscript",
            ast.BinOp: "arithmetic",
            ast.JoinedStr: "an f-string",
        }
        raise self.refuse(node, kinds.get(type(node), f"a {type(node).__name__} expression"))

    def item(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Starred):
            raise self.refuse(node, "a * unpacking")
        return self.value(node)

    def call(self, node: ast.Call) -> dict[str, Any]:
        if not (isinstance(node.func, ast.Name) and node.func.id == "dict"):
            raise self.refuse(node, "a call of a function other than dict")
        if node.args:
            raise self.refuse(node, "dict(...) with positional arguments; use keyword arguments")
        result = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse(keyword, "a ** unpacking")
            result[keyword.arg] = self.value(keyword.value)
        return result

    def name(self, node: ast.Name | ast.Attribute) -> type:
        dotted = _dotted(node)
        if dotted is None:
            raise self.refuse(node, "an attribute of something other than a name")
        if dotted in _BARE_NAMES:
            return _BARE_NAMES[dotted]
        prefix, _, attribute = dotted.rpartition(".")
        if prefix not in _CLASS_PREFIXES or attribute.startswith("_"):
            raise self.refuse(node, "a name off the allow-list")
        module, base = _CLASS_PREFIXES[prefix]
        found = module.__dict__.get(attribute)  # the module's own namespace: no attribute hooks run
        if not (isinstance(found, type) and issubclass(found, base)):
            raise self.refuse(node, f"not a {module.__name__}.{base.__name__} class")
        return found


def _dotted(node: ast.expr) -> str | None:
    """``nn.ReLU`` -> ``"nn.ReLU"``; ``None`` when the chain does not start with a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
