"""Params from a Python file (`params: [params.py: [LR, Train.epochs]]`), as DVC reads them.

The file is parsed, never run: a params file is committed by anyone on the team, and reading a
value must not execute their code. What counts as a param, as in DVC: a module-level
`NAME = <literal>` (or `NAME: type = <literal>`), a class's `NAME = <literal>` under the class's
name (`Train.epochs`), and `self.NAME = <literal>` in a class's `__init__`, under the class too.
A value that is not a literal (`LR = base * 2`, a call) is not a param and is left out, so a
stage that names it says the param is missing.
"""
from __future__ import annotations

import ast
from typing import Any

from gitdatax.errors import FatalError


def parse_python_params(data: bytes, filename: str) -> dict[str, Any]:
    try:
        tree = ast.parse(data, filename=filename)
    except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes in the source
        where = f":{exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise FatalError(f"{filename}{where}: invalid Python: {why}") from None
    return _body_params(tree.body, in_init=False)


def _body_params(body: list[ast.stmt], in_init: bool) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for node in body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            named = _assigned(node, in_init)
            if named is not None:
                params[named[0]] = named[1]
        elif isinstance(node, ast.ClassDef) and not in_init:
            params[node.name] = _body_params(node.body, in_init=False)
        elif isinstance(node, ast.FunctionDef) and node.name == "__init__" and not in_init:
            params.update(_body_params(node.body, in_init=True))
    return params


def _assigned(node: ast.Assign | ast.AnnAssign, in_init: bool) -> tuple[str, Any] | None:
    """(name, value) of a single-target assignment of a literal, else None."""
    if isinstance(node, ast.Assign):
        if len(node.targets) != 1:  # `a = b = 1`: DVC takes neither
            return None
        target = node.targets[0]
    else:
        target = node.target
    if node.value is None:  # `x: int`, a bare annotation
        return None
    if in_init:  # only attributes of self in __init__; its locals are not params
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == "self"):
            return None
        name = target.attr
    elif isinstance(target, ast.Name):
        name = target.id
    else:
        return None
    try:
        value = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None  # not a literal: not a param
    if isinstance(value, (set, frozenset)):  # sets have no order to compare or show by
        value = sorted(value, key=repr)
    elif isinstance(value, tuple):
        value = list(value)
    return name, value
