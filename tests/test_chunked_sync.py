"""Chunked objects through git (issue 15): add, push, clone and checkout of two versions of a
64 MiB model; ssh and `serve` between gitdatax ends; git-lfs clients of `serve`; gc; a corrupt
chunk met by a checkout."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

import pytest

from datax_serve import serve  # noqa: F401 - the fixture
from gitdatax.remotes import open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.packs import ENTRY
from gitdatax.sync import transfer
from helpers import datax, git, make_writable, random_bytes, write
from sshd_server import Sshd, sshd
from synchelpers import fresh_home
from test_chunked import model_versions


def disk_usage(store_root: Path) -> int:
    return ObjectStore(store_root).disk_usage()[1]


def stub_of(repo: Path, rev: str, path: str):  # type: ignore[no-untyped-def]
    from gitdatax.stub import parse

    return parse(git("cat-file", "-p", f"{rev}:{path}", cwd=repo).stdout.encode())


def test_two_versions_of_a_64_mib_model_cost_under_two_percent_and_come_back_bit_for_bit(data_repo: Path, tmp_path: Path) -> None:
    v1, v2 = model_versions()
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server))
    git("remote", "add", "origin", str(server))
    write(data_repo / "model.bin", v1)
    git("add", "model.bin")
    git("commit", "-qm", "v1")
    git("tag", "v1")
    git("push", "-q", "origin", "main", "v1")
    local_before, remote_before = disk_usage(data_repo / ".git" / "datax"), disk_usage(server / "datax")
    write(data_repo / "model.bin", v2)
    git("commit", "-qam", "v2")
    git("push", "-q", "origin", "main")
    assert disk_usage(data_repo / ".git" / "datax") - local_before < 0.02 * len(v2)
    assert disk_usage(server / "datax") - remote_before < 0.02 * len(v2)
    env = fresh_home(tmp_path, "teammate")
    clone = tmp_path / "clone"
    git("clone", "-q", str(server), str(clone), env={**os.environ, **env})
    assert hashlib.sha256((clone / "model.bin").read_bytes()).digest() == hashlib.sha256(v2).digest()
    git("checkout", "-q", "v1", cwd=clone, env={**os.environ, **env})
    assert (clone / "model.bin").read_bytes() == v1
    assert git("status", "--porcelain", cwd=clone, env={**os.environ, **env}).stdout == ""
    proc = datax("fsck", "--all", cwd=clone)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_corrupt_chunk_is_caught_on_checkout_quarantined_by_fsck_and_pulled_again(data_repo: Path, tmp_path: Path) -> None:
    data = random_bytes(9 << 20, seed=21)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("remote", "add", "--local", "-d", "nas", str(nas)).returncode == 0
    write(data_repo / "model.bin", data)
    git("add", "model.bin")
    git("commit", "-qm", "model")
    assert datax("push").returncode == 0
    store = ObjectStore(data_repo / ".git" / "datax")
    stub = stub_of(data_repo, "HEAD", "model.bin")
    loc = store.chunk_index.get(store.read_manifest(stub.oid).ids()[7])
    pack = store.chunks_dir / f"{loc.pack}.pack"
    make_writable(pack)
    with open(pack, "r+b") as f:
        f.seek(loc.offset + ENTRY.size + 10)
        f.write(b"\xff\x00\xff")
    os.unlink(data_repo / "model.bin")
    proc = git("checkout", "--", "model.bin", check=False)
    assert f"model.bin: object {stub.oid} is corrupt" in proc.stderr and "chunk" in proc.stderr
    assert (data_repo / "model.bin").read_bytes() == stub.encode()  # the stub, never bad bytes
    proc = datax("fsck")
    assert proc.returncode == 1 and f"corrupt: object {stub.oid}" in proc.stdout
    assert datax("pull").returncode == 0
    assert (data_repo / "model.bin").read_bytes() == data
    assert datax("fsck").returncode == 0


def test_gc_after_a_push_keeps_every_chunk_the_remaining_commits_need(data_repo: Path, tmp_path: Path) -> None:
    v1, v2 = model_versions(12 << 20)
    dropped = random_bytes(6 << 20, seed=23)  # in the first commit only: its pack goes
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("remote", "add", "--local", "-d", "nas", str(nas)).returncode == 0
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server))
    git("remote", "add", "origin", str(server))
    write(data_repo / "model.bin", v1)
    write(data_repo / "dropped.bin", dropped)
    git("add", "model.bin", "dropped.bin")
    git("commit", "-qm", "v1")
    write(data_repo / "model.bin", v2)
    git("rm", "-q", "dropped.bin")
    git("commit", "-qam", "v2")
    git("push", "-q", "origin", "main")
    store = ObjectStore(data_repo / ".git" / "datax")
    before = store.disk_usage()
    proc = datax("gc", "--keep-days", "0", "--grace", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = ObjectStore(store.root)
    assert after.disk_usage()[0] == before[0] - 2  # v1's and dropped.bin's manifests
    # dropped.bin's pack is gone; v1's pack stays, v2 needs nearly all of it (REPACK_BELOW)
    assert after.disk_usage()[1] < before[1] - len(dropped)
    v2_stub = stub_of(data_repo, "HEAD", "model.bin")
    assert after.verify(v2_stub.oid) is None
    assert not after.missing_chunks(after.read_manifest(v2_stub.oid).ids())
    git("checkout", "-q", "HEAD~1")
    assert (data_repo / "model.bin").read_bytes() == v1  # fetched back from the remote
    assert (data_repo / "dropped.bin").read_bytes() == dropped
    assert datax("fsck").returncode == 0


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def test_ssh_sends_and_fetches_only_the_chunks_the_other_side_lacks(ssh_server: Sshd, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_server.ssh_command)
    v1, v2 = model_versions()
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    local = ObjectStore(tmp_path / "local")
    s1 = local.put([v1])
    s2 = local.put([v2])
    remote = open_remote(f"ssh://{ssh_server.user}@127.0.0.1:{ssh_server.port}{bare}")
    try:
        assert transfer.upload_missing(remote, local, [s1], quiet=True).ok
        before = disk_usage(bare / "datax")
        assert transfer.upload_missing(remote, local, [s2], quiet=True).ok
        assert disk_usage(bare / "datax") - before < 0.02 * len(v2)
        assert remote.has_many([s1, s2]) == {s1.oid, s2.oid}
        clone = ObjectStore(tmp_path / "clone")
        assert transfer.download_missing(remote, clone, [s1], quiet=True).ok
        fetched = disk_usage(clone.root)
        assert transfer.download_missing(remote, clone, [s2], quiet=True).ok
        assert disk_usage(clone.root) - fetched < 0.02 * len(v2)
        assert b"".join(clone.read_verified(s1)) == v1 and b"".join(clone.read_verified(s2)) == v2
    finally:
        remote.close()


def test_a_git_lfs_client_gets_whole_files_from_a_chunked_serve_store(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = serve()
    git("lfs", "install", "--skip-repo")
    bare = tmp_path / "lfs-origin.git"
    git("init", "-q", "--bare", str(bare))
    first = tmp_path / "lfs-first"
    git("init", "-q", str(first))
    git("lfs", "install", "--local", cwd=first)
    git("config", "lfs.url", server.url, cwd=first)
    git("lfs", "track", "*.bin", cwd=first)
    data = random_bytes(9 << 20, seed=22)
    write(first / "model.bin", data)
    git("add", "-A", cwd=first)
    git("commit", "-qm", "lfs data", cwd=first)
    git("remote", "add", "origin", str(bare), cwd=first)
    push = git("push", "origin", "main", cwd=first, check=False)
    assert push.returncode == 0, push.stderr
    served = ObjectStore(server.store)
    oid = hashlib.sha256(data).hexdigest()
    assert served.read_manifest(oid, len(data)) is not None  # kept as chunks
    second = tmp_path / "lfs-second"
    clone = git("clone", "-q", "-c", f"lfs.url={server.url}", str(bare), str(second), check=False)
    assert clone.returncode == 0, clone.stderr
    assert (second / "model.bin").read_bytes() == data
