"""A project with three tagged iterations of a small training loop, for the metrics, params and
plots tests: `metrics.json` in Git, `eval/report.json` stored by gitdatax (a stub in Git),
`params.yaml`, and DVCLive's files written by `gitdatax.log` (the step curve of the loss)."""
from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers import datax, git

DATAX_YAML = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr, train.epochs]
    metrics: [metrics.json]
metrics: [eval/report.json]
"""

TRAIN_PY = """\
import json
import yaml
from gitdatax import log

params = yaml.safe_load(open("params.yaml"))["train"]
log.log_param("lr", params["lr"])
loss = 1.0
for epoch in range(params["epochs"]):
    loss = round(loss * (1 - params["lr"]), 4)
    log.log_metric("train/loss", loss)
    log.next_step()
json.dump({"acc": round(1 - loss, 4)}, open("metrics.json", "w"))
json.dump({"wer": round(loss / 2, 4)}, open("eval/report.json", "w"))
"""

ITERATIONS = {"v1": 0.1, "v2": 0.3, "v3": 0.2}  # tag -> learning rate


def loss_curve(lr: float, epochs: int = 3) -> list[float]:
    loss, curve = 1.0, []
    for _ in range(epochs):
        loss = round(loss * (1 - lr), 4)
        curve.append(loss)
    return curve


def expected(tag: str) -> dict[str, float]:
    """The final values of an iteration, computed here independently of the project's code."""
    loss = loss_curve(ITERATIONS[tag])[-1]
    return {"acc": round(1 - loss, 4), "wer": round(loss / 2, 4), "train.loss": loss, "step": 2}


def train(repo: Path) -> None:
    proc = subprocess.run([sys.executable, "train.py"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


_BUILT: list[Path] = []  # the iterations built by the first test, copied by the others


def make_iterations(repo: Path) -> Path:
    """v1, v2, v3 committed and tagged in `repo` (a new repository with gitdatax installed). The
    first call builds them (three training runs, 10 s on a busy machine); later calls copy that
    repository, store included, so each test still gets its own."""
    if _BUILT:
        shutil.rmtree(repo / ".git")
        shutil.copytree(_BUILT[0], repo, symlinks=True, dirs_exist_ok=True)
        git("update-index", "-q", "--refresh", cwd=repo, check=False)  # new inodes, same content
        return repo
    _build(repo)
    template = Path(tempfile.mkdtemp(prefix="datax-metrics-iterations-")) / "repo"
    shutil.copytree(repo, template, symlinks=True)
    atexit.register(shutil.rmtree, template.parent, True)
    _BUILT.append(template)
    return repo


def _build(repo: Path) -> None:
    (repo / "eval").mkdir()
    (repo / "datax.yaml").write_text(DATAX_YAML)
    (repo / "train.py").write_text(TRAIN_PY)
    proc = datax("track", "eval/*.json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    for tag, lr in ITERATIONS.items():
        (repo / "params.yaml").write_text(f"train:\n  lr: {lr}\n  epochs: 3\nseed: 7\n")
        train(repo)
        git("add", "-A", cwd=repo)
        git("commit", "-qm", f"train with lr {lr}", cwd=repo)
        git("tag", tag, cwd=repo)
    stub = git("cat-file", "blob", "v1:eval/report.json", cwd=repo).stdout
    assert stub.startswith("version gitdatax/1\n"), "eval/report.json must be a stub in Git"
    assert json.loads((repo / "eval/report.json").read_text()) == {"wer": expected("v3")["wer"]}
