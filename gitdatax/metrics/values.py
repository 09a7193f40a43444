"""Metrics and params values: parsing a file into flat `key -> value` pairs, and showing values.

Files are JSON, YAML or TOML by extension (the pipeline's params reader does the parsing, so a
params file reads the same here as in `repro`); nested keys are joined with dots, as DVC shows
them (`train.lr`). Only int and float count as numbers: JSON's true is a flag, not 1.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from gitdatax.errors import FatalError

DEFAULT_PRECISION = 5  # digits after the point in tables, as DVC rounds


class Malformed(Exception):
    """The file exists but holds no metrics we can read (its parse error, in one line)."""


def parse_flat(data: bytes, path: str) -> dict[str, Any]:
    """`key -> value` of a metrics or params file, nested mappings flattened with dots."""
    from gitdatax.pipeline.params_file import parse_params

    try:
        parsed = parse_params(data, path)
    except FatalError as exc:
        raise Malformed(str(exc).removeprefix(f"{path}: ")) from None
    return flatten(parsed)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def difference(old: object, new: object) -> float | int | None:
    """new - old when both are numbers (DVC's `diff`), else None."""
    if is_number(old) and is_number(new):
        return new - old  # type: ignore[operator]
    return None


def show(value: object, precision: int = DEFAULT_PRECISION) -> str:
    """A value as a cell shows it: numbers rounded to `precision` digits after the point."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return _float_text(round(value, precision))
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _float_text(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") and "e" not in text else text


def signed(value: float | int, precision: int = DEFAULT_PRECISION) -> str:
    """A difference with its sign, so a drop reads as one (`-0.02`, `+0.05`)."""
    text = show(value, precision)
    return text if text.startswith("-") or text == "0" else f"+{text}"
