"""The run cache travels with the data: a teammate's repro after clone/pull restores what was
run and pushed, from a directory remote and from a Git LFS server (giftless), without running."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from giftless_server import giftless
from helpers import datax, git, oid_of, write
from pipeline_helpers import make_project, repro, runs, set_lr
from synchelpers import clone, fresh_home


@pytest.fixture(scope="module")
def giftless_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with giftless(tmp_path_factory.mktemp("giftless")) as url:
        yield url


def _two_runs_pushed(tmp_path: Path, remote_url: str | None) -> tuple[Path, bytes]:
    """Someone runs lr=0.1 and lr=0.2, commits each and pushes; returns (server, model of 0.1)."""
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server))
    work = tmp_path / "work"
    git("clone", "-q", str(server), str(work))
    assert datax("install", "--local", cwd=work).returncode == 0
    make_project(work)
    if remote_url:
        write(work / ".datax.toml", f'[remote.team]\nurl = "{remote_url}"\ndefault = true\n'.encode())
    assert repro(work).returncode == 0
    model_v1 = (work / "models/model.bin").read_bytes()
    git("add", "-A", cwd=work)
    git("commit", "-qm", "lr 0.1", cwd=work)
    set_lr(work, "0.2")
    assert repro(work).returncode == 0
    git("add", "-A", cwd=work)
    git("commit", "-qm", "lr 0.2", cwd=work)
    pushed = git("push", "-q", "origin", "HEAD:main", cwd=work)
    assert pushed.returncode == 0
    return server, model_v1


def _teammate_restores(tmp_path: Path, server: Path, model_v1: bytes) -> None:
    env = fresh_home(tmp_path, "teammate")
    mate = tmp_path / "mate"
    clone(server, mate, env)
    assert b"lr=0.2" in (mate / "models/model.bin").read_bytes()
    v1_object = mate / ".git/datax/objects" / oid_of(model_v1)[:2] / oid_of(model_v1)[2:4] / oid_of(model_v1)
    assert not v1_object.exists()  # the clone fetched only what its checkout needed
    assert "Everything is up to date" in repro(mate, env=env).stdout
    set_lr(mate, "0.1")
    back = repro(mate, env=env)
    assert back.returncode == 0, back.stderr
    assert "Restored stage 'train' from the run cache (params train.lr 0.2 -> 0.1)" in back.stdout
    assert runs(mate) == []  # nothing ran on the teammate's machine
    assert (mate / "models/model.bin").read_bytes() == model_v1
    assert v1_object.exists()  # downloaded from the remote and verified by the store


def test_run_cache_hit_in_a_second_clone_through_a_directory_remote(tmp_path: Path) -> None:
    server, model_v1 = _two_runs_pushed(tmp_path, None)  # the default: <bare>/datax next to origin
    assert (server / "datax/objects").is_dir()
    _teammate_restores(tmp_path, server, model_v1)


def test_run_cache_hit_in_a_second_clone_through_a_git_lfs_server(tmp_path: Path, giftless_url: str) -> None:
    server, model_v1 = _two_runs_pushed(tmp_path, f"{giftless_url}/team/pipeline")
    assert not (server / "datax").exists()  # the data went to the LFS server only
    _teammate_restores(tmp_path, server, model_v1)
