"""Helpers for the sync tests: a team repository pushing to a bare server, and clones made by
someone with a fresh HOME that has only `git datax install --global`."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import datax, git, random_bytes, sha256, write

FILES = {
    "data/train.csv": b"id,label\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(30000)),
    "models/asr.bin": random_bytes(600_000, seed=1),
    "clips/a.bin": random_bytes(20_000, seed=2),
    "clips/b.bin": random_bytes(20_001, seed=3),
}


def fresh_home(root: Path, name: str) -> dict[str, str]:
    """The environment of another user: a new HOME whose git config has only what
    `git datax install --global` writes (and the test's identity and branch name)."""
    home = root / name
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    for args in (["config", "--global", "init.defaultBranch", "main"],
                 ["config", "--global", "advice.detachedHead", "false"]):
        subprocess.run(["git", *args], env=env, check=True)
    proc = subprocess.run(["git-datax", "install", "--global"], env=env, cwd=home, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return {"HOME": env["HOME"], "XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"]}


def make_team_repo(root: Path, files: dict[str, bytes] = FILES) -> tuple[Path, Path]:
    """A bare server repository and a work repository cloned from it, with `files` committed
    (tracked by gitdatax) but not pushed."""
    server = root / "server.git"
    git("init", "-q", "--bare", str(server))
    work = root / "work"
    git("clone", "-q", str(server), str(work))
    assert datax("install", "--local", cwd=work).returncode == 0
    assert datax("track", "*.csv", "*.bin", cwd=work).returncode == 0
    for path, data in files.items():
        write(work / path, data)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "data v1", cwd=work)
    return server, work


def clone(server: Path | str, dest: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return git("clone", "-q", str(server), str(dest), env=env, check=check)


def assert_files(repo: Path, files: dict[str, bytes] = FILES, *, env: dict[str, str] | None = None) -> None:
    import hashlib

    for path, data in files.items():
        assert sha256(repo / path) == hashlib.sha256(data).hexdigest(), path
    assert git("status", "--porcelain", cwd=repo, env=env).stdout == ""


def teammate_clone_then_pull_into_an_empty_store(server: Path, dest: Path, env: dict[str, str]) -> None:
    """A teammate's plain clone arrives complete; with its store emptied, `git datax pull`
    brings every object back, verified, and the work tree stays clean."""
    import hashlib
    import shutil

    from gitdatax.store.objectstore import ObjectStore

    proc = clone(server, dest, env)
    assert proc.stderr == ""
    assert_files(dest, env=env)
    shutil.rmtree(dest / ".git/datax")
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(FILES)} object(s) downloaded" in proc.stderr
    fetched = ObjectStore(dest / ".git/datax")
    assert sorted(fetched.iter_oids()) == sorted(hashlib.sha256(d).hexdigest() for d in FILES.values())
    assert_files(dest, env=env)


def server_object(server: Path, oid: str) -> Path:
    return server / "datax" / "objects" / oid[:2] / oid[2:4] / oid
