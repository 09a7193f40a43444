"""Story 3, server side: a bare repository with `install --server` refuses pushes whose data is
not in its store (real git push, real pre-receive in git's quarantine)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import datax, git, random_bytes, write
from s3server import S3Server, s3  # noqa: F401 - the fixture
from gitdatax.scan.scanner import GitScanner
from gitdatax.remotes import open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


def upload_all(client: Path, url: str, **options: object) -> int:
    """Copy every object of the client's store to the store at `url` (what pre-push will do)."""
    store = ObjectStore(client / ".git" / "datax")
    remote = open_remote(url, options or {"create": True})
    count = 0
    for oid in store.iter_oids():
        remote.upload(Stub(oid, store.content_size(oid)), store)  # uploads check the size they send
        count += 1
    remote.close()
    return count


def server_ref(bare: Path, ref: str = "refs/heads/main") -> str | None:
    proc = git("rev-parse", "-q", "--verify", ref, cwd=bare, check=False)
    return proc.stdout.strip() or None


@pytest.fixture
def server(tmp_path: Path) -> Path:
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    result = datax("install", "--server", cwd=bare)
    assert result.returncode == 0, result.stderr
    assert f"store: {bare / 'datax'}" in result.stderr
    assert git("config", "datax.serverstore", cwd=bare).stdout.strip() == str(bare / "datax")
    return bare


@pytest.fixture
def client(repo: Path, server: Path) -> Path:
    assert datax("track", "*.bin").returncode == 0
    write(repo / "README", b"code\n")
    git("add", ".")
    git("commit", "-qm", "start")
    git("remote", "add", "origin", str(server))
    git("push", "-q", "origin", "main")  # no stub yet: passes
    return repo


def commit_data(client: Path, names: list[str], seed: int) -> None:
    """Commit new data with the client hooks skipped: pre-commit would upload it to a configured
    default remote, and these tests decide themselves when data reaches the server."""
    for i, name in enumerate(names):
        write(client / name, random_bytes(3000 + i, seed=seed + i))
    git("add", *names)
    git("commit", "-q", "--no-verify", "-m", f"data {seed}")


def test_push_whose_data_was_uploaded_is_accepted(client: Path, server: Path) -> None:
    commit_data(client, ["data/a.bin", "models/m.bin"], seed=1)
    push = git("push", "origin", "main", check=False)  # pre-push uploads to <bare>/datax first
    assert push.returncode == 0, push.stderr
    assert server_ref(server) == git("rev-parse", "HEAD").stdout.strip()
    stored = set(ObjectStore(server / "datax").iter_oids())
    assert stored == set(ObjectStore(client / ".git" / "datax").iter_oids()) and len(stored) == 2


def test_push_with_data_uploaded_by_hand_is_accepted(client: Path, server: Path) -> None:
    commit_data(client, ["data/a.bin"], seed=3)
    assert upload_all(client, str(server / "datax")) == 1  # e.g. copied by rsync to the NAS
    push = git("push", "--no-verify", "origin", "main", check=False)
    assert push.returncode == 0, push.stderr
    assert server_ref(server) == git("rev-parse", "HEAD").stdout.strip()


def test_push_without_data_is_refused_with_the_listing_and_refs_stay(client: Path, server: Path) -> None:
    before = server_ref(server)
    names = [f"data/f{i:02d}.bin" for i in range(23)]
    commit_data(client, names, seed=10)
    head = git("rev-parse", "HEAD").stdout.strip()
    push = git("push", "--no-verify", "origin", "main", check=False)
    assert push.returncode != 0
    assert "pre-receive hook declined" in push.stderr
    assert "push refused: 23 file(s) in the pushed commits point to data that is not in this server's store" in push.stderr
    listed = [line for line in push.stderr.splitlines() if f"({head[:12]}, sha256:" in line]
    assert len(listed) == 20
    store = ObjectStore(client / ".git" / "datax")
    first = listed[0].split("remote:", 1)[1].strip()
    path = first.split(" ")[0]
    oid = first.rsplit("sha256:", 1)[1].rstrip(")").strip()
    assert path in names and store.has(oid)
    assert "... and 3 more (23 files, 23 objects in all)" in push.stderr
    assert "run `git datax push`" in push.stderr
    assert server_ref(server) == before
    # The command the message names fixes it; then the same push goes through.
    fix = datax("push")
    assert fix.returncode == 0, fix.stderr
    assert "23 object(s) uploaded" in fix.stderr
    assert git("push", "--no-verify", "origin", "main", check=False).returncode == 0
    assert server_ref(server) == head


def test_only_new_commits_are_checked_and_one_missing_object_is_named(client: Path, server: Path) -> None:
    commit_data(client, ["a.bin"], seed=20)
    upload_all(client, str(server / "datax"))
    git("push", "-q", "origin", "main")
    commit_data(client, ["b.bin"], seed=21)  # not uploaded
    git("checkout", "-qb", "topic")
    push = git("push", "--no-verify", "origin", "topic", check=False)
    assert push.returncode != 0
    assert "push refused: 1 file(s)" in push.stderr
    assert "b.bin (" in push.stderr and "a.bin (" not in push.stderr
    assert server_ref(server, "refs/heads/topic") is None


def test_branch_and_tag_deletion_pass(client: Path, server: Path) -> None:
    commit_data(client, ["a.bin"], seed=30)
    upload_all(client, str(server / "datax"))
    git("push", "-q", "origin", "main:side", "main")
    git("tag", "-a", "v1", "-m", "v1")
    git("push", "-q", "origin", "v1")
    assert server_ref(server, "refs/heads/side") and server_ref(server, "refs/tags/v1")
    # Deleting must pass even when the store has lost the data since.
    for oid in ObjectStore(server / "datax").iter_oids():
        ObjectStore(server / "datax").object_path(oid).unlink()
    delete = git("push", "origin", "--delete", "side", "v1", check=False)
    assert delete.returncode == 0, delete.stderr
    assert server_ref(server, "refs/heads/side") is None and server_ref(server, "refs/tags/v1") is None


def test_a_merge_reports_only_what_it_adds_itself(client: Path, server: Path) -> None:
    commit_data(client, ["a.bin"], seed=40)
    upload_all(client, str(server / "datax"))
    git("push", "-q", "origin", "main")
    git("checkout", "-qb", "side", "HEAD~1")
    commit_data(client, ["side.bin"], seed=41)
    upload_all(client, str(server / "datax"))
    git("push", "-q", "origin", "side")
    git("checkout", "-q", "main")
    git("merge", "-q", "--no-commit", "side")
    write(client / "evil.bin", random_bytes(5000, seed=42))  # added by the merge commit itself
    git("add", "evil.bin")
    git("commit", "-qm", "merge")
    push = git("push", "--no-verify", "origin", "main", check=False)
    assert push.returncode != 0
    assert "push refused: 1 file(s)" in push.stderr and "evil.bin (" in push.stderr


def test_install_server_keeps_an_existing_hook_and_uninstall_restores_it(server: Path, tmp_path: Path) -> None:
    hook = server / "hooks" / "pre-receive"
    hook.unlink()
    theirs = f"#!/bin/sh\ncat > {tmp_path / 'seen'}\necho their hook ran >&2\n"
    hook.write_text(theirs)
    hook.chmod(0o755)
    again = datax("install", "--server", str(server), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "your existing hook was kept as pre-receive.pre-datax" in again.stderr
    assert (server / "hooks" / "pre-receive.pre-datax").read_text() == theirs
    work = tmp_path / "work"
    git("clone", "-q", str(server), str(work))
    write(work / "x.txt", b"x\n")
    git("add", "x.txt", cwd=work)
    git("commit", "-qm", "x", cwd=work)
    push = git("push", "origin", "HEAD:main", cwd=work, check=False)
    assert push.returncode == 0 and "their hook ran" in push.stderr
    assert (tmp_path / "seen").read_text().endswith(" refs/heads/main\n")  # got git's stdin
    removed = datax("uninstall", "--server", str(server), cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert hook.read_text() == theirs and not (server / "hooks" / "pre-receive.pre-datax").exists()
    assert git("config", "--get-regexp", "^datax\\.", cwd=server, check=False).returncode == 1
    assert "[datax]" not in (server / "config").read_text()


def test_install_server_refuses_a_work_tree(repo: Path) -> None:
    result = datax("install", "--server")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("git-datax: error: ")
    assert "has a work tree: --server is for the bare repository" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (repo / ".git" / "hooks" / "pre-receive").exists()


def test_the_same_with_the_store_on_s3(s3: S3Server, repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "s3server.git"
    git("init", "-q", "--bare", str(bare))
    url = s3.url("server")
    result = datax("install", "--server", "--store", url, "--store-option", f"endpoint_url={s3.endpoint}", str(bare))
    assert result.returncode == 0, result.stderr
    assert git("config", "datax.serverstore", cwd=bare).stdout.strip() == url
    assert git("config", "datax.serverstore.endpoint-url", cwd=bare).stdout.strip() == s3.endpoint
    assert datax("track", "*.bin").returncode == 0
    git("remote", "add", "origin", str(bare))
    git("add", ".gitattributes")
    commit_data(repo, ["a.bin", "b.bin"], seed=50)
    refused = git("push", "--no-verify", "origin", "main", check=False)
    assert refused.returncode != 0 and "push refused: 2 file(s)" in refused.stderr
    assert f"this server's store ({url})" in refused.stderr
    assert server_ref(bare) is None
    # The team's remote is the same bucket: pre-push uploads there, then the server checks it.
    assert datax("remote", "add", "team", url, "--endpoint-url", s3.endpoint, "--default").returncode == 0
    accepted = git("push", "origin", "main", "main:doomed", check=False)
    assert accepted.returncode == 0, accepted.stderr
    assert server_ref(bare) == git("rev-parse", "HEAD").stdout.strip()
    pushed = [stub for _, stub in GitScanner(repo).tree("HEAD")]
    assert len(open_remote(url, {"endpoint_url": s3.endpoint}).has_many(pushed)) == len(pushed) == 2
    commit_data(repo, ["c.bin"], seed=51)
    again = git("push", "--no-verify", "origin", "main", check=False)
    assert again.returncode != 0 and "c.bin (" in again.stderr and "a.bin (" not in again.stderr
    delete = git("push", "origin", "--delete", "doomed", check=False)
    assert delete.returncode == 0, delete.stderr
    assert server_ref(bare, "refs/heads/doomed") is None


def test_an_unreachable_store_refuses_the_push(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from s3server import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bare = tmp_path / "down.git"
    git("init", "-q", "--bare", str(bare))
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert datax("install", "--server", "--store", "s3://bucket/p", "--store-option", f"endpoint_url={dead}",
                 str(bare)).returncode == 0
    assert datax("track", "*.bin").returncode == 0
    git("remote", "add", "origin", str(bare))
    commit_data(repo, ["a.bin"], seed=60)
    push = git("push", "--no-verify", "origin", "main", check=False)
    assert push.returncode != 0 and "pre-receive hook declined" in push.stderr
    assert f"cannot connect to {dead}" in push.stderr and "Traceback" not in push.stderr
    assert server_ref(bare) is None
