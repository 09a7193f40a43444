"""Reading params and vars files (YAML, JSON, TOML, Python by extension, as DVC) and their values.

Shared by the pipeline file's `vars`, the lock's params and the metrics helper's `params diff`.
"""
from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from typing import Any

from gitdatax.errors import FatalError

DEFAULT_PARAMS = "params.yaml"
_MISSING = object()


def yaml_safe_load(text: bytes | str, filename: str) -> Any:
    """PyYAML's safe loader (the C one when built): one line naming the file and line on error."""
    import yaml  # lazy: the filter and hooks never need it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise FatalError(f"{filename}{_yaml_where(exc)}: invalid YAML: {_yaml_problem(exc)}") from None


def _yaml_where(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f":{mark.line + 1}" if mark is not None else ""


def _yaml_problem(exc: Exception) -> str:
    return str(getattr(exc, "problem", None) or exc).splitlines()[0]


def parse_params(data: bytes, filename: str) -> dict[str, Any]:
    """A params file's contents as a dict; the format follows the extension (YAML otherwise)."""
    ext = posixpath.splitext(filename)[1].lower()
    if ext == ".json":
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FatalError(f"{filename}: invalid JSON: {exc}") from None
    elif ext == ".toml":
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            value = tomllib.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise FatalError(f"{filename}: invalid TOML: {exc}") from None
    elif ext == ".py":
        from gitdatax.pipeline.params_py import parse_python_params  # parsed, never run

        value = parse_python_params(data, filename)
    else:
        value = yaml_safe_load(data, filename)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FatalError(f"{filename}: a params file must hold a mapping of names to values")
    return dict(value)


def lookup(params: Mapping[str, Any], key: str) -> Any:
    """The value of a dotted key (`train.lr`), or _MISSING. A literal key holding dots wins,
    as in DVC, so `{'a.b': 1}` answers `a.b` too."""
    if key in params:
        return params[key]
    value: Any = params
    for part in key.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def is_missing(value: object) -> bool:
    return value is _MISSING
