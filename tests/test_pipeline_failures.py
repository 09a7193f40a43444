"""Failures lose nothing: a failing command, Ctrl-C, a second repro, and every bad input is one
clear line with exit 1 (the command's own status for a failing command), never a traceback."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import datax, git, write
from pipeline_helpers import make_project, repro, runs, set_lr

SLOW = "touch started && sleep 30 && echo never > models/model.bin"


def test_a_failing_command_stops_with_its_status_and_keeps_what_succeeded(repo: Path) -> None:
    make_project(repo)
    assert repro(repo).returncode == 0
    lock_before = (repo / "datax.lock").read_bytes()
    model_before = (repo / "models/model.bin").read_bytes()
    write(repo / "train.py", b"import sys\nopen('models/model.bin', 'w').write('half')\nsys.exit(3)\n")
    write(repo / "data/raw.csv", b"x,y\n")  # prepare must run again, and succeed
    failed = repro(repo)
    assert failed.returncode == 3, failed.stderr
    assert "stage 'train' failed: `python3 train.py` exited with status 3" in failed.stderr
    lock = (repo / "datax.lock").read_text()
    assert lock != lock_before.decode()  # prepare's new entry is recorded ...
    train_block = lock[lock.index("  train:"):]
    assert train_block in lock_before.decode()  # ... train's is the old one
    assert (repo / "models/model.bin").read_bytes() == model_before  # the old out is back
    assert len(list((repo / ".git/datax/runs").glob("*"))) == 3  # two first runs + prepare's, no train


def test_ctrl_c_and_a_second_repro_at_once(repo: Path) -> None:
    make_project(repo)
    assert repro(repo).returncode == 0
    lock_before = (repo / "datax.lock").read_bytes()
    model_before = (repo / "models/model.bin").read_bytes()
    text = (repo / "datax.yaml").read_text().replace("cmd: python3 train.py", f"cmd: {SLOW}")
    write(repo / "datax.yaml", text.encode())
    # git-datax itself, not through git: git dies of the SIGINT too, and its status would hide ours
    first = subprocess.Popen(["git-datax", "repro"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (repo / "started").exists():
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = repro(repo)
        assert second.returncode == 1
        assert "another `git datax repro` (pid" in second.stderr and "holds the lock" in second.stderr
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = first.communicate(timeout=20)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    assert (repo / "datax.lock").read_bytes() == lock_before
    assert (repo / "models/model.bin").read_bytes() == model_before
    assert not any((repo / ".git/datax/aside").glob("*/*"))  # nothing left aside


@pytest.mark.parametrize("edit, message", [
    (("- train.py", "- nope.txt"), "stage 'train': dep 'nope.txt' does not exist"),
    (("train.lr", "train.nope"), "stage 'train': param 'train.nope' is not in params.yaml"),
    (("- models/model.bin", "- models/other.bin"), "stage 'train': the command did not write its out 'models/other.bin'"),
    (("  train:\n", "  train:\n    cmd: [oops\n"), "datax.yaml:"),
    (("deps:\n    - train.py", "deps:\n    - models/model.bin"), "depends on its own out 'models/model.bin'"),
])
def test_bad_input_is_one_line_and_exit_1(repo: Path, edit: tuple[str, str], message: str) -> None:
    make_project(repo)
    text = (repo / "datax.yaml").read_text()
    assert edit[0] in text
    write(repo / "datax.yaml", text.replace(edit[0], edit[1], 1).encode())
    result = repro(repo)
    assert result.returncode == 1, result
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if "did not write" not in message:
        assert runs(repo) == []  # refused before anything ran


def test_two_stages_writing_one_out_and_a_cycle_are_refused(repo: Path) -> None:
    write(repo / "datax.yaml", b"stages:\n  a:\n    cmd: echo a\n    outs: [x]\n  b:\n    cmd: echo b\n    outs: [x]\n")
    result = repro(repo)
    assert result.returncode == 1 and "stages 'a' and 'b' both write 'x'" in result.stderr
    write(repo / "datax.yaml", b"stages:\n  a:\n    cmd: echo a\n    deps: [y]\n    outs: [x]\n"
                               b"  b:\n    cmd: echo b\n    deps: [x]\n    outs: [y]\n")
    result = repro(repo)
    assert result.returncode == 1 and "the stages form a cycle: a -> b -> a" in result.stderr
    assert runs(repo) == []


def test_stage_add_refuses_a_duplicate_without_f(repo: Path) -> None:
    make_project(repo)
    again = datax("stage", "add", "-n", "train", "-d", "x", "python3 other.py")
    assert again.returncode == 1 and "stage 'train' already exists in datax.yaml: -f replaces it" in again.stderr
    clash = datax("stage", "add", "-n", "other", "-o", "models/model.bin", "echo")
    assert clash.returncode == 1 and "already an out of stage 'train'" in clash.stderr
    set_lr(repo, "0.5")
    git("add", "-A")
    assert datax("stage", "add", "-n", "train", "-f", "-d", "train.py", "python3 train.py").returncode == 0
    assert "cmd: python3 train.py" in (repo / "datax.yaml").read_text()
