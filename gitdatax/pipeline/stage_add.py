"""`stage add`: a stage written into datax.yaml (dvc.yaml when that is the project's file).

The file is edited as text, so the user's comments and layout stay: the new stage is inserted
at the end of the `stages:` block (or replaces the stage of that name with `-f`), then the file
is parsed again; if the edit cannot be placed safely (a flow-style `stages: {...}`) the file is
written back whole by the YAML library instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdatax.errors import FatalError
from gitdatax.pipeline import outputs
from gitdatax.pipeline.model import DATAX_FILE, Out, Stage
from gitdatax.pipeline.spec import find_pipeline_file, parse_pipeline
from gitdatax.files import write_atomically

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass
class StageRequest:
    name: str
    cmd: str
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    outs_no_cache: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)  # "[FILE:]KEY[,KEY...]"
    metrics: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    wdir: str | None = None
    always_changed: bool = False
    force: bool = False

    def definition(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"cmd": self.cmd}
        if self.wdir and self.wdir != ".":
            entry["wdir"] = self.wdir
        if self.deps:
            entry["deps"] = list(self.deps)
        params = _params(self.params)
        if params:
            entry["params"] = params
        outs: list[Any] = list(self.outs) + [{path: {"cache": False}} for path in self.outs_no_cache]
        if outs:
            entry["outs"] = outs
        if self.metrics:
            entry["metrics"] = list(self.metrics)
        if self.plots:
            entry["plots"] = list(self.plots)
        if self.always_changed:
            entry["always_changed"] = True
        return entry


def _params(specs: list[str]) -> list[Any]:
    """`-p lr,epochs -p conf.json:batch` -> [lr, epochs, {conf.json: [batch]}], DVC's form."""
    plain: list[Any] = []
    by_file: dict[str, list[str]] = {}
    for spec in specs:
        file, sep, keys = spec.rpartition(":")
        names = [k for k in keys.split(",") if k]
        if not sep:
            plain += names
        else:
            by_file.setdefault(file, []).extend(names)
    return plain + [{file: keys} for file, keys in by_file.items()]


def _read_file(top: Path):  # type: ignore[no-untyped-def]
    def read(rel: str) -> bytes | None:
        try:
            return (top / rel).read_bytes()
        except OSError:
            return None
    return read


def add_stage(top: Path, request: StageRequest) -> tuple[Path, Stage]:
    if not _NAME.match(request.name):
        raise FatalError(f"invalid stage name '{request.name}': letters, digits, '.', '_' and '-'")
    if not request.cmd.strip():
        raise FatalError("stage add needs the command to run after the options")
    path = find_pipeline_file(top) or top / DATAX_FILE
    text = path.read_text("utf-8") if path.exists() else ""
    pipeline = parse_pipeline(text.encode(), path.name, _read_file(top)) if text.strip() else None
    exists = pipeline is not None and request.name in pipeline.stages
    if exists and not request.force:
        raise FatalError(f"stage '{request.name}' already exists in {path.name}: -f replaces it")
    produced = {o.path: s.name for s in (pipeline.stages.values() if pipeline else ()) for o in s.all_outs()
                if s.name != request.name}
    new_text = _edit(text, request.name, request.definition(), path.name)
    check = parse_pipeline(new_text.encode(), path.name, _read_file(top))
    stage = check.stages[request.name]
    for out in stage.all_outs():
        if out.path in produced:
            raise FatalError(f"'{out.path}' is already an out of stage '{produced[out.path]}'")
    write_atomically(path, new_text)
    outputs.track_outs(top, [(out, (top / out.path).is_dir() or _says_dir(out)) for out in stage.outs])
    return path, stage


def _says_dir(out: Out) -> bool:
    return out.path.endswith("/")


def _render(name: str, definition: dict[str, Any]) -> str:
    import yaml  # lazy

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump({name: definition}, Dumper=dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1000)
    return "".join("  " + line + "\n" for line in body.splitlines())


def _edit(text: str, name: str, definition: dict[str, Any], filename: str) -> str:
    block = _render(name, definition)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^stages:\s*(#.*)?$", line)), None)
    if start is None:
        if re.search(r"^stages:", text, re.M):  # flow style: rewrite the whole file
            return _rewrite(text, name, definition, filename)
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return prefix + "stages:\n" + block
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep blank lines before the next top-level key where they were
    own = next((i for i in range(start + 1, end) if re.match(rf"^  {re.escape(name)}:\s*(#.*)?$", lines[i])), None)
    if own is not None:
        stop = own + 1
        while stop < end and (not lines[stop].strip() or lines[stop].startswith("   ")):
            stop += 1
        return "".join(lines[:own]) + block + "".join(lines[stop:])
    tail = "".join(lines[end:])
    head = "".join(lines[:end])
    if head and not head.endswith("\n"):
        head += "\n"
    return head + block + tail


def _rewrite(text: str, name: str, definition: dict[str, Any], filename: str) -> str:
    import yaml  # lazy

    from gitdatax.pipeline.params_file import yaml_safe_load

    data = yaml_safe_load(text, filename) or {}
    data.setdefault("stages", {})[name] = definition
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
