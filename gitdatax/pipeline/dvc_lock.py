"""Taking over a DVC project's `dvc.lock`: a stage DVC already ran need not run again.

gitdatax records SHA-256 oids in its own `datax.lock` and leaves `dvc.lock` to DVC. The first
time `repro` meets a stage of a `dvc.yaml` that `datax.lock` does not know, it checks the stage
against DVC's entry: same cmd, same params' values, and every dep and out with the MD5 DVC
recorded (DVC 3's `hash: md5`: the MD5 of a file's bytes; a folder's is the MD5 of the JSON list
of its files' `{"md5", "relpath"}`, sorted, plus `.dir`). When everything matches, the stage is
recorded in `datax.lock` without running. This costs one read of those files, once; anything
that does not match (or an entry of DVC 2, whose text-file MD5s were taken after a CRLF
conversion) simply means the stage runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
from pathlib import Path
from typing import Any

from gitdatax.pipeline.model import DVC_FILE, DVC_LOCK_FILE, Pipeline, Stage
from gitdatax.pipeline.params_file import yaml_safe_load

CHUNK = 1 << 20


def read_dvc_lock(top: Path) -> dict[str, Any]:
    try:
        data = yaml_safe_load((top / DVC_LOCK_FILE).read_bytes(), DVC_LOCK_FILE)
    except (OSError, Exception):  # noqa: BLE001 - an unreadable dvc.lock is no reason to stop
        return {}
    stages = data.get("stages") if isinstance(data, dict) else None
    return stages if isinstance(stages, dict) else {}


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - DVC's content id, compared, never trusted for safety
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _md5_dir(path: Path) -> str:
    entries = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            full = Path(root) / name
            entries.append({"md5": _md5_file(full), "relpath": full.relative_to(path).as_posix()})
    entries.sort(key=lambda e: e["relpath"])
    text = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(text).hexdigest() + ".dir"  # noqa: S324


def _matches(top: Path, wdir: str, items: Any, expected_paths: set[str]) -> bool:
    if not isinstance(items, list):
        return not expected_paths
    seen = set()
    for item in items:
        if not isinstance(item, dict) or item.get("hash") != "md5" or not isinstance(item.get("md5"), str):
            return False
        path = posixpath.normpath(posixpath.join(wdir, str(item.get("path"))))
        full = top / path
        if not full.exists():
            return False
        now = _md5_dir(full) if full.is_dir() else _md5_file(full)
        if now != item["md5"]:
            return False
        seen.add(path)
    return seen == expected_paths


def dvc_ran_it(top: Path, stage: Stage, entry: Any, params: dict[str, dict[str, Any]]) -> bool:
    """Whether DVC's lock entry shows this stage run with exactly today's inputs and outs."""
    if not isinstance(entry, dict):
        return False
    cmd = entry.get("cmd")
    if (tuple(cmd) if isinstance(cmd, list) else cmd) != stage.cmd:
        return False
    theirs = {posixpath.normpath(posixpath.join(stage.wdir, f)): v for f, v in (entry.get("params") or {}).items()}
    if theirs != params:
        return False
    return (_matches(top, stage.wdir, entry.get("deps"), set(stage.deps))
            and _matches(top, stage.wdir, entry.get("outs"), {o.path for o in stage.all_outs()}))


def dvc_records_it(top: Path, pipeline: Pipeline, stage: Stage, in_datax_lock: bool,
                   params: dict[str, dict[str, Any]], dvc_stages: dict[str, Any]) -> bool:
    """Whether `repro` takes this stage over from DVC's lock instead of running it: a stage of a
    `dvc.yaml` that datax.lock does not know yet and that DVC ran with today's inputs. `status`
    asks the same question, so that it says what `repro` will do."""
    if pipeline.path != DVC_FILE or in_datax_lock or stage.always_runs:
        return False
    return dvc_ran_it(top, stage, dvc_stages.get(stage.name), params)
