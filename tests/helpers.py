"""Shared helpers for tests: run real git and the real git-datax in temporary repositories."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def git(*args: str, cwd: str | os.PathLike[str] | None = None, check: bool = True,
        input: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run git; on failure the assertion message carries its output."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **(env or {})})
    result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                         proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)} exited {proc.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def git_bytes(*args: str, cwd: str | os.PathLike[str] | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def datax(*args: str, cwd: str | os.PathLike[str] | None = None, input: bytes | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `git datax ARGS` as a user would; never raises, callers assert on the result."""
    proc = subprocess.run(["git", "datax", *args], cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write(path: str | os.PathLike[str], data: bytes) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def random_bytes(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def store_dir(repo: str | os.PathLike[str]) -> Path:
    return Path(repo) / ".git" / "datax"


def object_path(repo: str | os.PathLike[str], oid: str) -> Path:
    return store_dir(repo) / "objects" / oid[:2] / oid[2:4] / oid


def is_stub(data: bytes) -> bool:
    return data.startswith(b"version gitdatax/1\n")
