"""The S3 backend against moto in server mode (a real HTTP server speaking S3) through boto3."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from gitdatax.sync import transfer
from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.remotes import RemoteError, open_remote
from gitdatax.remotes import s3 as s3_backend
from gitdatax.store.objectstore import ObjectStore
from helpers import SILENT_OPTIONS, SilentServer, leftovers, random_bytes, transfer_against_silence
from s3server import S3Server, free_port, s3  # noqa: F401 - the fixture


def _remote(s3: S3Server, prefix: str = "team", **options: str):  # type: ignore[no-untyped-def]
    return open_remote(s3.url(prefix), {"endpoint_url": s3.endpoint, **options})


def test_upload_has_download_same_layout(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "a")
    stubs = [store.put_bytes(random_bytes(2000 + i, seed=i)) for i in range(6)]
    remote = _remote(s3, multipart_threshold="5MiB")
    assert remote.has_many(stubs) == set()
    result = transfer.upload_missing(remote, store, stubs[:4], jobs=4, quiet=True)
    assert result.ok and len(result.moved) == 4
    assert remote.has_many(stubs) == {s.oid for s in stubs[:4]}
    monkeypatch.setattr(s3_backend, "HEAD_LIMIT", 2)  # the listing path gives the same answer
    assert remote.has_many(stubs) == {s.oid for s in stubs[:4]}
    s = stubs[0]
    body = s3.client().get_object(Bucket=s3.bucket, Key=f"team/objects/{s.oid[:2]}/{s.oid[2:4]}/{s.oid}")["Body"].read()
    assert body == store.object_path(s.oid).read_bytes()

    other = ObjectStore(tmp_path / "b")
    got = transfer.download_missing(remote, other, stubs, jobs=4, quiet=True)
    assert {x.oid for x in got.moved} == {x.oid for x in stubs[:4]}
    assert set(got.failed) == {stubs[4].oid, stubs[5].oid}
    assert got.failed[stubs[4].oid] == f"object {stubs[4].oid} is not on {remote.url}"
    for i, x in enumerate(stubs[:4]):
        assert b"".join(other.iter_content(x)) == random_bytes(2000 + i, seed=i)


def test_multipart_upload_of_a_big_object(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_backend, "MULTIPART_CHUNK", 5 << 20)  # S3's smallest part
    store = ObjectStore(tmp_path / "a")
    data = random_bytes(11 << 20, seed=7)  # incompressible: 3 parts
    stub = store.put_bytes(data)
    remote = _remote(s3, multipart_threshold="5MiB")
    remote.upload(stub, store)
    key = f"team/objects/{stub.oid[:2]}/{stub.oid[2:4]}/{stub.oid}"
    head = s3.client().head_object(Bucket=s3.bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart ETag names its part count
    other = ObjectStore(tmp_path / "b")
    remote.download(stub, other)
    assert other.object_path(stub.oid).read_bytes() == store.object_path(stub.oid).read_bytes()


def test_missing_bucket_and_unreachable_endpoint_are_one_clear_line(s3: S3Server, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(b"x" * 3000)
    remote = open_remote("s3://no-such-bucket/p", {"endpoint_url": s3.endpoint})
    with pytest.raises(RemoteError) as info:
        remote.has_many([stub])
    assert str(info.value) == "remote s3://no-such-bucket/p: bucket 'no-such-bucket' does not exist"
    result = transfer.upload_missing(remote, store, [stub], quiet=True)
    assert result.failed == {stub.oid: "remote s3://no-such-bucket/p: bucket 'no-such-bucket' does not exist"}

    dead = f"http://127.0.0.1:{free_port()}"
    remote = open_remote("s3://bucket/p", {"endpoint_url": dead, "backoff": "0.001"})
    with pytest.raises(RemoteError) as info:
        remote.has_many([stub])
    assert str(info.value) == f"remote s3://bucket/p: cannot connect to {dead}" and info.value.transient


def test_credentials_never_appear_in_errors(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(b"y" * 3000)
    with pytest.raises(RemoteError, match="no AWS credentials found"):
        _remote(s3).has_many([stub])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECRETKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    with pytest.raises(RemoteError) as info:
        open_remote(s3.url(), {"endpoint_url": s3.endpoint, "profile": "nope"})
    assert "AKIA" not in str(info.value) and "very-secret" not in str(info.value)
    assert str(info.value) == f"remote {s3.url()}: AWS profile 'nope' not found"


def test_hostile_objects_are_refused_and_nothing_is_published(s3: S3Server, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "a")
    small = store.put_bytes(b"small" * 100)
    other_obj = store.put_bytes(b"other" * 100)
    client = s3.client()

    def key(oid: str) -> str:
        return f"team/objects/{oid[:2]}/{oid[2:4]}/{oid}"

    # An oversized answer for a small object, and the right size with the wrong content.
    client.put_object(Bucket=s3.bucket, Key=key(small.oid), Body=os.urandom(200 << 10))
    client.put_object(Bucket=s3.bucket, Key=key(other_obj.oid), Body=store.object_path(small.oid).read_bytes())
    remote = _remote(s3)
    fresh = ObjectStore(tmp_path / "b")
    with pytest.raises(CorruptObject, match=small.oid):
        remote.download(small, fresh)
    with pytest.raises(CorruptObject, match=other_obj.oid):
        remote.download(other_obj, fresh)
    with pytest.raises(ObjectMissing, match=" is not on remote s3://"):  # not "in the local store"
        remote.download(store.put_bytes(b"never uploaded" * 10), fresh)
    assert list(fresh.iter_oids()) == [] and leftovers(fresh.tmp_dir) == []
    # An oid from outside (bad hex, a path) never becomes a key or a path.
    with pytest.raises(Exception, match="invalid object id"):
        remote.key("../../etc/passwd")
    # A listing with keys that are not ours (traversal, uppercase, another oid) answers only
    # for the oids asked about.
    for junk in ("team/objects/ab/cd/../../../../escape", f"team/objects/{small.oid[:2]}/x/{small.oid.upper()}",
                 "team/objects/00/00/" + "0" * 64):
        client.put_object(Bucket=s3.bucket, Key=junk, Body=b"junk")
    monkeypatch.setattr(s3_backend, "HEAD_LIMIT", 0)
    assert remote.has_many([small, other_obj]) == {small.oid, other_obj.oid}
    assert not (tmp_path / "escape").exists()


class DroppingProxy:
    """A TCP proxy on loopback in front of the S3 server that cuts the first `drops` responses
    longer than `after` bytes in the middle, as a flaky network does."""

    def __init__(self, upstream_port: int, drops: int, after: int = 256 << 10) -> None:
        import socket
        import threading

        self.upstream_port, self.drops, self.after = upstream_port, drops, after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.stopped = False
        self.requests: list[bytes] = []  # the first bytes of every request, for asserting on headers
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src, dst, is_response: bool) -> None:  # type: ignore[no-untyped-def]
        sent = 0
        try:
            while data := src.recv(65536):
                if not is_response and data[:4] in (b"GET ", b"HEAD", b"PUT "):
                    self.requests.append(data[:4096])
                dst.sendall(data)
                sent += len(data)
                if is_response and sent > self.after:
                    with self.lock:
                        cut = self.drops > 0
                        self.drops -= cut
                    if cut:
                        break
        except OSError:
            pass
        import socket

        for s in (src, dst):  # shutdown first: it wakes the thread blocked on the other direction
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


def test_a_connection_dropped_mid_download_is_restarted_and_verified(s3: S3Server, tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "a")
    data = random_bytes(2 << 20, seed=31)
    stub = store.put_bytes(data)
    _remote(s3).upload(stub, store)
    proxy = DroppingProxy(int(s3.endpoint.rsplit(":", 1)[1]), drops=2)
    try:
        remote = open_remote(s3.url(), {"endpoint_url": f"http://127.0.0.1:{proxy.port}", "backoff": "0.01"})
        fresh = ObjectStore(tmp_path / "b")
        result = transfer.download_missing(remote, fresh, [stub], quiet=True)
    finally:
        proxy.close()
    assert proxy.drops == 0  # both cuts happened
    assert result.ok and result.moved == [stub]
    assert b"".join(fresh.iter_content(stub)) == data
    assert leftovers(fresh.tmp_dir) == []


def test_a_cut_s3_download_resumes_with_a_range_request_where_it_stopped(s3: S3Server, tmp_path: Path) -> None:
    """botocore 1.44 turned urllib3's length check off, so a cut reads as the object's end (issue
    11, item 8): the backend counts the bytes against ContentLength and asks for the rest."""
    store = ObjectStore(tmp_path / "a")
    data = random_bytes(2 << 20, seed=32)
    stub = store.put_bytes(data)
    _remote(s3).upload(stub, store)
    proxy = DroppingProxy(int(s3.endpoint.rsplit(":", 1)[1]), drops=2)
    try:
        remote = open_remote(s3.url(), {"endpoint_url": f"http://127.0.0.1:{proxy.port}", "backoff": "0.01"})
        fresh = ObjectStore(tmp_path / "b")
        remote.download(stub, fresh)  # no whole-object retry: one call must get it all
    finally:
        proxy.close()
    assert b"".join(fresh.iter_content(stub)) == data
    gets = [r for r in proxy.requests if r.startswith(b"GET ") and stub.oid.encode() in r.split(b"\r\n")[0]]
    ranges = [next((h for h in r.lower().split(b"\r\n") if h.startswith(b"range:")), None) for r in gets]
    assert ranges[0] is None and len(gets) == 3, ranges
    starts = [int(r.split(b"=")[1].rstrip(b"-")) for r in ranges[1:]]
    assert 0 < starts[0] < starts[1] < len(store.object_path(stub.oid).read_bytes()), starts
    assert all(b"if-match:" in r.lower() for r in gets[1:])  # never spliced onto another version


def test_an_s3_download_cut_every_time_gives_up_with_one_line_after_the_tries_the_options_say(
        s3: S3Server, tmp_path: Path) -> None:
    """Resumes and whole-object retries share one budget: `retries = 2` is 3 GETs, called directly
    or through the transfer layer. Before, the resumes had a count of their own: 5."""
    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(random_bytes(1 << 20, seed=33))
    _remote(s3).upload(stub, store)
    proxy = DroppingProxy(int(s3.endpoint.rsplit(":", 1)[1]), drops=100, after=64 << 10)

    def gets() -> int:
        return sum(1 for r in proxy.requests if r.startswith(b"GET ") and stub.oid.encode() in r.split(b"\r\n")[0])

    try:
        remote = open_remote(s3.url(), {"endpoint_url": f"http://127.0.0.1:{proxy.port}", "backoff": "0.001",
                                        "retries": "2"})
        fresh = ObjectStore(tmp_path / "b")
        cut = (r"download of object [0-9a-f]{64}: the connection was cut 3 times "
               r"\(\d+ of \d+ bytes received\); nothing was stored")
        with pytest.raises(RemoteError, match=cut) as info:
            remote.download(stub, fresh)
        assert gets() == 3 and not info.value.transient
        result = transfer.download_missing(remote, fresh, [stub], quiet=True)
    finally:
        proxy.close()
    assert list(result.failed) == [stub.oid] and re.search(cut, result.failed[stub.oid])
    assert gets() == 6
    assert list(fresh.iter_oids()) == [] and leftovers(fresh.tmp_dir) == []


def test_a_corrupt_local_object_is_not_uploaded(s3: S3Server, tmp_path: Path) -> None:
    """issue 11 item 6 on S3: checked while boto3 reads it, refused before the PUT completes."""
    from gitdatax.store.objectfile import CorruptUpload

    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(b"flip me " * 40_000)
    path = store.object_path(stub.oid)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    remote = _remote(s3, "corrupt")
    result = transfer.upload_missing(remote, store, [stub], jobs=1, quiet=True)
    assert not result.moved and "git datax fsck" in result.failed[stub.oid]
    assert remote.has_many([stub]) == set()
    with pytest.raises(CorruptUpload):
        remote.upload(stub, store)


@pytest.mark.parametrize("answer_head", [False, True], ids=["nothing answered", "HEAD answered, then nothing"])
def test_an_endpoint_that_answers_nothing_is_given_up_on_for_the_whole_transfer(s3: S3Server, tmp_path: Path,
                                                                                answer_head: bool) -> None:
    """Connections accepted, no answer ever (botocore's read timeout each time), or the bucket
    check answered and then every request hangs (a hung disk under MinIO): once requests have
    waited one object's tries in all, the objects still to come fail at once."""
    server = SilentServer(answer_head=answer_head)
    store = ObjectStore(tmp_path / "a")
    stubs = [store.put_bytes(bytes([n]) * 100) for n in range(12)]
    remote = open_remote("s3://bucket/p", {"endpoint_url": f"http://127.0.0.1:{server.port}", **SILENT_OPTIONS})
    try:  # with HEAD answered, every object would look uploaded already: download them instead
        if answer_head:
            failed, elapsed = transfer_against_silence(remote, ObjectStore(tmp_path / "b"), stubs)
        else:
            failed, elapsed = transfer_against_silence(remote, store, stubs, upload=True)
    finally:
        server.close()
    assert (server.heads >= 1) == answer_head  # the bucket check was answered, or not
    given_up = f"no answer from http://127.0.0.1:{server.port} in 1 s; nothing came from it for"
    assert sum(given_up in why for why in failed.values()) >= 10, failed
    assert elapsed < 8, f"{elapsed:.1f} s"  # 12-24 s without it
