"""A team repository for the sharing tests: a bare server with `install --server` and tags
v1/v2, pushed from a work clone (gitdatax tracks *.bin)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import datax, git, random_bytes, write

V1 = {
    "models/asr.bin": random_bytes(300_000, seed=11),
    "data/clips/a.bin": random_bytes(20_000, seed=12),
    "data/clips/b.bin": random_bytes(20_001, seed=13),
    "data/labels.txt": b"a\nb\n",  # a plain Git file inside a data folder
    "README.md": b"# team\n",
}
V2 = {
    "models/asr.bin": random_bytes(300_000, seed=21),
    "data/clips/c.bin": random_bytes(5_000, seed=22),
    # A plain Git file of another commit that `get --rev v1` must never fetch (it does not
    # compress, so the bytes fetched would show it).
    "docs/big.txt": random_bytes(200_000, seed=23),
}


def make_team(root: Path, *, team_file: str | None = None) -> tuple[Path, Path]:
    """(bare server, work clone). `team_file`: a .datax.toml committed at v1."""
    server = root / "team.git"
    git("init", "-q", "--bare", str(server))
    assert datax("install", "--server", cwd=server).returncode == 0
    work = root / "work"
    git("clone", "-q", str(server), str(work))
    assert datax("install", "--local", cwd=work).returncode == 0
    assert datax("track", "*.bin", cwd=work).returncode == 0
    for path, data in V1.items():
        write(work / path, data)
    if team_file is not None:
        write(work / ".datax.toml", team_file.encode())
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v1", cwd=work)
    git("tag", "-a", "-m", "first", "v1", cwd=work)
    for path, data in V2.items():
        write(work / path, data)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v2", cwd=work)
    git("tag", "v2", cwd=work)
    push = git("push", "-q", "origin", "HEAD:refs/heads/main", "--tags", cwd=work)
    assert push.returncode == 0
    return server, work


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


_TEMPLATE: list[tuple[Path, Path]] = []  # made once per test session, copied by each test


@pytest.fixture
def team(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the team repository of make_team (server, work clone) in this test's folder:
    building it costs seconds, copying it milliseconds, and a test may change its copy."""
    if not _TEMPLATE:
        _TEMPLATE.append(make_team(tmp_path_factory.mktemp("team-template")))
    server, work = tmp_path / "team.git", tmp_path / "work"
    shutil.copytree(_TEMPLATE[0][0], server, symlinks=True)
    shutil.copytree(_TEMPLATE[0][1], work, symlinks=True)
    git("remote", "set-url", "origin", str(server), cwd=work)
    git("config", "--file", str(server / "config"), "datax.serverstore", str(server / "datax"))  # install --server's
    return server, work
