"""The pipeline part of `git datax demo`: prepare and train stages, a param change that re-runs
only train, and a revert that brings the old model back from the run cache without running.

Each script appends its name to `runs.log` (ignored by git), so the demo checks what really ran
rather than what repro says about itself.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

PREPARE = """\
open("runs.log", "a").write("prepare\\n")
rows = open("data/raw.csv").read().splitlines()
open("data/clean.csv", "w").write("\\n".join(r.lower() for r in rows) + "\\n")
"""
TRAIN = """\
import json, os
open("runs.log", "a").write("train\\n")
lr = float(open("params.yaml").read().split("lr:")[1].split()[0])
os.makedirs("models", exist_ok=True)
rows = open("data/clean.csv").read().splitlines()
open("models/tiny.bin", "wb").write(("lr=%s rows=%d\\n" % (lr, len(rows))).encode() * 1000)
json.dump({"loss": round(1.0 / (1 + 10 * lr), 4)}, open("metrics.json", "w"))
"""


def run_pipeline_demo(repo: Path, datax: Callable[..., None], git: Callable[..., str],
                      step: Callable[[str], None], info: Callable[[str], None]) -> bool:
    """True when each step did what it should; `datax(*argv)` runs a gitdatax command in repo."""
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data/raw.csv").write_text("ID,TEXT\n" + "".join(f"{i},UTTERANCE {i}\n" for i in range(200)))
    (repo / "prepare.py").write_text(PREPARE)
    (repo / "train.py").write_text(TRAIN)
    (repo / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (repo / ".gitignore").write_text("runs.log\n")

    def runs() -> list[str]:
        log = repo / "runs.log"
        return log.read_text().split() if log.exists() else []

    def model() -> str:
        return hashlib.sha256((repo / "models/tiny.bin").read_bytes()).hexdigest()

    step("pipeline: git datax stage add -n prepare ... ; git datax stage add -n train ...")
    datax("stage", "add", "-n", "prepare", "-d", "prepare.py", "-d", "data/raw.csv", "-o", "data/clean.csv",
          "python3 prepare.py")
    datax("stage", "add", "-n", "train", "-d", "train.py", "-d", "data/clean.csv", "-p", "train.lr",
          "-o", "models/tiny.bin", "-M", "metrics.json", "python3 train.py")
    step("git datax repro  (both stages run)")
    datax("repro")
    ok = runs() == ["prepare", "train"]
    first_model = model()
    git("add", "-A")
    git("commit", "-q", "-m", "pipeline: lr 0.1")
    step("params.yaml: lr 0.1 -> 0.2; git datax repro  (only train runs)")
    (repo / "params.yaml").write_text("train:\n  lr: 0.2\n")
    datax("repro")
    ok &= runs() == ["prepare", "train", "train"]
    git("add", "-A")
    git("commit", "-q", "-m", "pipeline: lr 0.2")
    step("back to lr 0.1 (git checkout HEAD~1 -- params.yaml); git datax repro  (restored, not run)")
    git("checkout", "HEAD~1", "--", "params.yaml")
    datax("repro")
    restored = runs() == ["prepare", "train", "train"] and model() == first_model
    info(f"    models/tiny.bin: {'the lr 0.1 model is back, from the run cache' if restored else 'WRONG'}")
    return bool(ok and restored)
