"""`${...}` interpolation in a pipeline file, with DVC's rules so a dvc.yaml means the same here.

- `${name}`, `${a.b}`, `${a[0].b}` select from the context (vars, params.yaml, foreach's
  `item`/`key`); `\\${` is a literal `${`.
- A value that is exactly one `${...}` keeps the selected value's type (a list for `foreach`,
  a number for a param); inside a longer string the value is turned into text: booleans as
  `true`/`false`, and only in `cmd` a dict becomes `--key value` arguments, as DVC does.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from gitdatax.errors import FatalError

# The (?<!\\) lets `\${` through as a literal, as DVC does.
_EXPRESSION = re.compile(r"(?<!\\)\$\{(?P<inner>[^}]*)\}")
_KEY_PART = re.compile(r"[^.\[\]]+")
PRIMITIVES = (str, int, float, bool)


class InterpolationError(FatalError):
    """A `${...}` that names nothing, or selects a value that cannot go where it stands."""


def split_key(expression: str) -> list[str]:
    """`a.b[0].c` -> ['a', 'b', '0', 'c']; a malformed key raises."""
    text = expression.strip()
    normal = text.replace("[", ".").replace("]", "")
    parts = normal.split(".")
    if not text or any(not part or not _KEY_PART.fullmatch(part) for part in parts):
        raise InterpolationError(f"'${{{expression}}}' is not a valid key (write a.b or a[0].b)")
    return parts


def select(context: Mapping[str, Any], expression: str) -> Any:
    """The value `expression` names in `context`; a missing key raises naming the whole key."""
    value: Any = context
    for part in split_key(expression):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise InterpolationError(f"'${{{expression.strip()}}}' is not defined in vars or params")
    return value


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested keys joined with dots: {'a': {'b': 1}} -> {'a.b': 1}."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def to_text(value: Any, in_cmd: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (str, int, float)):
        return "None" if value is None else str(value)
    if isinstance(value, Mapping) and in_cmd:
        return _as_arguments(value)
    raise InterpolationError(f"cannot put a {type(value).__name__} inside a string")


def _as_arguments(options: Mapping[str, Any]) -> str:
    """A dict in `cmd` becomes command-line options, DVC's convention: booleans are flags,
    lists are one option followed by its values."""
    words: list[str] = []
    for key, value in flatten(options).items():
        if isinstance(value, bool):
            if value:
                words.append(f"--{key}")
        elif isinstance(value, list):
            if any(isinstance(item, (list, Mapping)) for item in value):
                raise InterpolationError(f"cannot put the nested list '{key}' into a command")
            words.append(f"--{key}")
            words.extend(shlex.quote(item) if isinstance(item, str) else str(item) for item in value)
        elif isinstance(value, str):
            words += [f"--{key}", shlex.quote(value)]
        else:
            words += [f"--{key}", str(value)]
    return " ".join(words)


def interpolate_string(template: str, context: Mapping[str, Any], in_cmd: bool = False) -> Any:
    matches = list(_EXPRESSION.finditer(template))
    if not matches:
        return template.replace("\\${", "${")
    if len(matches) == 1 and matches[0].group(0) == template:
        return select(context, matches[0].group("inner"))
    pieces: list[str] = []
    index = 0
    for match in matches:
        pieces.append(template[index:match.start()])
        pieces.append(to_text(select(context, match.group("inner")), in_cmd))
        index = match.end()
    pieces.append(template[index:])
    return "".join(pieces).replace("\\${", "${")


def interpolate(data: Any, context: Mapping[str, Any], in_cmd: bool = False) -> Any:
    """`data` with every string (keys included) interpolated, recursively."""
    if isinstance(data, str):
        return interpolate_string(data, context, in_cmd)
    if isinstance(data, list):
        return [interpolate(item, context, in_cmd) for item in data]
    if isinstance(data, Mapping):
        result = {}
        for key, value in data.items():
            new_key = interpolate_string(key, context) if isinstance(key, str) else key
            if not isinstance(new_key, PRIMITIVES):
                raise InterpolationError(f"the key '{key}' selects a {type(new_key).__name__}")
            result[new_key] = interpolate(value, context, in_cmd or key == "cmd")
        return result
    return data
