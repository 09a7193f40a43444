"""A pull stopped while git fills the work tree in leaves each file its data or its stub, never
half of either, and running it again finishes the job (found by benchmarks/fault_injection.py:
SIGTERM or Ctrl-C during pull left the file git was writing deleted or short, and `git status`
showed it modified after the re-run)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import datax, git, oid_of, random_bytes, sha256, write


def _session_has(sid: int, needle: str) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[3]) != sid:
                        continue
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        return True
            except (OSError, IndexError, ValueError):
                continue
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_pull_stopped_while_filling_in_leaves_data_or_stubs_and_a_rerun_finishes(data_repo: Path, tmp_path: Path,
                                                                                  sig: int) -> None:
    files = {f"clips/c{i:02d}.bin": random_bytes(512 << 10, seed=i) for i in range(30)}
    for path, data in files.items():
        write(data_repo / path, data)
    git("add", "clips")
    git("commit", "-qm", "clips")
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    git("push", "-q", "origin", "main")
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    datax("fetch", cwd=clone)  # the data is local: pull only fills in
    proc = subprocess.Popen(["git-datax", "pull", "-q"], cwd=clone, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not _session_has(proc.pid, "checkout-index"):
        assert proc.poll() is None and time.monotonic() < deadline, "pull never started filling in"
        time.sleep(0.002)
    time.sleep(0.05)
    os.killpg(proc.pid, sig)
    proc.communicate(timeout=20)
    assert proc.returncode != 0
    stub_head = b"version gitdatax/1\n"
    if sig == signal.SIGKILL:  # no chance to put the stubs back, nor for git to drop its lock
        (clone / ".git/index.lock").unlink(missing_ok=True)
        proc = datax("pull", cwd=clone)
        assert proc.returncode == 0, proc.stderr
    for path, data in files.items():
        full = clone / path
        assert full.exists(), f"{path} is gone"
        content = full.read_bytes()
        assert content == data or (content.startswith(stub_head) and oid_of(data).encode() in content), path
    assert not (clone / ".git/index.lock").exists()  # git was asked to stop, not killed
    proc = datax("pull", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert all(sha256(clone / path) == oid_of(data) for path, data in files.items())
    assert git("status", "--porcelain", cwd=clone).stdout == ""
