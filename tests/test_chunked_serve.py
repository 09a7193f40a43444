"""Chunked objects between gitdatax ends over `git datax serve` (HTTP; the datax-chunks transfer of
docs/http-chunks.md, issue 15 item 3): only the chunks the other side lacks travel, counted on the
wire by a relay; git-lfs still gets whole files, and so does a remote with `chunks = false`; a push
killed half way leaves no manifest and a rerun completes; a corrupt chunk, hostile requests and a
manifest with a chunk gone are refused."""
from __future__ import annotations

import hashlib
import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from datax_serve import CountingProxy, DataxServe, serve, wait_for  # noqa: F401 - the fixture
from gitdatax.remotes import open_remote, pack_stream
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.packs import ENTRY, PackWriter
from gitdatax.stub import Stub
from helpers import datax, git, make_writable, random_bytes, write
from synchelpers import fresh_home
from test_chunked import model_versions
from test_chunked_sync import disk_usage, stub_of
from test_serve_hostile import basic, request


def add_serve_remote(url: str) -> None:
    added = datax("remote", "add", "team", url + "/info/lfs", "--default")
    assert added.returncode == 0, added.stderr


def test_a_second_version_pushed_to_serve_sends_under_two_percent_and_clones_back_bit_for_bit(
        data_repo: Path, tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = serve()
    proxy = CountingProxy(server.port)
    try:
        v1, v2 = model_versions()
        bare = tmp_path / "origin.git"
        git("init", "-q", "--bare", str(bare))
        git("remote", "add", "origin", str(bare))
        add_serve_remote(proxy.url)
        write(data_repo / "model.bin", v1)
        git("add", "-A")
        git("commit", "-qm", "v1")
        git("tag", "v1")
        push = git("push", "-q", "origin", "main", "v1", check=False)
        assert push.returncode == 0, push.stderr
        assert proxy.up > len(v1)  # the first version travels whole (random bytes: no compression)
        served_before, sent_before = disk_usage(server.store), proxy.up
        write(data_repo / "model.bin", v2)
        git("commit", "-qam", "v2")
        push = git("push", "-q", "origin", "main", check=False)
        assert push.returncode == 0, push.stderr
        sent = proxy.up - sent_before
        assert sent < 0.02 * len(v2), f"the second push sent {sent} bytes of a {len(v2)}-byte file"
        assert disk_usage(server.store) - served_before < 0.02 * len(v2)
        served = ObjectStore(server.store)
        for rev in ("v1", "main"):
            stub = stub_of(data_repo, rev, "model.bin")
            assert served.read_manifest(stub.oid) is not None and served.verify(stub.oid) is None
        assert "/stored" in server.log and "/chunks" in server.log and "/missing-chunks" in server.log

        env = {**os.environ, **fresh_home(tmp_path, "teammate")}
        clone = tmp_path / "clone"
        cloned = git("clone", "-q", str(bare), str(clone), env=env, check=False)
        assert cloned.returncode == 0, cloned.stderr
        assert hashlib.sha256((clone / "model.bin").read_bytes()).digest() == hashlib.sha256(v2).digest()
        received_before = proxy.down
        git("checkout", "-q", "v1", cwd=clone, env=env)
        received = proxy.down - received_before
        assert (clone / "model.bin").read_bytes() == v1
        assert received < 0.02 * len(v1), f"checking out v1 fetched {received} bytes"
        assert git("status", "--porcelain", cwd=clone, env=env).stdout == ""
        fsck = datax("fsck", "--all", cwd=clone, env=env)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        assert "/fetch-chunks" in server.log
    finally:
        proxy.close()


def test_a_git_lfs_client_gets_whole_the_file_gitdatax_pushed_as_chunks(
        data_repo: Path, tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = serve()
    data = random_bytes(9 << 20, seed=31)
    add_serve_remote(server.url)
    write(data_repo / "model.bin", data)
    git("add", "-A")
    git("commit", "-qm", "model")
    pushed = datax("push")
    assert pushed.returncode == 0, pushed.stderr
    stub = stub_of(data_repo, "HEAD", "model.bin")
    assert ObjectStore(server.store).read_manifest(stub.oid) is not None  # arrived as chunks
    # A git-lfs repository whose pointer names the same object, cloned by git-lfs through serve.
    git("lfs", "install", "--skip-repo")
    bare = tmp_path / "lfs.git"
    git("init", "-q", "--bare", str(bare))
    first = tmp_path / "lfs-first"
    git("init", "-q", str(first))
    write(first / ".gitattributes", b"*.bin filter=lfs diff=lfs merge=lfs -text\n")
    write(first / "model.bin", stub.to_lfs_pointer())
    git("add", "-A", cwd=first)  # git-lfs keeps a pointer that is already one
    git("commit", "-qm", "pointer", cwd=first)
    git("push", "-q", "--no-verify", str(bare), "HEAD:main", cwd=first)  # the object is on serve already
    second = tmp_path / "lfs-second"
    clone = git("clone", "-q", "-b", "main", "-c", f"lfs.url={server.url}", str(bare), str(second), check=False)
    assert clone.returncode == 0, clone.stderr
    assert (second / "model.bin").read_bytes() == data
    assert f'"GET /objects/{stub.oid}" 200 {len(data)} ' in server.log  # basic, the whole file


def test_a_push_killed_half_way_leaves_no_manifest_and_a_rerun_sends_only_the_rest(
        data_repo: Path, tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = serve()
    proxy = CountingProxy(server.port, rate=24 << 20)  # about 3 s for the whole file
    try:
        data, _ = model_versions()
        add_serve_remote(proxy.url)
        write(data_repo / "model.bin", data)
        git("add", "-A")
        git("commit", "-q", "--no-verify", "-m", "model")  # no pre-commit upload: the push does it
        stub = stub_of(data_repo, "HEAD", "model.bin")
        chunks = Path(server.store) / "chunks"
        push = subprocess.Popen(["git-datax", "push"], cwd=data_repo, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        assert wait_for(lambda: len(list(chunks.glob("*.idx"))) >= 1, 60)
        push.send_signal(signal.SIGKILL)
        push.wait(10)
        # What the killed push had sent into the relay's socket is still being relayed (at its
        # rate: several MiB of loopback buffers); count the rerun only from when that is done.
        assert wait_for(_unchanged_for(lambda: proxy.up, 0.5), 30)
        served = ObjectStore(server.store)
        assert not served.has(stub.oid), "a manifest was published before all its chunks"
        ids = ObjectStore(data_repo / ".git" / "datax").read_manifest(stub.oid).ids()
        assert 0 < len(served.missing_chunks(ids)) < len(ids)  # some packs arrived, not all
        assert wait_for(lambda: not list((Path(server.store) / "tmp").glob("*.pack")), 10)  # the cut pack
        arrived = served.disk_usage()[1]
        assert 0 < arrived < len(data)
        sent_before = proxy.up
        again = datax("push")
        assert again.returncode == 0, again.stderr
        assert proxy.up - sent_before < len(data) - arrived + (1 << 20)  # only what had not arrived
        assert ObjectStore(server.store).verify(stub.oid) is None
    finally:
        proxy.close()


def _unchanged_for(read, seconds: float):  # type: ignore[no-untyped-def]
    """A condition for wait_for: true once `read()` has kept one value for `seconds`."""
    seen = {"value": read(), "since": time.monotonic()}

    def check() -> bool:
        value = read()
        if value != seen["value"]:
            seen.update(value=value, since=time.monotonic())
            return False
        return time.monotonic() - seen["since"] >= seconds

    return check


def _pack_body(chunks: list[bytes], tmp: Path, corrupt: bool = False) -> bytes:
    writer = PackWriter(tmp, tmp)
    for data in chunks:
        writer.add(hashlib.sha256(data).digest(), data)
    name, records = writer.finish()  # type: ignore[misc]
    pack = bytearray((tmp / f"{name}.pack").read_bytes())
    if corrupt:
        loc = records[-1][1]
        pack[loc.offset + ENTRY.size + 100] ^= 0xFF
    return pack_stream.head((tmp / f"{name}.idx").read_bytes()) + bytes(pack)


def test_a_corrupt_chunk_or_a_manifest_with_a_chunk_missing_is_refused_and_nothing_kept(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = serve()
    local = ObjectStore(tmp_path / "local")
    data = random_bytes(6 << 20, seed=32)
    stub = local.put([data])
    manifest = local.read_manifest(stub.oid)
    assert manifest is not None
    base = f"/info/lfs/objects/{stub.oid}"
    pieces = [random_bytes(70_000, seed=n) for n in range(3)]
    (tmp_path / "packs").mkdir()
    body = _pack_body(pieces, tmp_path / "packs", corrupt=True)
    status, _, answer = request(server, "POST", f"{base}/chunks", body)
    assert status == 422 and b"does not hash to its id" in answer and b"nothing kept" in answer
    served = ObjectStore(server.store)
    assert not list(served.chunks_dir.glob("*.idx")) and not list(served.tmp_dir.glob("*.pack"))
    # The manifest before its chunks: refused, never published.
    with open(local._object_str(stub.oid), "rb") as f:
        manifest_file = f.read()
    status, _, answer = request(server, "PUT", f"{base}/stored?size={stub.size}", manifest_file)
    assert status == 422 and b"nothing stored" in answer
    assert not served.has(stub.oid)
    # The same pack intact is kept (the test can tell a good pack from a bad one).
    status, _, answer = request(server, "POST", f"{base}/chunks", _pack_body(pieces, tmp_path / "packs"))
    assert status == 200, answer
    assert served.missing_chunks([hashlib.sha256(p).digest() for p in pieces]) == []
    # A client whose own chunk went bad sends nothing of it: checked as it leaves.
    loc = local.chunk_index.get(manifest.ids()[3])
    pack = local.chunks_dir / f"{loc.pack}.pack"
    make_writable(pack)
    with open(pack, "r+b") as f:
        f.seek(loc.offset + ENTRY.size + 10)
        f.write(b"\xff\x00\xff")
    remote = open_remote(server.url + "/info/lfs")
    try:
        from gitdatax.sync import transfer

        result = transfer.upload_missing(remote, ObjectStore(local.root), [stub], quiet=True)
    finally:
        remote.close()
    assert stub.oid in result.failed and "corrupt" in result.failed[stub.oid]
    assert not ObjectStore(server.store).has(stub.oid)


def test_hostile_requests_to_the_chunk_endpoints(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    auth = tmp_path / "users"
    for name, extra in (("alice", []), ("bob", ["--read-only"])):
        assert datax("serve", "--auth-file", str(auth), "--add-user", name, *extra,
                     input=f"{name}-secret\n".encode()).returncode == 0
    server = serve(None, "--auth-file", str(auth))
    alice, bob = basic("alice", "alice-secret"), basic("bob", "bob-secret")
    local = ObjectStore(tmp_path / "local")
    stub = local.put([random_bytes(5 << 20, seed=33)])
    oid = stub.oid
    ids = pack_stream.encode_ids(local.read_manifest(oid).ids())
    # Nobody gets in without credentials, a reader cannot write, a token is for its own object.
    assert request(server, "POST", f"/objects/{oid}/missing-chunks", ids)[0] == 401
    assert request(server, "POST", f"/objects/{oid}/chunks", b"x", bob)[0] == 403
    assert request(server, "PUT", f"/objects/{oid}/stored?size=5", b"x", bob)[0] == 403
    remote = open_remote(f"http://alice:alice-secret@127.0.0.1:{server.port}/info/lfs")
    try:
        remote.upload(stub, local)
    finally:
        remote.close()
    assert ObjectStore(server.store).verify(oid) is None
    status, answer = _batch(server, "download", stub, bob)
    assert status == 200 and answer["transfer"] == "datax-chunks"
    actions = answer["objects"][0]["actions"]
    token = actions["fetch-chunks"]["header"]
    other = "c" * 64
    assert request(server, "POST", f"/objects/{other}/fetch-chunks", ids, token)[0] == 401
    assert request(server, "POST", f"/objects/{oid}/missing-chunks", ids, token)[0] == 401  # a download token
    status, headers, body = request(server, "POST", f"/objects/{oid}/fetch-chunks", ids[:64], token)
    assert status == 200 and headers["Content-Type"] == pack_stream.CONTENT_TYPE and body.startswith(pack_stream.MAGIC)
    # Only the chunks of the object the token names.
    foreign = hashlib.sha256(b"not a chunk of it").digest()
    assert request(server, "POST", f"/objects/{oid}/fetch-chunks", foreign, token)[0] == 403
    # Bad ids, bad paths, bad sizes, oversized bodies: refused before anything is read or built.
    assert request(server, "GET", f"/objects/{oid.upper()}/stored", headers=alice)[0] == 422
    assert request(server, "GET", "/objects/..%2F..%2Fetc%2Fpasswd/stored", headers=alice)[0] == 422
    assert request(server, "GET", f"/objects/{oid}/../../../../etc/passwd", headers=alice)[0] == 404
    assert request(server, "GET", f"/objects/{oid}/chunks", headers=alice)[0] == 405
    assert request(server, "POST", f"/objects/{oid}/missing-chunks", b"x" * 33, alice)[0] == 422
    assert request(server, "PUT", f"/objects/{oid}/stored?size=-1", b"x", alice)[0] == 422
    assert request(server, "PUT", f"/objects/{oid}/stored", b"x", alice)[0] == 422
    # Announced, not sent: the server answers an oversized body before reading it and closes,
    # so a client still sending it can get a broken pipe instead of the answer (it did, 1 run in 3)
    status, answer = _raw_post(server, f"/objects/{oid}/missing-chunks", (1 << 20) + 32, alice)
    assert status == 413 and b"over the limit" in answer
    status, answer = _raw_post(server, f"/objects/{oid}/chunks", 200 << 20, alice)
    assert status == 413 and b"over the limit" in answer
    # A pack body whose index claims a giant entry is refused before that entry is read.
    lie = pack_stream.head(_index_claiming(1 << 30)) + b"GDXPACK1"
    status, _, answer = request(server, "POST", f"/objects/{oid}/chunks", lie, alice)
    assert status == 422 and b"at most" in answer
    for secret in ("alice-secret", "bob-secret", token["Authorization"].split()[1]):
        assert secret not in server.log
    assert "Traceback" not in server.log


def _batch(server: DataxServe, operation: str, stub: Stub, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    import json

    body = json.dumps({"operation": operation, "transfers": ["datax-chunks", "basic"],
                       "objects": [{"oid": stub.oid, "size": stub.size}]}).encode()
    status, _, data = request(server, "POST", "/objects/batch", body,
                              {"Content-Type": "application/vnd.git-lfs+json", **headers})
    return status, json.loads(data)


def _raw_post(server: DataxServe, path: str, length: int, headers: dict[str, str]) -> tuple[int, bytes]:
    """A request announcing `length` bytes and sending none: the answer must come before them."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", path)
        for key, value in {**headers, "Content-Length": str(length)}.items():
            conn.putheader(key, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _index_claiming(stored: int) -> bytes:
    from gitdatax.store.packs import encode_index

    return encode_index([(b"\1" * 32, 8, stored, stored, 0)])


def test_a_manifest_whose_chunk_is_gone_counts_as_absent_and_the_push_repairs_it(
        data_repo: Path, tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """What the server's pre-receive asks through the batch API: a chunked object is there only
    when every chunk it names is."""
    server = serve()
    bare = tmp_path / "checked.git"
    git("init", "-q", "--bare", str(bare))
    installed = datax("install", "--server", "--store", server.url + "/info/lfs", str(bare))
    assert installed.returncode == 0, installed.stderr
    git("remote", "add", "origin", str(bare))
    add_serve_remote(server.url)
    write(data_repo / "model.bin", random_bytes(9 << 20, seed=34))
    git("add", "-A")
    git("commit", "-q", "--no-verify", "-m", "model")
    assert datax("push").returncode == 0
    stub = stub_of(data_repo, "HEAD", "model.bin")
    served = ObjectStore(server.store)
    assert served.has_complete(stub.oid)
    for path in served.chunks_dir.glob("*"):  # a pack lost on the server: its manifest stays
        make_writable(path)
        path.unlink()
    assert served.has(stub.oid)
    remote = open_remote(server.url + "/info/lfs")
    try:
        assert remote.has_many([stub]) == set()
    finally:
        remote.close()
    assert request(server, "GET", f"/objects/{stub.oid}/stored")[0] == 404
    refused = git("push", "--no-verify", "origin", "main", check=False)
    assert refused.returncode != 0 and "push refused: 1 file(s)" in refused.stderr
    accepted = git("push", "origin", "main", check=False)  # pre-push sends the chunks again
    assert accepted.returncode == 0, accepted.stderr
    assert ObjectStore(server.store).verify(stub.oid) is None


@pytest.mark.parametrize("switch", ["chunks = false", "lfs.basictransfersonly"])
def test_with_chunks_off_a_chunked_object_goes_to_serve_and_back_by_basic_whole_and_bit_for_bit(
        data_repo: Path, tmp_path: Path, serve, switch: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """`chunks = false` (a proxy that passes only the standard LFS paths), or Git LFS's own
    switch for that in git config: gitdatax offers only basic, so even `serve` moves the file
    whole, raw, through /objects/<oid> both ways."""
    server = serve()
    proxy = CountingProxy(server.port)
    try:
        data = random_bytes(9 << 20, seed=35)  # over 4 MiB: chunked in both stores
        bare = tmp_path / "origin.git"
        git("init", "-q", "--bare", str(bare))
        git("remote", "add", "origin", str(bare))
        if switch == "chunks = false":
            added = datax("remote", "add", "--local", "team", proxy.url + "/info/lfs", "--default",
                          "-o", "chunks=false")
            assert git("config", "datax.remote.team.chunks").stdout == "false\n"
            off = "datax.remote.team.chunks=false"
        else:
            added = datax("remote", "add", "--local", "team", proxy.url + "/info/lfs", "--default")
            git("config", "--global", "lfs.basictransfersonly", "yes")  # as git-lfs users set it
            off = "lfs.basictransfersonly=true"
        assert added.returncode == 0, added.stderr
        write(data_repo / "model.bin", data)
        git("add", "-A")
        git("commit", "-q", "--no-verify", "-m", "model")  # no pre-commit upload: the push does it
        stub = stub_of(data_repo, "HEAD", "model.bin")
        assert ObjectStore(data_repo / ".git" / "datax").read_manifest(stub.oid) is not None
        push = git("push", "-q", "origin", "main", check=False)
        assert push.returncode == 0, push.stderr
        assert f'"PUT /info/lfs/objects/{stub.oid}" 200 ' in server.log  # basic: the whole file in one PUT
        assert proxy.up > len(data)
        assert ObjectStore(server.store).verify(stub.oid) is None
        assert ObjectStore(server.store).read_manifest(stub.oid) is not None  # serve chunks it all the same

        env = {**os.environ, **fresh_home(tmp_path, "teammate")}
        clone = tmp_path / "clone"
        config = [f"datax.remote.team.url={proxy.url}/info/lfs", "datax.remote.team.default=true", off]
        cloned = git("clone", "-q", *[a for c in config for a in ("-c", c)], str(bare), str(clone), env=env,
                     check=False)
        assert cloned.returncode == 0, cloned.stderr
        assert (clone / "model.bin").read_bytes() == data
        assert f'"GET /info/lfs/objects/{stub.oid}" 200 {len(data)} ' in server.log  # basic, whole
        assert proxy.down > len(data)
        for path in ("/stored", "/chunks", "/missing-chunks", "/fetch-chunks"):
            assert f'{path}"' not in server.log, server.log
        assert git("status", "--porcelain", cwd=clone, env=env).stdout == ""

        key = "datax.remote.team.chunks" if switch == "chunks = false" else "lfs.basictransfersonly"
        git("config", key, "maybe")  # a value that is not a boolean: one line
        write(data_repo / "other.bin", b"other")
        git("add", "-A")
        git("commit", "-q", "--no-verify", "-m", "other")
        bad = datax("push")
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1, bad.stderr
        name = "chunks" if switch == "chunks = false" else "lfs.basictransfersonly"
        assert f"bad {name} 'maybe' (expected true or false)" in bad.stderr, bad.stderr
    finally:
        proxy.close()
