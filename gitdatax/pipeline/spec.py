"""Reading `datax.yaml` (DVC's `dvc.yaml` schema) into a Pipeline.

`load_pipeline(top)` reads the work tree's file; `parse_pipeline(text, filename, read_file)`
reads one at any revision (the metrics helper calls it per commit, with a `read_file` that
reads vars and params files at that commit). Every mistake is one FatalError line naming the
file and, where YAML tells it, the line.

Order of resolution follows DVC: the context is `params.yaml` (when present) plus the top-level
`vars`; per stage, `wdir` is resolved first, then the stage's own `vars` (relative to wdir),
then every other field; `foreach`/`matrix` expand a definition into `name@key` stages.
"""
from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gitdatax.errors import FatalError
from gitdatax.pipeline import interpolate as interp
from gitdatax.pipeline.model import (
    DATAX_FILE,
    DVC_FILE,
    Artifact,
    Out,
    ParamRef,
    Pipeline,
    PlotSpec,
    Stage,
)
from gitdatax.pipeline.params_file import DEFAULT_PARAMS, parse_params, yaml_safe_load
from gitdatax.pipeline.yaml_lines import LineMap, load_with_lines

ReadFile = Callable[[str], "bytes | None"]

TOP_KEYS = {"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"}
STAGE_KEYS = {"cmd", "wdir", "deps", "outs", "params", "metrics", "plots", "frozen",
              "always_changed", "meta", "desc", "vars", "implicit_deps"}
OUT_OPTIONS = {"cache", "persist", "push", "remote", "desc", "type", "labels", "meta", "checkpoint"}
PLOT_OPTIONS = OUT_OPTIONS | {"x", "y", "template", "title", "x_label", "y_label", "header"}
_BAD_NAME_CHARS = set("@:/\\ ${}")


def find_pipeline_file(top: Path) -> Path | None:
    for name in (DATAX_FILE, DVC_FILE):
        candidate = top / name
        if candidate.is_file():
            return candidate
    return None


def load_pipeline(top: Path) -> Pipeline | None:
    """The work tree's pipeline: datax.yaml, else dvc.yaml; None when neither exists."""
    path = find_pipeline_file(Path(top))
    if path is None:
        return None

    def read_file(rel: str) -> bytes | None:
        try:
            return (Path(top) / rel).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    return parse_pipeline(path.read_bytes(), path.name, read_file)


def parse_pipeline(text: bytes, filename: str, read_file: ReadFile) -> Pipeline:
    raw, lines = load_with_lines(text, filename)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise FatalError(f"{filename}:1: a pipeline file must be a mapping (stages:, vars:, ...)")
    return _Parser(filename, lines, read_file).parse(raw)


class _Parser:
    def __init__(self, filename: str, lines: LineMap, read_file: ReadFile) -> None:
        self.filename = filename
        self.lines = lines
        self.read_file = read_file

    def fail(self, node: object, message: str) -> FatalError:
        line = self.lines.line_of(node)
        where = f"{self.filename}:{line}" if line else self.filename
        return FatalError(f"{where}: {message}")

    def parse(self, raw: Mapping[str, Any]) -> Pipeline:
        for key in raw:
            if key not in TOP_KEYS:
                raise self.fail(raw, f"unknown key '{key}' (expected one of {', '.join(sorted(TOP_KEYS))})")
        context: dict[str, Any] = {}
        default = self.read_file(DEFAULT_PARAMS)
        if default is not None:
            context.update(parse_params(default, DEFAULT_PARAMS))
        self.merge_vars(context, raw.get("vars"), ".", raw, DEFAULT_PARAMS if default is not None else None)
        stages_raw = raw.get("stages") or {}
        if not isinstance(stages_raw, Mapping):
            raise self.fail(stages_raw, "'stages' must be a mapping of stage names to definitions")
        stages: dict[str, Stage] = {}
        for name, definition in stages_raw.items():
            if not isinstance(name, str) or not name or _BAD_NAME_CHARS & set(name):
                raise self.fail(definition, f"invalid stage name '{name}' (letters, digits, '-', '_', '.')")
            for stage in self.expand(name, definition, context):
                stages[stage.name] = stage
        try:
            top_metrics = self.path_list(interp.interpolate(raw.get("metrics") or [], context), ".", "metrics")
            top_params = self.path_list(interp.interpolate(raw.get("params") or [], context), ".", "params")
            plots = self.top_plots(interp.interpolate(raw.get("plots") or [], context))
            artifacts = self.artifacts(interp.interpolate(raw.get("artifacts") or {}, context))
        except FatalError as exc:
            raise self.fail(raw, str(exc)) from None
        return Pipeline(self.filename, stages, top_metrics, top_params, plots, artifacts)

    # -- vars and context ------------------------------------------------------------------
    def merge_vars(self, context: dict[str, Any], entries: Any, wdir: str, node: object,
                   already: str | None = None) -> None:
        if entries is None:
            return
        if not isinstance(entries, list):
            raise self.fail(node, "'vars' must be a list of files or mappings")
        loaded = {already} if already else set()
        for entry in entries:
            if isinstance(entry, Mapping):
                self.merge_into(context, dict(entry), "vars", node)
                continue
            if not isinstance(entry, str):
                raise self.fail(node, f"'vars' entry {entry!r} is neither a file nor a mapping")
            name, _, keys = entry.partition(":")
            path = self.normal_path(interp.interpolate(name, context), wdir, "vars")
            if path in loaded and not keys:
                continue  # params.yaml is in the context already, as in DVC
            data = self.read_file(path)
            if data is None:
                raise self.fail(node, f"vars file '{path}' does not exist")
            values = parse_params(data, path)
            if keys:
                values = {key: values[key] for key in keys.split(",") if key in values}
            self.merge_into(context, values, path, node)
            loaded.add(path)

    def merge_into(self, context: dict[str, Any], values: Mapping[str, Any], source: str, node: object) -> None:
        for key, value in values.items():
            if key in context and context[key] != value:
                raise self.fail(node, f"'{key}' is defined twice, the second time in {source}")
            context[key] = value

    # -- stages ----------------------------------------------------------------------------
    def expand(self, name: str, definition: Any, context: dict[str, Any]) -> list[Stage]:
        if not isinstance(definition, Mapping):
            raise self.fail(definition, f"stage '{name}' must be a mapping (cmd:, deps:, outs: ...)")
        try:
            if "foreach" in definition or "do" in definition:
                return self.expand_foreach(name, definition, context)
            if "matrix" in definition:
                return self.expand_matrix(name, definition, context)
            return [self.stage(name, definition, dict(context), self.lines.line_of(definition))]
        except FatalError as exc:
            message = str(exc)
            if message.startswith(self.filename):
                raise
            raise self.fail(definition, f"stage '{name}': {message}") from None

    def expand_foreach(self, name: str, definition: Mapping[str, Any], context: dict[str, Any]) -> list[Stage]:
        if set(definition) != {"foreach", "do"}:
            raise FatalError("'foreach' needs 'do' and nothing else beside it")
        iterable = interp.interpolate(definition["foreach"], context)
        body = definition["do"]
        if not isinstance(body, Mapping):
            raise FatalError("'do' must be a stage definition")
        if isinstance(iterable, Mapping):
            items = [(interp.to_text(key, False), {"item": value, "key": key}) for key, value in iterable.items()]
        elif isinstance(iterable, list):
            composite = any(isinstance(value, (list, Mapping)) for value in iterable)
            items = [(str(index) if composite else interp.to_text(value, False), {"item": value})
                     for index, value in enumerate(iterable)]
        else:
            raise FatalError("'foreach' must be a list or a mapping (or ${...} naming one)")
        line = self.lines.line_of(definition)
        return [self.stage(f"{name}@{key}", body, {**context, **extra}, line) for key, extra in items]

    def expand_matrix(self, name: str, definition: Mapping[str, Any], context: dict[str, Any]) -> list[Stage]:
        matrix = definition["matrix"]
        if not isinstance(matrix, Mapping) or not matrix:
            raise FatalError("'matrix' must map each axis to a list of values")
        axes: dict[str, list[Any]] = {}
        for axis, values in matrix.items():
            values = interp.interpolate(values, context)
            if not isinstance(values, list):
                raise FatalError(f"matrix axis '{axis}' must be a list")
            axes[axis] = values
        body = {key: value for key, value in definition.items() if key != "matrix"}
        stages = []
        for combination in itertools.product(*(list(enumerate(v)) for v in axes.values())):
            item = {axis: value for axis, (_, value) in zip(axes, combination)}
            key = "-".join(f"{axis}{index}" if isinstance(value, (list, Mapping)) else interp.to_text(value, False)
                           for axis, (index, value) in zip(axes, combination))
            stages.append(self.stage(f"{name}@{key}", body, {**context, "item": item, "key": key},
                                     self.lines.line_of(definition)))
        return stages

    def stage(self, name: str, raw: Mapping[str, Any], context: dict[str, Any], line: int) -> Stage:
        for key in raw:
            if key not in STAGE_KEYS:
                raise FatalError(f"unknown key '{key}' (expected one of {', '.join(sorted(STAGE_KEYS))})")
        if "cmd" not in raw:
            raise FatalError("'cmd' is required")
        wdir = self.normal_path(interp.interpolate(raw.get("wdir", "."), context), ".", "wdir") if raw.get("wdir") else "."
        self.merge_vars(context, raw.get("vars"), wdir, raw)
        fields = interp.interpolate({k: v for k, v in raw.items() if k not in ("vars", "wdir")}, context)
        cmd = fields["cmd"]
        if isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd):
            cmd = tuple(cmd)
        elif not isinstance(cmd, str) or not cmd.strip():
            raise FatalError("'cmd' must be a command or a list of commands")
        plots = self.stage_plots(fields.get("plots"), wdir)
        return Stage(
            name=name,
            cmd=cmd,
            wdir=wdir,
            deps=self.path_list(fields.get("deps"), wdir, "deps"),
            outs=self.outs(fields.get("outs"), wdir, "outs", default_cache=True),
            params=self.param_refs(fields.get("params"), wdir),
            metrics=self.outs(fields.get("metrics"), wdir, "metrics", default_cache=False),
            plots=tuple(spec for spec, _ in plots),
            plot_outs=tuple(out for _, out in plots),
            frozen=self.flag(fields, "frozen"),
            always_changed=self.flag(fields, "always_changed"),
            implicit_deps=self.flag(fields, "implicit_deps", True),
            desc=fields.get("desc"),
            meta=fields.get("meta"),
            line=line,
        )

    @staticmethod
    def flag(fields: Mapping[str, Any], key: str, default: bool = False) -> bool:
        value = fields.get(key, default)
        if not isinstance(value, bool):
            raise FatalError(f"'{key}' must be true or false")
        return value

    # -- fields ----------------------------------------------------------------------------
    def normal_path(self, value: Any, wdir: str, what: str) -> str:
        """`value` relative to the top; refuses what is not a path inside the work tree."""
        if not isinstance(value, str) or not value.strip():
            raise FatalError(f"'{what}' entry {value!r} is not a path")
        if "://" in value:
            raise FatalError(f"'{what}' entry '{value}': URLs are not supported, only paths in the work tree")
        if value.startswith("/") or (len(value) > 1 and value[1] == ":"):
            raise FatalError(f"'{what}' entry '{value}' must be relative to the pipeline file")
        path = posixpath.normpath(posixpath.join(wdir, value.replace("\\", "/")))
        if path == ".." or path.startswith("../"):
            raise FatalError(f"'{what}' entry '{value}' is outside the work tree")
        return path

    def path_list(self, value: Any, wdir: str, what: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise FatalError(f"'{what}' must be a list of paths")
        return tuple(dict.fromkeys(self.normal_path(item, wdir, what) for item in value))

    def outs(self, value: Any, wdir: str, what: str, default_cache: bool) -> tuple[Out, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise FatalError(f"'{what}' must be a list")
        result = []
        for item in value:
            path, options = self.entry_with_options(item, what, OUT_OPTIONS)
            result.append(Out(
                path=self.normal_path(path, wdir, what),
                cache=self.option(options, "cache", bool, default_cache),
                persist=self.option(options, "persist", bool, False),
                push=self.option(options, "push", bool, True),
                remote=self.option(options, "remote", str, None),
                desc=self.option(options, "desc", str, None),
            ))
        return tuple(result)

    def entry_with_options(self, item: Any, what: str, allowed: set[str]) -> tuple[Any, dict[str, Any]]:
        if isinstance(item, str):
            return item, {}
        if isinstance(item, Mapping) and len(item) == 1:
            path, options = next(iter(item.items()))
            options = options or {}
            if isinstance(options, list):  # DVC lets a plot carry a list of definitions
                options = options[0] if options and isinstance(options[0], Mapping) else {}
            if not isinstance(options, Mapping):
                raise FatalError(f"'{what}' entry '{path}': options must be a mapping")
            for key in options:
                if key not in allowed:
                    raise FatalError(f"'{what}' entry '{path}': unknown option '{key}'")
            return path, dict(options)
        raise FatalError(f"'{what}' entries are paths, or {{path: {{options}}}}")

    @staticmethod
    def option(options: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
        value = options.get(key, default)
        if value is not None and not isinstance(value, kind):
            raise FatalError(f"option '{key}' must be a {'boolean' if kind is bool else 'string'}")
        return value

    def param_refs(self, value: Any, wdir: str) -> tuple[ParamRef, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise FatalError("'params' must be a list of keys or {file: [keys]}")
        default_file = posixpath.normpath(posixpath.join(wdir, DEFAULT_PARAMS))
        grouped: dict[str, list[str]] = {}
        for item in value:
            if isinstance(item, str):
                grouped.setdefault(default_file, []).append(item)
            elif isinstance(item, Mapping):
                for file, keys in item.items():
                    path = self.normal_path(file, wdir, "params")
                    if keys is None or keys == []:
                        grouped[path] = grouped.get(path, [])  # the whole file
                        continue
                    if isinstance(keys, str):
                        keys = [keys]
                    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                        raise FatalError(f"'params' entry '{file}': keys must be a list of names")
                    grouped.setdefault(path, []).extend(keys)
            else:
                raise FatalError(f"'params' entry {item!r} is neither a key nor {{file: [keys]}}")
        return tuple(ParamRef(file, tuple(dict.fromkeys(keys))) for file, keys in grouped.items())

    def stage_plots(self, value: Any, wdir: str) -> list[tuple[PlotSpec, Out]]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise FatalError("'plots' must be a list")
        result = []
        for item in value:
            path, options = self.entry_with_options(item, "plots", PLOT_OPTIONS)
            path = self.normal_path(path, wdir, "plots")
            spec = self.plot_spec(path, options)
            result.append((spec, Out(path, cache=self.option(options, "cache", bool, False),
                                     persist=self.option(options, "persist", bool, False))))
        return result

    def plot_spec(self, path: str, options: Mapping[str, Any], name: str | None = None, x: Any = None,
                  y: Any = None) -> PlotSpec:
        x = options.get("x") if x is None else x
        y = options.get("y") if y is None else y
        ys = (y,) if isinstance(y, str) else tuple(y or ())
        if not all(isinstance(col, str) for col in ys) or (x is not None and not isinstance(x, str)):
            raise FatalError(f"plot '{name or path}': x and y must name columns")
        return PlotSpec(path=path, x=x, y=ys, template=self.option(options, "template", str, None),
                        title=self.option(options, "title", str, None),
                        x_label=self.option(options, "x_label", str, None),
                        y_label=self.option(options, "y_label", str, None), name=name)

    def top_plots(self, value: Any) -> tuple[PlotSpec, ...]:
        if not isinstance(value, list):
            raise FatalError("'plots' must be a list")
        specs: list[PlotSpec] = []
        for item in value:
            if isinstance(item, str):
                specs.append(PlotSpec(self.normal_path(item, ".", "plots")))
                continue
            if not isinstance(item, Mapping) or len(item) != 1:
                raise FatalError("top-level 'plots' entries are paths or {id: {x:, y:, ...}}")
            plot_id, options = next(iter(item.items()))
            options = options or {}
            if not isinstance(options, Mapping):
                raise FatalError(f"plot '{plot_id}': its definition must be a mapping")
            y = options.get("y")
            if isinstance(y, Mapping):  # y: {file: columns}: one plot drawing from several files
                x = options.get("x")
                for file, columns in y.items():
                    file_x = x.get(file) if isinstance(x, Mapping) else x
                    specs.append(self.plot_spec(self.normal_path(file, ".", "plots"), options,
                                                name=plot_id, x=file_x, y=columns))
            else:
                specs.append(self.plot_spec(self.normal_path(plot_id, ".", "plots"), options))
        return tuple(specs)

    def artifacts(self, value: Any) -> dict[str, Artifact]:
        if not isinstance(value, Mapping):
            raise FatalError("'artifacts' must map names to {path:, type:, desc:}")
        result = {}
        for name, entry in value.items():
            if not isinstance(entry, Mapping) or "path" not in entry:
                raise FatalError(f"artifact '{name}' needs a 'path'")
            labels = entry.get("labels") or []
            result[name] = Artifact(name, self.normal_path(entry["path"], ".", "artifacts"),
                                    type=entry.get("type"), desc=entry.get("desc"),
                                    labels=tuple(str(label) for label in labels))
        return result


def yaml_load(text: bytes, filename: str) -> Any:
    """Plain YAML, for callers that need no line numbers (the lock file)."""
    return yaml_safe_load(text, filename)
