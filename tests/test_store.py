"""The local object store: layout, compression, atomic read-only publishing, verification."""
from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
import zstandard

from gitdatax.errors import CorruptObject, InvalidOid, ObjectMissing
from gitdatax.store.objectstore import IN_MEMORY_LIMIT, ObjectStore
from gitdatax.stub import Stub
from helpers import leftovers, make_writable, oid_of, random_bytes


@pytest.fixture(autouse=True)
def isolated_git() -> None:
    """The store needs no git: unit tests on a plain directory (overrides conftest's fixture)."""


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "datax")


def read_all(store: ObjectStore, stub: Stub) -> bytes:
    return b"".join(store.read_verified(stub))


def test_put_returns_the_stub_and_lays_the_object_out_by_oid(store: ObjectStore) -> None:
    data = b"id,label\n" + b"1,yes\n" * 1000
    stub = store.put([data[:100], data[100:]])
    assert stub == Stub(oid_of(data), len(data))
    path = store.root / "objects" / stub.oid[:2] / stub.oid[2:4] / stub.oid
    assert store.object_path(stub.oid) == path
    assert path.is_file() and store.has(stub.oid)
    assert list(store.iter_oids()) == [stub.oid]
    assert read_all(store, stub) == data
    assert b"".join(store.iter_content(stub)) == data


def test_object_is_a_zstd_frame_with_content_size_and_checksum(store: ObjectStore) -> None:
    data = b"0123456789abcdef" * 4096
    stub = store.put([data])
    raw = store.object_path(stub.oid).read_bytes()
    params = zstandard.get_frame_parameters(raw)
    assert params.content_size == len(data)
    assert params.has_checksum
    assert len(raw) < len(data) // 10  # compressed
    assert zstandard.ZstdDecompressor().decompress(raw) == data


def test_published_objects_are_read_only_and_tmp_is_left_empty(store: ObjectStore) -> None:
    small = store.put([b"small"])
    big = store.put([random_bytes(IN_MEMORY_LIMIT + 12345, seed=1)])  # the spooled path
    for stub in (small, big):
        mode = store.object_path(stub.oid).stat().st_mode
        assert stat.S_IMODE(mode) == 0o444
    assert leftovers(store.tmp_dir) == []


def test_large_content_streams_through_the_spool(store: ObjectStore) -> None:
    data = random_bytes(IN_MEMORY_LIMIT * 2 + 7, seed=2)
    stub = store.put(data[i : i + 65536] for i in range(0, len(data), 65536))
    assert stub == Stub(oid_of(data), len(data))
    assert read_all(store, stub) == data
    path = store.root / "file.bin"
    path.write_bytes(data)
    assert store.put_file(path) == stub


@pytest.mark.parametrize("guess", [True, False])
def test_a_wrong_presence_guess_changes_the_cost_not_the_result(store: ObjectStore, guess: bool) -> None:
    data = random_bytes(IN_MEMORY_LIMIT + 5000, seed=4)
    stub = store.put([data[:1000], data[1000:]], likely_present=lambda head: guess)
    assert stub == Stub(oid_of(data), len(data))
    assert store.read_manifest(stub.oid, stub.size) is not None  # large content is chunked
    assert read_all(store, stub) == data
    assert leftovers(store.tmp_dir) == []


def test_put_of_known_content_keeps_the_existing_object(store: ObjectStore) -> None:
    stub = store.put([b"same bytes"])
    path = store.object_path(stub.oid)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # written long ago
    before = path.stat()
    assert store.put([b"same ", b"bytes"]) == stub
    after = path.stat()
    # Not written again, but marked as just used, so that a gc under way keeps it (test_gc.py)
    assert after.st_ino == before.st_ino and after.st_mtime_ns > before.st_mtime_ns + 10**9


@pytest.mark.parametrize("size", [10, IN_MEMORY_LIMIT + 10])
def test_a_write_that_fails_half_way_publishes_nothing(store: ObjectStore, size: int) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b"x" * size
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        store.put(chunks())
    assert list(store.iter_oids()) == []
    assert not store.tmp_dir.exists() or leftovers(store.tmp_dir) == []


@pytest.mark.parametrize(
    "oid",
    [
        "../" * 21 + "e",
        "/etc/passwd",
        "..",
        "ab/../../../../etc/passwd" + "0" * 39,
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 63 + "\n",
        "",
    ],
)
def test_an_oid_that_could_escape_the_store_is_refused(store: ObjectStore, oid: str) -> None:
    with pytest.raises(InvalidOid, match="expected 64 lowercase hex digits"):
        store.object_path(oid)
    with pytest.raises(InvalidOid):
        store.has(oid)
    with pytest.raises(InvalidOid):
        store.open_compressed(oid)
    with pytest.raises(InvalidOid):
        store.delete(oid)
    with pytest.raises(InvalidOid):
        store.read_verified(Stub(oid, 0))
    assert not store.objects_dir.exists()


def test_missing_object_raises_object_missing(store: ObjectStore) -> None:
    stub = Stub(oid_of(b"never stored"), 12)
    assert not store.has(stub.oid)
    with pytest.raises(ObjectMissing, match=f"object {stub.oid} is not in the local store"):
        store.read_verified(stub)


def corrupt(store: ObjectStore, oid: str, how: str) -> None:
    path = store.object_path(oid)
    make_writable(path)
    raw = bytearray(path.read_bytes())
    if how == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif how == "truncate":
        del raw[len(raw) // 2 :]
    elif how == "garbage":
        raw = bytearray(b"not zstd at all" * 10)
    elif how == "longer":
        # A valid frame whose content is longer than the stub says.
        raw = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(b"y" * 70000))
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["flip", "truncate", "garbage", "longer"])
@pytest.mark.parametrize("path", ["in memory", "two passes"])
def test_corruption_is_found_before_any_byte_is_handed_out(
    store: ObjectStore, how: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "two passes":  # the path content over 16 MiB takes, without 16 MiB of test data
        monkeypatch.setattr("gitdatax.store.objectstore.SPOOL_IN_MEMORY", 1000)
    data = random_bytes(60000, seed=3)
    stub = store.put([data])
    assert read_all(store, stub) == data
    corrupt(store, stub.oid, how)
    # read_verified raises when called, not while the caller is already consuming chunks.
    with pytest.raises(CorruptObject, match=f"object {stub.oid} is corrupt in the store"):
        store.read_verified(stub)
    assert store.verify(stub.oid) is not None


def test_verify_and_quarantine(store: ObjectStore) -> None:
    stub = store.put([b"precious"])
    assert store.verify(stub.oid) is None
    corrupt(store, stub.oid, "flip")
    assert "cannot be decompressed" in (store.verify(stub.oid) or "")
    target = store.quarantine(stub.oid)
    assert target == store.bad_dir / stub.oid and target.is_file()
    assert not store.has(stub.oid)


def test_delete_frees_the_object(store: ObjectStore) -> None:
    stub = store.put([b"to be deleted" * 100])
    size = store.object_path(stub.oid).stat().st_size
    assert store.delete(stub.oid) == size
    assert not store.has(stub.oid)
    assert store.delete(stub.oid) == 0


def test_import_object_publishes_only_verified_bytes(store: ObjectStore, tmp_path: Path) -> None:
    source = ObjectStore(tmp_path / "remote")
    data = b"from a remote" * 500
    stub = source.put([data])
    with source.open_compressed(stub.oid) as f:
        store.import_object(f, stub)
    assert read_all(store, stub) == data

    # The right size and a valid frame, but other bytes: refused, nothing published.
    other = b"x" * len(data)
    forged = zstandard.ZstdCompressor(write_checksum=True, write_content_size=True).compress(other)
    wrong = Stub(oid_of(b"wanted" * 10), len(other))
    with pytest.raises(CorruptObject, match=wrong.oid):
        store.import_object(io.BytesIO(forged), wrong)
    assert not store.has(wrong.oid)
    assert leftovers(store.tmp_dir) == []


def test_import_raw_checks_hash_and_size(store: ObjectStore) -> None:
    data = b"raw bytes from a Git LFS server"
    stub = Stub(oid_of(data), len(data))
    with pytest.raises(CorruptObject, match="more than the expected"):
        store.import_raw([data, b"!"], stub)
    with pytest.raises(CorruptObject, match="do not match"):
        store.import_raw([data[:-1] + b"?"], stub)
    assert not store.has(stub.oid)
    store.import_raw([data[:5], data[5:]], stub)
    assert read_all(store, stub) == data
    assert leftovers(store.tmp_dir) == []


def test_the_store_answers_sizes_so_no_caller_opens_object_files(store: ObjectStore) -> None:
    small = b"label\n" * 5000
    big = random_bytes(IN_MEMORY_LIMIT + 12345, 1)
    s1, s2 = store.put([small]), store.put([big])
    assert store.content_size(s1.oid) == len(small)
    assert store.content_size(s2.oid, count=False) == len(big)  # in its manifest
    store.chunking = False
    s3 = store.put([big + b"!"])  # streamed whole: its frame has no content size
    assert store.content_size(s3.oid, count=False) is None
    assert store.content_size(s3.oid) == len(big) + 1
    assert store.stored_bytes(s1.oid) == store.object_path(s1.oid).stat().st_size < len(small)
    assert store.stored_bytes("0" * 64) == 0
    assert store.stored_bytes(s2.oid) > len(big)  # raw chunks: random bytes do not compress
    on_disk = sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file() and p.relative_to(store.root).parts[0] != "tmp")
    assert store.disk_usage() == (3, on_disk)
    assert on_disk - 8000 < sum(store.stored_bytes(s.oid) for s in (s1, s2, s3)) <= on_disk
    with pytest.raises(ObjectMissing):
        store.content_size("1" * 64)
    assert b"".join(store.stream_content(s1.oid)) == small


def test_objects_move_between_stores_through_the_store(tmp_path: Path, store: ObjectStore) -> None:
    data = random_bytes(50_000, 2)
    stub = store.put([data])
    other = ObjectStore(tmp_path / "other")
    store.copy_object_to(other, stub)
    assert b"".join(other.read_verified(stub)) == data
    third = ObjectStore(tmp_path / "third")
    third.import_object_from(other, stub)
    assert third.has(stub.oid)
    with pytest.raises(ObjectMissing):
        third.import_object_from(ObjectStore(tmp_path / "empty"), Stub("2" * 64, 3))
    fourth = ObjectStore(tmp_path / "fourth")
    assert fourth.adopt_from(third, stub.oid) and not third.has(stub.oid)
    assert b"".join(fourth.read_verified(stub)) == data


OTHER_DISK = "/dev/shm"


@pytest.mark.skipif(not os.path.isdir(OTHER_DISK) or os.stat(OTHER_DISK).st_dev == os.stat("/tmp").st_dev,
                    reason="needs a second file system (tmpfs at /dev/shm)")
def test_objects_on_another_disk_through_a_link_are_published_by_copy(tmp_path: Path) -> None:
    """issue 11 item 13: with objects/ a link to another disk, os.replace from tmp/ fails (EXDEV)
    and every put failed; now the object is copied next to its place, flushed, renamed."""
    import tempfile

    elsewhere = Path(tempfile.mkdtemp(dir=OTHER_DISK, prefix="datax-test-"))
    try:
        root = tmp_path / "datax"
        root.mkdir()
        (root / "objects").symlink_to(elsewhere)
        store = ObjectStore(root)
        small = b"x,y\n" * 1000
        big = random_bytes(IN_MEMORY_LIMIT + 5000, 3)
        stubs = [store.put([small]), store.put([big])]
        fresh = ObjectStore(tmp_path / "fresh")
        fresh.import_object_from(store, stubs[0])
        for stub, data in zip(stubs, [small, big]):
            assert b"".join(store.read_verified(stub)) == data
            assert store.object_path(stub.oid).stat().st_mode & 0o777 == 0o444
        assert leftovers(store.tmp_dir) == []
        assert not [p for p in elsewhere.rglob("*") if p.name.endswith(".tmp")]
    finally:
        import shutil

        shutil.rmtree(elsewhere, ignore_errors=True)


def test_bytes_after_the_frame_make_an_object_corrupt_for_every_reader(store: ObjectStore) -> None:
    """One decompression loop (objectfile.decompressed) for checks, counts, fsck and uploads:
    anything but zstd frames after the object's frame is caught by all of them alike."""
    from gitdatax.store.objectfile import CorruptUpload, object_file_bound

    data = random_bytes(300_000, seed=8)
    stub = store.put_bytes(data)
    path = store.object_path(stub.oid)
    with store.open_upload(stub) as good:  # an intact object is sent whole, byte for byte
        assert b"".join(iter(lambda: good.read(4096), b"")) == path.read_bytes()
    make_writable(path)
    with open(path, "ab") as f:
        f.write(b"not a frame")
    with pytest.raises(CorruptObject, match="zstd"):
        store.check_content(stub)
    assert "cannot be decompressed (zstd" in (store.verify(stub.oid) or "")
    with pytest.raises(CorruptUpload), store.open_upload(stub) as source:
        sent = b""
        while block := source.read(64 << 10):
            sent += block
    assert len(sent) < path.stat().st_size  # the last byte never left
    assert object_file_bound(len(data)) > path.stat().st_size  # the one bound: above zstd's worst case


@pytest.mark.parametrize("unnamed", [True, False])
def test_small_objects_are_written_whole_read_only_and_leave_no_temporary_name(store: ObjectStore, unnamed: bool) -> None:
    """write_small_object: an unnamed file (O_TMPFILE) linked into place, or, where refused, a
    file in tmp/ renamed into place; either way the same read-only object and nothing left."""
    store._unnamed_files = unnamed
    data = random_bytes(40_000, seed=9)
    stub = store.put_bytes(data)
    path = store.object_path(stub.oid)
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0 and path.stat().st_nlink == 1
    assert read_all(store, stub) == data and store.verify(stub.oid) is None
    assert os.listdir(path.parent) == [stub.oid] and leftovers(store.tmp_dir) == []
    assert store.tmp_dir.exists() is not unnamed  # the unnamed way needs no tmp/
    store.write_small_object(stub.oid, path.read_bytes())  # a second writer of the same object
    assert os.listdir(path.parent) == [stub.oid] and read_all(store, stub) == data
