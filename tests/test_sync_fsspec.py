"""Data travels through the fsspec backend as it does through the directory and S3 remotes
(tests/test_sync.py, test_sync_s3.py): fsspec's local file system and three real servers on
loopback (WebDAV, a GCS emulator, Azurite). The team remote is committed in .datax.toml, so a
teammate's plain `git clone` finds it; each user's credentials are their own."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fsspec_servers import StoreServer, _files_under, azure_server, gcs_server, webdav_server  # noqa: F401
from helpers import datax, git, random_bytes, write
from synchelpers import FILES, fresh_home, make_team_repo, teammate_clone_then_pull_into_an_empty_store


def key(data: bytes, prefix: str = "team") -> str:
    o = hashlib.sha256(data).hexdigest()
    return f"{prefix}/objects/{o[:2]}/{o[2:4]}/{o}"


@pytest.fixture(params=["local", "webdav", "gcs", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreServer:
    if request.param == "local":
        root = tmp_path / "fsspec-store"
        root.mkdir()
        return StoreServer(f"local://{root}/team", {}, {}, lambda: _files_under(root))
    return request.getfixturevalue(f"{request.param}_server")


def user_options(store: StoreServer, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    """What each user sets for themselves (git config, never the team file)."""
    for option, value in store.options.items():
        git("config", "--global", f"datax.remote.team.{option}", value, env=env, cwd=cwd)


def test_push_clone_pull_through_fsspec(store: StoreServer, tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    user_options(store)
    proc = datax("remote", "add", "team", store.url, "--default", cwd=work)
    assert proc.returncode == 0, proc.stderr
    git("add", ".datax.toml", cwd=work)
    git("commit", "-qm", "team data remote", cwd=work)
    proc = git("push", "-q", "origin", "main", cwd=work)
    assert "uploaded 4 object(s)" in proc.stderr and store.url in proc.stderr, proc.stderr
    assert store.keys() == {key(d) for d in FILES.values()}
    assert not (server / "datax").exists()  # the team store is the fsspec one, not the Git server

    env = fresh_home(tmp_path, "home2")
    user_options(store, env)
    teammate_clone_then_pull_into_an_empty_store(server, tmp_path / "teammate", env)

    # A second version: pre-commit uploads it, push has nothing left to send.
    new = random_bytes(25_000, seed=21)
    write(work / "models/v2.bin", new)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v2", cwd=work)
    assert key(new) in store.keys()
    proc = datax("push", cwd=work)
    assert proc.returncode == 0 and "0 object(s) uploaded" in proc.stderr and "5 already there" in proc.stderr, proc.stderr


def test_a_missing_bucket_is_one_line_for_all_files(gcs_server: StoreServer, tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    url = "gs://no-such-bucket/team"
    assert datax("remote", "add", "gone", url, "--local", cwd=work).returncode == 0
    git("config", "datax.remote.gone.token", "anon", cwd=work)
    proc = datax("push", "gone", cwd=work)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"git-datax: error: 4 object(s) could not be uploaded to {url}:",
        f"  remote {url}: bucket 'no-such-bucket' does not exist "
        "(4 file(s): clips/a.bin, clips/b.bin, data/train.csv and 1 more)"]
