"""Data travels through S3 (moto in server mode on loopback, reached with endpoint_url): the team
remote is committed in .datax.toml, so a teammate's plain `git clone` finds it."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from gitdatax.store.objectstore import ObjectStore
from helpers import datax, git, random_bytes, write
from s3server import S3Server, s3  # noqa: F401 - the fixture
from synchelpers import (FILES, clone, fresh_home, make_team_repo, server_object,
                         teammate_clone_then_pull_into_an_empty_store)


def oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_keys(s3: S3Server) -> set[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=s3.bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", ())}


def key(data: bytes, prefix: str = "team") -> str:
    o = oid(data)
    return f"{prefix}/objects/{o[:2]}/{o[2:4]}/{o}"


def add_team_remote(work: Path, s3: S3Server) -> None:
    proc = datax("remote", "add", "team", s3.url(), "--endpoint-url", s3.endpoint, "--default", cwd=work)
    assert proc.returncode == 0, proc.stderr
    git("add", ".datax.toml", cwd=work)
    git("commit", "-qm", "team data remote", cwd=work)


def test_push_clone_pull_through_s3(s3: S3Server, tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    add_team_remote(work, s3)
    proc = git("push", "-q", "origin", "main", cwd=work)
    assert f"uploaded 4 object(s)" in proc.stderr and s3.url() in proc.stderr
    assert s3_keys(s3) == {key(d) for d in FILES.values()}
    assert not (server / "datax").exists()  # the team store is S3, not the Git server

    teammate_clone_then_pull_into_an_empty_store(server, tmp_path / "teammate", fresh_home(tmp_path, "home2"))


def test_pre_commit_uploads_to_s3_and_push_then_has_nothing_to_do(s3: S3Server, tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    add_team_remote(work, s3)
    new = random_bytes(25_000, seed=21)
    write(work / "models/v2.bin", new)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v2", cwd=work)
    assert key(new) in s3_keys(s3)  # uploaded by pre-commit, before any push
    proc = git("push", "-q", "origin", "main", cwd=work)
    assert "uploaded 4 object(s)" in proc.stderr  # the four of the first commit, not v2 again


def test_two_clones_push_the_same_object_to_s3_at_once(s3: S3Server, tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    add_team_remote(work, s3)
    git("push", "-q", "origin", "main", cwd=work)
    same = random_bytes(2 << 20, seed=77)
    procs = []
    for name in ("alice", "bob"):
        repo = tmp_path / name
        clone(server, repo, {})
        git("checkout", "-qb", name, cwd=repo)
        write(repo / "models/shared.bin", same)
        git("add", "-A", cwd=repo)
        git("commit", "--no-verify", "-qm", f"{name} adds the same model", cwd=repo)  # no pre-commit upload
        procs.append(subprocess.Popen(["git", "push", "-q", "origin", name], cwd=repo,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    assert [k for k in s3_keys(s3) if k.endswith(oid(same))] == [key(same)]
    fresh = ObjectStore(tmp_path / "check")
    from gitdatax.remotes import open_remote
    from gitdatax.stub import Stub

    open_remote(s3.url(), {"endpoint_url": s3.endpoint}).download(Stub(oid(same), len(same)), fresh)
    assert b"".join(fresh.iter_content(Stub(oid(same), len(same)))) == same


def test_a_bucket_that_does_not_exist_is_one_clear_line(s3: S3Server, tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    proc = datax("remote", "add", "gone", "s3://no-such-bucket/x", "--endpoint-url", s3.endpoint, cwd=work)
    assert proc.returncode == 0
    proc = datax("push", "gone", cwd=work)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "git-datax: error: 4 object(s) could not be uploaded to s3://no-such-bucket/x:"
    assert "bucket 'no-such-bucket' does not exist" in proc.stderr and "Traceback" not in proc.stderr
    # One cause, one message (issue 16 item 6): the bucket is named once, with the files it stopped.
    assert proc.stderr.splitlines()[1:] == [
        "  remote s3://no-such-bucket/x: bucket 'no-such-bucket' does not exist "
        "(4 file(s): clips/a.bin, clips/b.bin, data/train.csv and 1 more)"]
    # git push refuses, naming the remote, and the refs do not move.
    proc = datax("remote", "set-default", "gone", cwd=work)
    assert proc.returncode == 0
    proc = git("push", "origin", "main", cwd=work, check=False)
    assert proc.returncode != 0 and "push refused" in proc.stderr
    assert "remote s3://no-such-bucket/x: bucket 'no-such-bucket' does not exist" in proc.stderr
    assert proc.stderr.count("does not exist") == 1, proc.stderr
    assert not server_object(server, oid(FILES["clips/a.bin"])).exists()
