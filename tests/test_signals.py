"""A gitdatax process stopped by a signal ends promptly and leaves nothing half-way (issue 11,
item 9): `setsid git add big.bin &` then `kill -INT -- -PID` hung 2 runs in 4 for over 10
minutes, and SIGTERM left the filter's partial object (65 MB) in .git/datax/tmp."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import datax, git, object_path, store_dir


def _wait_for_partial_object(tmp: Path, proc: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [n for n in os.listdir(tmp)] if tmp.is_dir() else []
        if names:
            return names[0]
        assert proc.poll() is None, f"the command ended before writing anything: {proc.communicate()}"
        time.sleep(0.005)
    raise AssertionError("the filter never started writing")


@pytest.mark.parametrize("sig, target", [(signal.SIGTERM, "filter"), (signal.SIGINT, "filter"),
                                         (signal.SIGINT, "group"), (signal.SIGTERM, "group")])
def test_a_signal_during_git_add_ends_the_filter_at_once_with_nothing_left(data_repo: Path, sig: int,
                                                                          target: str) -> None:
    data = os.urandom(48 << 20)
    (data_repo / "big.bin").write_bytes(data)
    proc = subprocess.Popen(["git", "add", "big.bin"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    name = _wait_for_partial_object(store_dir(data_repo) / "tmp", proc)
    filter_pid = int(name.split(".")[0])  # `<pid>.<random>.obj`: the filter's own file
    if target == "filter":  # git survives the signal, its filter gets it
        os.kill(filter_pid, sig)
    else:  # Ctrl-C or a stopped job: the whole process group
        os.killpg(proc.pid, sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("git add did not end within 10 s of the signal")
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{filter_pid}") and time.monotonic() < deadline:
        time.sleep(0.01)  # the filter's own exit, after git's
    assert not os.path.exists(f"/proc/{filter_pid}"), "the filter outlived git add"
    assert os.listdir(store_dir(data_repo) / "tmp") == []
    assert not object_path(data_repo, hashlib.sha256(data).hexdigest()).exists()
    assert git("ls-files", "--", "big.bin").stdout == ""  # the index did not take it
    git("add", "big.bin")  # and running it again just works
    assert datax("fsck").returncode == 0


def test_sigterm_during_pull_removes_the_partial_download(data_repo: Path, tmp_path: Path) -> None:
    """Every other command unwinds on SIGTERM as on Ctrl-C, removing its partial files."""
    (data_repo / "big.bin").write_bytes(os.urandom(48 << 20))
    git("add", "big.bin")
    git("commit", "-qm", "big")
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    git("push", "-q", "origin", "main")
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    proc = subprocess.Popen(["git-datax", "pull", "-q"], cwd=clone, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_partial_object(store_dir(clone) / "tmp", proc)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and "git-datax: error: interrupted" in err, err
    assert os.listdir(store_dir(clone) / "tmp") == []


def test_ctrl_c_while_a_command_starts_up_is_one_line_not_a_traceback(repo: Path, tmp_path: Path) -> None:
    """Ctrl-C can land while `git datax status` still imports its command module (the heaviest
    part of a start). Made to land there every time: an import hook (sitecustomize on
    PYTHONPATH) raises KeyboardInterrupt, as the default SIGINT handler does, on that import."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'gitdatax.cli.commands.status':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))}
    proc = datax("status", cwd=repo, env=env)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "git-datax: error: interrupted\n", proc.stderr  # as a Ctrl-C later on says it
