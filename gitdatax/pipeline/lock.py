"""`datax.lock`: what each stage last ran with and made (committed, so a checkout brings it back).

    schema: '2.0'                     # DVC's lock schema version, for familiarity
    stages:
      train:
        cmd: python3 train.py
        deps:
        - {path: train.py, oid: <sha256>, size: 812}
        - {path: lib/util.py, oid: ..., size: 90, implicit: true}   # a module train.py imports
        - {path: data/clips, oid: <sha256 of the listing>, size: 65536000, nfiles: 2000}
        params:
          params.yaml: {train.lr: 0.1}
        outs:
        - {path: models/model.bin, oid: ..., size: 4096}

The run-cache key of a stage (runcache.py) is computed from the same fields, so an entry of any
committed lock is also a run-cache entry.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdatax.errors import FatalError
from gitdatax.pipeline.hashing import FileState
from gitdatax.pipeline.params_file import yaml_safe_load
from gitdatax.files import write_atomically

SCHEMA = "2.0"


@dataclass(frozen=True)
class LockEntry:
    cmd: str | tuple[str, ...]
    deps: dict[str, FileState] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: dict[str, FileState] = field(default_factory=dict)
    implicit: frozenset[str] = frozenset()  # the deps found by reading the stage's Python code
    wdir: str = "."

    def run_key(self) -> str:
        return run_key(self.cmd, self.wdir, {p: s.oid for p, s in self.deps.items()}, self.params)


def run_key(cmd: str | tuple[str, ...], wdir: str, dep_oids: dict[str, str], params: dict[str, dict[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of what decides a run's result (DESIGN: run cache)."""
    record: dict[str, Any] = {"cmd": cmd if isinstance(cmd, str) else list(cmd),
                              "deps": dict(sorted(dep_oids.items())), "params": params}
    if wdir != ".":
        record["wdir"] = wdir
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _state(item: Any, where: str) -> tuple[str, FileState, bool]:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(item.get("oid"), str):
        raise FatalError(f"{where}: each dep and out needs path and oid")
    nfiles = item.get("nfiles")
    return item["path"], FileState(item["oid"], int(item.get("size") or 0), int(nfiles) if nfiles is not None else None), \
        bool(item.get("implicit"))


def parse_lock(text: bytes, filename: str) -> dict[str, LockEntry]:
    data = yaml_safe_load(text, filename)
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("stages", {}), dict):
        raise FatalError(f"{filename}: not a lock file (expected 'schema' and 'stages'); delete it and run repro")
    entries = {}
    for name, raw in (data.get("stages") or {}).items():
        where = f"{filename}: stage '{name}'"
        if not isinstance(raw, dict) or "cmd" not in raw:
            raise FatalError(f"{where}: 'cmd' is missing")
        deps: dict[str, FileState] = {}
        implicit = set()
        for item in raw.get("deps") or []:
            path, state, is_implicit = _state(item, where)
            deps[path] = state
            if is_implicit:
                implicit.add(path)
        outs = {}
        for item in raw.get("outs") or []:
            path, state, _ = _state(item, where)
            outs[path] = state
        cmd = raw["cmd"]
        entries[name] = LockEntry(cmd=tuple(cmd) if isinstance(cmd, list) else str(cmd), deps=deps,
                                  params=raw.get("params") or {}, outs=outs, implicit=frozenset(implicit),
                                  wdir=raw.get("wdir", "."))
    return entries


def read_lock(top: Path, name: str) -> dict[str, LockEntry]:
    try:
        text = (top / name).read_bytes()
    except FileNotFoundError:
        return {}
    return parse_lock(text, name)


def _file_item(path: str, state: FileState, implicit: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"path": path, "oid": state.oid, "size": state.size}
    if state.nfiles is not None:
        item["nfiles"] = state.nfiles
    if implicit:
        item["implicit"] = True
    return item


def _record(entry: LockEntry) -> dict[str, Any]:
    record: dict[str, Any] = {"cmd": entry.cmd if isinstance(entry.cmd, str) else list(entry.cmd)}
    if entry.wdir != ".":
        record["wdir"] = entry.wdir
    if entry.deps:
        record["deps"] = [_file_item(p, s, p in entry.implicit) for p, s in entry.deps.items()]
    if entry.params:
        record["params"] = entry.params
    if entry.outs:
        record["outs"] = [_file_item(p, s) for p, s in entry.outs.items()]
    return record


def render_stage(name: str, entry: LockEntry) -> str:
    """One stage's block of the lock, indented under `stages:`."""
    import yaml  # lazy

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump({name: _record(entry)}, Dumper=dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1000)
    return "".join("  " + line + "\n" for line in text.splitlines())


class LockWriter:
    """Writes the whole lock after each stage, rendering only the stages that changed (a run
    of 100 stages would otherwise dump the lock 100 times over)."""

    def __init__(self, top: Path, name: str) -> None:
        self.path = top / name
        self._texts: dict[str, tuple[LockEntry, str]] = {}

    def write(self, entries: dict[str, LockEntry]) -> None:
        blocks = []
        for name, entry in entries.items():
            known = self._texts.get(name)
            if known is None or known[0] is not entry:
                known = (entry, render_stage(name, entry))
                self._texts[name] = known
            blocks.append(known[1])
        body = f"schema: '{SCHEMA}'\nstages:\n" + "".join(blocks) if blocks else f"schema: '{SCHEMA}'\nstages: {{}}\n"
        write_atomically(self.path, body)  # a crash leaves the old lock or the new one, never half

