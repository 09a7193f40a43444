"""YAML with the line each mapping and list starts on, so a schema error can name its line.

PyYAML (already a dependency of the project's tooling, pure and C-accelerated, safe loader) is
used rather than ruamel.yaml: the pipeline file is only read, never rewritten in place, so
ruamel's round-trip comments are not needed, and PyYAML's C loader reads a 100-stage file in a
few milliseconds. `stage add` writes the file back with PyYAML's safe dumper.
"""
from __future__ import annotations

from typing import Any

from gitdatax.errors import FatalError
from gitdatax.pipeline.params_file import _yaml_problem, _yaml_where


class LineMap:
    """Line numbers (1-based) of the mappings and lists of one loaded document, by identity."""

    def __init__(self, lines: dict[int, int], keep: list[Any]) -> None:
        self._lines = lines
        self._keep = keep  # the loaded objects stay alive, so their ids stay theirs

    def line_of(self, node: object) -> int:
        return self._lines.get(id(node), 0)


def load_with_lines(text: bytes | str, filename: str) -> tuple[Any, LineMap]:
    import yaml  # lazy: the filter and hooks never need it

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    lines: dict[int, int] = {}
    keep: list[Any] = []

    def mapping(loader: Any, node: Any) -> Any:
        data: dict[Any, Any] = {}
        lines[id(data)] = node.start_mark.line + 1
        keep.append(data)
        yield data
        data.update(loader.construct_mapping(node))

    def sequence(loader: Any, node: Any) -> Any:
        data: list[Any] = []
        lines[id(data)] = node.start_mark.line + 1
        keep.append(data)
        yield data
        data.extend(loader.construct_sequence(node))

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
    loader = Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise FatalError(f"{filename}{_yaml_where(exc)}: invalid YAML: {_yaml_problem(exc)}") from None
    except TypeError as exc:  # an unhashable key ({[a]: b}): PyYAML lets it through as TypeError
        raise FatalError(f"{filename}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, LineMap(lines, keep)
