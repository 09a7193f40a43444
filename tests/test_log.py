"""`gitdatax.log` from a small training loop writes DVCLive's files, byte for byte what DVCLive
itself writes for the same loop; `metrics show` and `plots diff` read files DVCLive wrote."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import datax, git

LOOP = """
for epoch in range(3):
    LOGGER.log_metric("train/loss", 1.0 / (epoch + 1))
    LOGGER.log_metric("acc", 0.5 + epoch / 10)
    LOGGER.next_step()
"""


def run_python(code: str, cwd: Path) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


def files_under(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_the_files_are_dvclives(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for d in (ours, theirs):
        d.mkdir()
    run_python("from gitdatax import log\nLOGGER = log\nlog.log_param('lr', 0.1)\n" + LOOP, ours)
    git("init", "-q", cwd=theirs)
    git("commit", "-q", "--allow-empty", "-m", "init", cwd=theirs)
    run_python("from dvclive import Live\nwith Live(save_dvc_exp=False, dvcyaml=None) as LOGGER:\n"
               "    LOGGER.log_param('lr', 0.1)\n" + LOOP.replace("\n", "\n    "), theirs)
    written = files_under(ours / "dvclive")
    assert written == files_under(theirs / "dvclive")
    assert written["plots/metrics/train/loss.tsv"] == b"step\tloss\n0\t1.0\n1\t0.5\n2\t0.3333333333333333\n"
    assert json.loads(written["metrics.json"]) == {"train": {"loss": 0.3333333333333333}, "acc": 0.7, "step": 2}
    assert written["params.yaml"] == b"lr: 0.1\n"


def test_a_new_run_starts_afresh_and_resume_continues(tmp_path: Path) -> None:
    from gitdatax.log import Logger

    first = Logger(tmp_path / "dvclive")
    first.log_metric("loss", 2.0)
    first.next_step()
    first.log_metric("loss", 1.0, step=5)
    first.end()
    tsv = tmp_path / "dvclive/plots/metrics/loss.tsv"
    assert tsv.read_bytes() == b"step\tloss\n0\t2.0\n5\t1.0\n"
    assert json.loads((tmp_path / "dvclive/metrics.json").read_text()) == {"loss": 1.0, "step": 5}
    resumed = Logger(tmp_path / "dvclive", resume=True)
    resumed.log_metric("loss", 0.5)
    assert tsv.read_bytes() == b"step\tloss\n0\t2.0\n5\t1.0\n6\t0.5\n"
    Logger(tmp_path / "dvclive")  # a new run: the old step log would mix two runs' curves
    assert not tsv.exists() and not (tmp_path / "dvclive/metrics.json").exists()


def test_bad_values_are_refused_with_the_name(tmp_path: Path) -> None:
    from gitdatax.log import Logger

    logger = Logger(tmp_path / "dvclive")
    with pytest.raises(TypeError, match=r"log_metric\('acc'\): a metric is a number, not str 'high'"):
        logger.log_metric("acc", "high")
    with pytest.raises(ValueError, match="step must be a whole number >= 0"):
        logger.log_metric("acc", 1, step=-1)
    with pytest.raises(TypeError, match="param 'fn': function cannot be written to params.yaml"):
        logger.log_param("fn", lambda: 0)
    assert not (tmp_path / "dvclive/plots").exists()  # nothing half-written


def test_metrics_and_plots_read_what_dvclive_wrote(repo: Path) -> None:
    git("commit", "-q", "--allow-empty", "-m", "init")  # DVCLive refuses a repository with no commit
    for tag, scale in (("v1", 1.0), ("v2", 0.5)):
        run_python("from dvclive import Live\nwith Live(save_dvc_exp=False) as LOGGER:\n"
                   f"    LOGGER.log_param('scale', {scale})\n"
                   + LOOP.replace("1.0 /", f"{scale} /").replace("\n", "\n    "), repo)
        git("add", "-A")
        git("commit", "-qm", tag)
        git("tag", tag)
    assert "dvclive/metrics.json" in (repo / "dvc.yaml").read_text()  # DVCLive's own dvc.yaml is read
    proc = datax("metrics", "show", "v1", "v2", "--csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Revision,train.loss,acc,step", "workspace,0.16667,0.7,2",
                                        "v1,0.33333,0.7,2", "v2,0.16667,0.7,2"]
    assert json.loads(datax("params", "diff", "v1", "v2", "--json").stdout) == {
        "dvclive/params.yaml": {"scale": {"old": 1.0, "new": 0.5}}}
    proc = datax("plots", "diff", "v1", "v2", "-o", "r.html")
    assert proc.returncode == 0, proc.stderr
    page = (repo / "r.html").read_text()
    assert 'data-plot="dvclive/plots/metrics/train/loss.tsv"' in page
    assert 'data-plot="dvclive/plots/metrics/acc.tsv"' in page
