"""The fsspec backend on fsspec's in-memory file system, driven as the transfer layer drives it:
the object layout, batched existence checks both ways, verified downloads, no partial object
ever under an object's name, and one line per mistake (tests/test_sync_fsspec.py runs the real
servers)."""
from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest

from gitdatax.errors import FatalError
from gitdatax.remotes import RemoteError, open_remote
from gitdatax.remotes import fsspec_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.sync import transfer
from helpers import random_bytes

MEMORY = fsspec.filesystem("memory")


@pytest.fixture
def bucket() -> str:
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    MEMORY.makedirs(f"/{name}", exist_ok=True)
    yield name
    MEMORY.rm(f"/{name}", recursive=True)


def test_same_layout_batched_existence_and_verified_downloads(bucket: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "a")
    stubs = [store.put_bytes(random_bytes(3000 + i, seed=i)) for i in range(6)]
    remote = open_remote(f"memory://{bucket}/team")
    assert remote.has_many(stubs) == set()
    result = transfer.upload_missing(remote, store, stubs[:4], jobs=4, quiet=True)
    assert result.ok and len(result.moved) == 4
    for s in stubs[:4]:  # the local store's compressed file, byte for byte, at the same path
        assert MEMORY.cat_file(f"/{bucket}/team/objects/{s.oid[:2]}/{s.oid[2:4]}/{s.oid}") == \
            store.object_path(s.oid).read_bytes()
    assert not MEMORY.exists(f"/{bucket}/team/tmp") or MEMORY.ls(f"/{bucket}/team/tmp") == []
    assert remote.has_many(stubs) == {s.oid for s in stubs[:4]}
    monkeypatch.setattr(fsspec_remote, "EXISTS_LIMIT", 2)  # listing the prefixes: the same answer
    assert remote.has_many(stubs) == {s.oid for s in stubs[:4]}

    other = ObjectStore(tmp_path / "b")
    got = transfer.download_missing(remote, other, stubs, jobs=4, quiet=True)
    assert {s.oid for s in got.moved} == {s.oid for s in stubs[:4]}
    assert got.failed == {s.oid: f"object {s.oid} is not on memory://{bucket}/team" for s in stubs[4:]}
    for i, s in enumerate(stubs[:4]):
        assert b"".join(other.iter_content(s)) == random_bytes(3000 + i, seed=i)


def test_a_corrupt_remote_copy_is_refused_and_nothing_is_stored(bucket: str, tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(random_bytes(5000, seed=3))
    remote = open_remote(f"memory://{bucket}/team")
    remote.upload(stub, store)
    path = f"/{bucket}/team/objects/{stub.oid[:2]}/{stub.oid[2:4]}/{stub.oid}"
    good = MEMORY.cat_file(path)
    MEMORY.pipe_file(path, good[:-8] + bytes(8))
    other = ObjectStore(tmp_path / "b")
    result = transfer.download_missing(remote, other, [stub], quiet=True)
    assert "its copy of object" in result.failed[stub.oid] and "is corrupt" in result.failed[stub.oid]
    assert not other.has(stub.oid)
    MEMORY.pipe_file(path, good + bytes(200 << 10))  # more than zstd could ever make of it
    result = transfer.download_missing(remote, other, [stub], quiet=True)
    assert "offers" in result.failed[stub.oid] and not other.has(stub.oid)


def test_an_upload_that_fails_half_way_leaves_no_object(bucket: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(random_bytes(3 << 20, seed=4))
    remote = open_remote(f"memory://{bucket}/team")
    real_open = remote.fs.open

    def failing_open(path: str, mode: str = "rb", **kwargs):  # type: ignore[no-untyped-def]
        f = real_open(path, mode, **kwargs)
        if "w" in mode:
            real_write = f.write
            written = []

            def write(data: bytes) -> int:
                written.append(len(data))
                if len(written) == 2:
                    raise ConnectionResetError("the connection dropped")
                return real_write(data)

            f.write = write
        return f

    monkeypatch.setattr(remote.fs, "open", failing_open)
    with pytest.raises(RemoteError) as failed:
        remote.upload(stub, store)
    assert failed.value.transient and "cannot connect while trying to upload object" in str(failed.value)
    assert remote.has_many([stub]) == set()
    assert MEMORY.find(f"/{bucket}") == []  # neither the object nor its temporary copy


def test_one_line_for_each_mistake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # memory:// has folders, made as needed; a bucket store's missing bucket is one line.
    monkeypatch.setattr(fsspec_remote, "BUCKET_PROTOCOLS", {"memory"})
    stub = ObjectStore(tmp_path).put_bytes(b"x")
    with pytest.raises(RemoteError, match=r"^remote memory://no-such-bucket/x: bucket 'no-such-bucket' does not exist$"):
        open_remote("memory://no-such-bucket/x").has_many([stub])
    with pytest.raises(FatalError, match=r"^remote webdav:///x: no host in the URL$"):
        open_remote("webdav:///x")
    with pytest.raises(FatalError, match=r"^remote 'zzz://x': unsupported scheme 'zzz'"):
        open_remote("zzz://x")
