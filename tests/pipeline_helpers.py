"""A small two-stage project (prepare -> train) for the pipeline tests.

Each script appends its name to runs.log (ignored by git, not an out), so a test can tell a run
from a restore by counting lines instead of trusting what repro says about itself.
"""
from __future__ import annotations

from pathlib import Path

from helpers import datax, write

PREPARE = """\
import os
os.makedirs("data", exist_ok=True)
open("runs.log", "a").write("prepare\\n")
rows = open("data/raw.csv").read().splitlines()
open("data/clean.csv", "w").write("\\n".join(r.upper() for r in rows) + "\\n")
"""

TRAIN = """\
import json, os
from lib.util import weight
open("runs.log", "a").write("train\\n")
params = dict(line.split(": ") for line in open("params.yaml").read().split("\\n")[1:] if line)
lr = float(params["  lr"])
os.makedirs("models", exist_ok=True)
data = open("data/clean.csv").read()
open("models/model.bin", "wb").write(("model lr=%s w=%s\\n" % (lr, weight())).encode() + data.encode() * 50)
json.dump({"loss": round(1 - lr, 3)}, open("metrics.json", "w"))
"""


PIPELINE = b"""\
stages:
  prepare:
    cmd: python3 prepare.py
    deps:
    - prepare.py
    - data/raw.csv
    outs:
    - data/clean.csv
  train:
    cmd: python3 train.py
    deps:
    - train.py
    - data/clean.csv
    params:
    - train.lr
    outs:
    - models/model.bin
    metrics:
    - metrics.json
"""


def make_project(repo: Path, lr: str = "0.1", stage_add: bool = False) -> None:
    """The project; with `stage_add` its datax.yaml is written by `git datax stage add`, else
    as the same text directly (two processes fewer per test)."""
    write(repo / "params.yaml", f"train:\n  lr: {lr}\n".encode())
    write(repo / "data/raw.csv", b"a,b\n1,2\n3,4\n")
    write(repo / "prepare.py", PREPARE.encode())
    write(repo / "train.py", TRAIN.encode())
    write(repo / "lib/__init__.py", b"")
    write(repo / "lib/util.py", b"def weight():\n    return 7\n")
    write(repo / ".gitignore", b"runs.log\n")
    if not stage_add:
        write(repo / "datax.yaml", PIPELINE)
        return
    added = datax("stage", "add", "-n", "prepare", "-d", "prepare.py", "-d", "data/raw.csv", "-o", "data/clean.csv",
                  "python3 prepare.py", cwd=repo)
    assert added.returncode == 0, added.stderr
    added = datax("stage", "add", "-n", "train", "-d", "train.py", "-d", "data/clean.csv", "-p", "train.lr",
                  "-o", "models/model.bin", "-M", "metrics.json", "python3", "train.py", cwd=repo)
    assert added.returncode == 0, added.stderr


def runs(repo: Path) -> list[str]:
    try:
        return (repo / "runs.log").read_text().split()
    except FileNotFoundError:
        return []


def set_lr(repo: Path, lr: str) -> None:
    write(repo / "params.yaml", f"train:\n  lr: {lr}\n".encode())


def repro(repo: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    result = datax("repro", *args, cwd=repo, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result
