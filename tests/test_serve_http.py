"""`git datax serve` with real clients: gitdatax's LFS remote and the Debian git-lfs client."""
from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest

from datax_serve import DataxServe, serve, wait_for  # noqa: F401 - the fixture
from helpers import datax, git, git_bytes, random_bytes, sha256, write
from gitdatax.scan.scanner import GitScanner
from gitdatax.remotes import open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import parse_lfs_pointer


def served_store(server: DataxServe) -> ObjectStore:
    return ObjectStore(server.store)


def test_gitdatax_pushes_to_serve_and_a_clone_gets_all_data(repo: Path, tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    git("datax", "track", "*.bin", "*.csv")
    # The team's data remote is the server, in the committed .datax.toml.
    added = datax("remote", "add", "team", server.url + "/info/lfs", "--default")
    assert added.returncode == 0, added.stderr
    files = {
        "models/asr.bin": random_bytes((5 << 20) + 7, seed=1),  # over 4 MiB: cleaned while streaming
        "data/train.csv": b"id,label\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(20000)),
        "data/clip.bin": random_bytes(3000, seed=2),
    }
    for path, data in files.items():
        write(repo / path, data)
    git("add", "-A")
    git("commit", "-q", "--no-verify", "-m", "data")  # no pre-commit upload: pre-push must do it
    assert list(ObjectStore(server.store).iter_oids()) == []
    push = git("push", "origin", "main", check=False)
    assert push.returncode == 0, push.stderr
    stubs = [stub for _, stub in GitScanner(repo).tree("HEAD")]
    assert len(stubs) == 3
    assert set(ObjectStore(server.store).iter_oids()) == {s.oid for s in stubs}
    for stub in stubs:
        assert served_store(server).verify(stub.oid) is None
    again = datax("push")
    assert again.returncode == 0 and "0 object(s) uploaded" in again.stderr and "3 already there" in again.stderr

    clone = tmp_path / "clone"
    cloned = git("clone", "-q", str(bare), str(clone), check=False)  # a plain clone: data comes along
    assert cloned.returncode == 0, cloned.stderr
    for path, data in files.items():
        assert (clone / path).read_bytes() == data
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    assert '"PUT /info/lfs/objects/' in server.log and '"GET /info/lfs/objects/' in server.log


@pytest.mark.parametrize("with_auth", [False, True], ids=["anonymous", "auth-file"])
def test_git_lfs_pushes_and_a_second_git_lfs_clone_fetches_bit_for_bit(tmp_path: Path, serve, with_auth: bool) -> None:  # type: ignore[no-untyped-def]
    if with_auth:
        users = tmp_path / "users"
        assert datax("serve", "--auth-file", str(users), "--add-user", "ann", input=b"s3cret\n").returncode == 0
        server = serve(None, "--auth-file", str(users))
        lfs_url = server.url.replace("http://", "http://ann:s3cret@")
    else:
        server = serve()
        lfs_url = server.url
    git("lfs", "install", "--skip-repo")  # the isolated HOME's global config: filter.lfs.*
    bare = tmp_path / "lfs-origin.git"
    git("init", "-q", "--bare", str(bare))
    first = tmp_path / "lfs-first"
    git("init", "-q", str(first))
    git("lfs", "install", "--local", cwd=first)  # pre-push hook that uploads
    git("config", "lfs.url", lfs_url, cwd=first)
    git("lfs", "track", "*.bin", cwd=first)
    content = {"model.bin": random_bytes(700_000, seed=5), "sub/weights.bin": random_bytes(12_345, seed=6)}
    for path, data in content.items():
        write(first / path, data)
    git("add", "-A", cwd=first)
    git("commit", "-qm", "lfs data", cwd=first)
    assert git_bytes("cat-file", "-p", "HEAD:model.bin", cwd=first).startswith(b"version https://git-lfs")
    git("remote", "add", "origin", str(bare), cwd=first)
    push = git("push", "origin", "main", cwd=first, check=False)
    assert push.returncode == 0, push.stderr
    oids = {sha256(first / p) for p in content}
    assert set(served_store(server).iter_oids()) == oids
    assert all(served_store(server).verify(oid) is None for oid in oids)
    user = "ann" if with_auth else "-"
    assert f'{user} "POST /objects/batch" 200' in server.log and f'{user} "POST /objects/verify" 200' in server.log
    assert "s3cret" not in server.log

    second = tmp_path / "lfs-second"
    clone = git("clone", "-q", "-c", f"lfs.url={lfs_url}", str(bare), str(second), check=False)
    assert clone.returncode == 0, clone.stderr
    for path, data in content.items():
        assert (second / path).read_bytes() == data

    # A gitdatax clone reads the objects git-lfs uploaded (the pointers name them by the same oid).
    plain = tmp_path / "datax-reader"
    git("-c", "filter.lfs.process=", "-c", "filter.lfs.smudge=cat", "-c", "filter.lfs.required=false",
        "clone", "-q", str(bare), str(plain))
    store = ObjectStore.for_repo(plain)
    remote = open_remote(lfs_url + "/info/lfs")
    try:
        for path, data in content.items():
            stub = parse_lfs_pointer((plain / path).read_bytes())
            assert stub is not None
            remote.download(stub, store)
            assert b"".join(store.read_verified(stub)) == data
    finally:
        remote.close()


def test_serve_in_a_bare_repository_serves_its_store_and_stops_on_sigterm(tmp_path: Path) -> None:
    bare = tmp_path / "proj.git"
    git("init", "-q", "--bare", str(bare))
    assert datax("install", "--server", cwd=bare).returncode == 0
    server = DataxServe(bare / "datax", ["--grace", "1"], cwd=bare, pass_store=False)
    try:
        assert f"serving {bare / 'datax'} on http://127.0.0.1:" in server.log
        local = ObjectStore(tmp_path / "local")
        stub = local.put_bytes(random_bytes(5000, seed=9))
        remote = open_remote(server.url + "/info/lfs")
        remote.upload(stub, local)
        remote.close()
        assert ObjectStore(bare / "datax").verify(stub.oid) is None
        # An idle keep-alive connection, and an upload that stalls half-way, must not hold up
        # the shutdown; the stalled upload's temporary file must go.
        idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        idle.request("GET", f"/objects/{stub.oid}")
        assert idle.getresponse().read() == b"".join(local.read_verified(stub))
        size = 6 << 20  # over the in-memory limit: spooled to tmp/ while it streams
        stalled = socket.create_connection(("127.0.0.1", server.port))
        stalled.sendall(b"PUT /objects/%s HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (b"a" * 64, size)
                        + b"x" * (1 << 20))
        assert wait_for(lambda: any((bare / "datax" / "tmp").glob("*.raw")))
    finally:
        code = server.stop(timeout=15)
    idle.close()
    stalled.close()
    assert code == 0 and "git-datax serve: stopped (requests still running after 1 s were cut)" in server.log
    assert list((bare / "datax" / "tmp").glob("*")) == []
    assert list((bare / "datax" / "objects").glob("aa/aa/*")) == []


def test_serve_refuses_what_it_cannot_do_safely(tmp_path: Path) -> None:
    exposed = datax("serve", "--store", str(tmp_path), "--bind", "0.0.0.0:0")
    assert exposed.returncode == 1
    assert "refusing to serve 0.0.0.0 without --auth-file" in exposed.stderr
    s3 = datax("serve", "--store", "s3://bucket/prefix", "--bind", "127.0.0.1:0")
    assert s3.returncode == 1 and "serves a directory store" in s3.stderr
    missing = datax("serve", "--store", str(tmp_path / "nope"), "--bind", "127.0.0.1:0")
    assert missing.returncode == 1 and "no such directory" in missing.stderr
    no_file = datax("serve", "--store", str(tmp_path), "--auth-file", str(tmp_path / "users"), "--bind", "127.0.0.1:0")
    assert no_file.returncode == 1 and "does not exist (create it with --add-user NAME)" in no_file.stderr
    for result in (exposed, s3, missing, no_file):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
