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

from helpers import datax, git, oid_of, random_bytes, sha256, stub_bytes, write


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


def _full_files(clone: Path, files: dict[str, bytes]) -> int:
    count = 0
    for path, data in files.items():
        try:
            count += os.stat(clone / path).st_size == len(data)
        except FileNotFoundError:
            pass
    return count


def _objects_arrived(clone: Path) -> bool:
    return any(p.is_file() for d in ("objects", "tmp") for p in (clone / ".git/datax" / d).rglob("*"))


@pytest.mark.parametrize("moment", ["download", "first file"])
def test_a_pull_killed_with_sigkill_leaves_git_status_truthful_and_the_next_pull_clean(
        data_repo: Path, tmp_path: Path, moment: str) -> None:
    """kill -9 of the whole pull (its checkout-index and filter too): git never writes the index,
    whose entries still hold the stubs' stat data. Git takes a size change for a content change
    (read-cache.c ie_modified re-reads only an entry of size 0), so a file filled in before the
    kill was shown modified, by `git status` and `git datax status`, and still after the next pull
    had filled in the rest (benchmarks/fault_injection.py, README "Reliability")."""
    files = {f"data/d{i}.bin": random_bytes(3 << 20, seed=100 + i) for i in range(6)}
    for path, data in files.items():
        write(data_repo / path, data)
    git("add", "data")
    git("commit", "-qm", "data")
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    git("push", "-q", "origin", "main")  # pre-push uploads to <bare>/datax, the default remote
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    proc = subprocess.Popen(["git-datax", "pull", "-q"], cwd=clone, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    arrived = (lambda: _objects_arrived(clone)) if moment == "download" else (lambda: _full_files(clone, files) >= 1)
    deadline = time.monotonic() + 60
    while not arrived():
        assert proc.poll() is None and time.monotonic() < deadline, "the pull ended before the kill"
        time.sleep(0.001)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL
    stubs = {path: stub_bytes(data) for path, data in files.items()}

    def content(path: str) -> bytes | None:
        try:
            return (clone / path).read_bytes()
        except FileNotFoundError:
            return None

    # Right after the kill: a file is shown only when it is neither its data nor its stub (the
    # one git was writing, short); a file with its data, or still its stub, is not modified.
    listed = [line[3:] for line in git("status", "--porcelain", cwd=clone).stdout.splitlines()]
    for path in listed:
        unchanged = content(path) in (files[path], stubs[path])
        assert not unchanged, f"git status shows {path} modified, but it holds its data or its stub"
    report = datax("status", cwd=clone)
    assert report.returncode == 0, report.stderr
    for path, data in files.items():
        if content(path) in (data, stubs[path]):
            assert not any(path in line and "modified" in line for line in report.stdout.splitlines()), report.stdout
    if moment == "first file":
        assert any(content(path) == data for path, data in files.items())  # the case this is about
    # The user writes over a file (one still a stub, if any is) before pulling again: that edit
    # is theirs and stays, though its size is neither the data's nor the stub's.
    mine = next((path for path in files if content(path) == stubs[path]), next(iter(files)))
    (clone / mine).write_bytes(b"my own numbers\n" * 1000)
    (clone / ".git/index.lock").unlink(missing_ok=True)  # git's own, left by the killed checkout-index
    again = datax("pull", "-q", cwd=clone)
    assert again.returncode == 0, again.stderr
    assert (clone / mine).read_bytes() == b"my own numbers\n" * 1000
    assert all(sha256(clone / path) == oid_of(data) for path, data in files.items() if path != mine)
    assert git("status", "--porcelain", cwd=clone).stdout == f" M {mine}\n"
