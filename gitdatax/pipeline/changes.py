"""Why a stage must run, compared with its entry in datax.lock (DVC's rules, gitdatax's words).

A stage runs when it is new, `always_changed`, has neither deps nor outs, or its cmd, a dep's
content, a listed param's value or an out differs from the lock, or an out is missing. Each
reason is a short phrase for `repro` and `status`: "params train.lr 0.1 -> 0.2", "dep prepare.py
changed".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdatax.errors import FatalError
from gitdatax.pipeline.hashing import FileState, WorkTreeHasher
from gitdatax.pipeline.implicit import ImportScanner
from gitdatax.pipeline.interpolate import flatten
from gitdatax.pipeline.lock import LockEntry, run_key
from gitdatax.pipeline.model import Stage
from gitdatax.pipeline.params_file import is_missing, lookup, parse_params


@dataclass
class Inputs:
    """What a stage reads right now: the run-cache key is made of these."""

    deps: dict[str, FileState] = field(default_factory=dict)
    implicit: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # deps an upstream stage has yet to make

    def key(self, stage: Stage) -> str:
        return run_key(stage.cmd, stage.wdir, {p: s.oid for p, s in self.deps.items()}, self.params)


class Workspace:
    """Per-command caches over the work tree: file identities, parsed params files, imports."""

    def __init__(self, top: Path, hasher: WorkTreeHasher) -> None:
        self.top = top
        self.hasher = hasher
        self.scanner = ImportScanner(top)
        self._params: dict[str, dict[str, Any]] = {}

    def params_file(self, stage: Stage, name: str) -> dict[str, Any]:
        if name not in self._params:
            try:
                data = (self.top / name).read_bytes()
            except FileNotFoundError:
                raise FatalError(f"stage '{stage.name}': params file '{name}' does not exist") from None
            self._params[name] = parse_params(data, name)
        return self._params[name]

    def implicit_deps(self, stage: Stage) -> list[str]:
        if not stage.implicit_deps:
            return []
        listed = set(stage.deps)
        return [path for path in self.scanner.deps_of(stage.cmd, stage.wdir)
                if path not in listed and not any(path.startswith(d + "/") for d in listed)]

    def inputs(self, stage: Stage, pending_ok: bool = False) -> Inputs:
        """Raises for a missing dep or an unknown param key; with `pending_ok` (a dry run, or
        `status`), a missing dep another stage makes is noted instead."""
        found = Inputs()
        for dep in stage.deps:
            state = self.hasher.state(dep)
            if state is None:
                if pending_ok:
                    found.pending.append(dep)
                    continue
                raise FatalError(f"stage '{stage.name}': dep '{dep}' does not exist")
            found.deps[dep] = state
        for dep in self.implicit_deps(stage):
            state = self.hasher.state(dep)
            if state is not None:
                found.deps[dep] = state
                found.implicit.append(dep)
        for ref in stage.params:
            values = self.params_file(stage, ref.file)
            if not ref.keys:
                found.params[ref.file] = flatten(values)
                continue
            chosen = {}
            for key in ref.keys:
                value = lookup(values, key)
                if is_missing(value):
                    raise FatalError(f"stage '{stage.name}': param '{key}' is not in {ref.file}")
                chosen[key] = value
            found.params[ref.file] = chosen
        return found


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def reasons(stage: Stage, entry: LockEntry | None, inputs: Inputs, hasher: WorkTreeHasher) -> list[str]:
    """Why `stage` must run (empty: it is up to date). `frozen` is the caller's business."""
    if stage.always_changed:
        return ["always_changed"]
    if stage.always_runs:
        return ["it has no deps and no outs (such a stage always runs, as in DVC)"]
    if entry is None:
        return ["new: not in datax.lock"]
    found: list[str] = []
    if entry.cmd != stage.cmd:
        found.append("cmd changed")
    for path in inputs.pending:
        found.append(f"dep {path} is still to be made")
    for path, state in inputs.deps.items():
        old = entry.deps.get(path)
        kind = "implicit dep" if path in inputs.implicit else "dep"
        if old is None:
            found.append(f"{kind} {path} added")
        elif old.oid != state.oid:
            found.append(f"{kind} {path} changed")
    for path in entry.deps:
        if path not in inputs.deps and path not in inputs.pending:
            found.append(f"dep {path} removed")
    found += _param_changes(entry.params, inputs.params)
    for out in stage.all_outs():
        state = hasher.state(out.path)
        old = entry.outs.get(out.path)
        if state is None:
            found.append(f"out {out.path} missing")
        elif old is None:
            found.append(f"out {out.path} added")
        elif old.oid != state.oid:
            found.append(f"out {out.path} changed")
    return found


def _param_changes(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    for file in dict.fromkeys([*new, *old]):
        before, after = old.get(file) or {}, new.get(file) or {}
        for key in dict.fromkeys([*after, *before]):
            if key not in before:
                found.append(f"params {key} added ({_show(after[key])})")
            elif key not in after:
                found.append(f"params {key} removed")
            elif before[key] != after[key]:
                found.append(f"params {key} {_show(before[key])} -> {_show(after[key])}")
    return found
