"""Chunked objects (issue 15): a new version of a large file costs only its changed chunks, in the
local store, on a directory remote and on S3; reading is verified; interruptions leave no hole."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from gitdatax.errors import CorruptObject
from gitdatax.filter import pktline
from gitdatax.remotes import open_remote
from gitdatax.remotes.local import DirectoryRemote
from gitdatax.store.block_pool import BlockPool
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.packs import ENTRY, SHA256
from gitdatax.stub import Stub
from gitdatax.sync import transfer
from helpers import leftovers, make_writable, oid_of
from s3server import S3Server, s3  # noqa: F401 - the fixture

SIZE = 64 << 20


@pytest.fixture(autouse=True)
def isolated_git() -> None:
    """Store and remotes only: no git repository needed (overrides conftest's fixture)."""


def model_versions(size: int = SIZE) -> tuple[bytes, bytes]:
    """A model and its fine-tuned successor: 1% changed in four places, 100 bytes inserted near
    the start (the edits of issue 15's benchmark, at test size)."""
    rng = random.Random(15)
    v1 = rng.randbytes(size)
    v2 = bytearray(v1)
    run = size // 400
    for place in (0.2, 0.45, 0.7, 0.9):
        start = int(size * place)
        v2[start:start + run] = rng.randbytes(run)
    v2[5000:5000] = rng.randbytes(100)
    return v1, bytes(v2)


def csv_versions(size: int = SIZE) -> tuple[bytes, bytes]:
    rows, n = [], 0
    length = 0
    while length < size:
        row = b"%d,%d,%.4f,speaker%d,clip_%06d.wav\n" % (n, n * 7919 % 1000, n * 0.37 % 1, n % 113, n)
        rows.append(row)
        length += len(row)
        n += 1
    v1 = b"".join(rows)
    extra = b"".join(b"%d,%d,%.4f,speaker%d,clip_%06d.wav\n" % (i, i % 97, i * 0.11 % 1, i % 7, i)
                     for i in range(n, n + n // 100))
    return v1, v1 + extra


def put(store: ObjectStore, data: bytes) -> Stub:
    return store.put(data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20))


def read(store: ObjectStore, stub: Stub) -> bytes:
    return b"".join(store.read_verified(stub))


@pytest.mark.parametrize("versions", [model_versions, csv_versions], ids=["model", "csv"])
def test_a_second_version_costs_under_two_percent_locally_and_on_a_directory_remote(tmp_path: Path, versions) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = versions()
    local = ObjectStore(tmp_path / "local")
    s1 = put(local, v1)
    before = local.disk_usage()[1]
    s2 = put(local, v2)
    added = local.disk_usage()[1] - before
    assert s2 == Stub(oid_of(v2), len(v2))
    assert added < 0.02 * len(v2), added
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    remote.upload(s1, local)
    sent_before = remote.layout.disk_usage()[1]
    remote.upload(s2, local)
    assert remote.layout.disk_usage()[1] - sent_before < 0.02 * len(v2)
    clone = ObjectStore(tmp_path / "clone")
    result = transfer.download_missing(remote, clone, [s1, s2], quiet=True)
    assert result.ok, result.failed
    assert read(clone, s1) == v1 and read(clone, s2) == v2
    assert leftovers(clone.tmp_dir) == []


def test_s3_gets_only_the_missing_chunks_in_packs(s3: S3Server, tmp_path: Path) -> None:  # noqa: F811
    v1, v2 = model_versions()
    local = ObjectStore(tmp_path / "local")
    s1, s2 = put(local, v1), put(local, v2)
    remote = open_remote(s3.url("team"), {"endpoint_url": s3.endpoint})
    client = s3.client()

    def bucket_bytes() -> tuple[int, int]:
        items = client.list_objects_v2(Bucket=s3.bucket, Prefix="team/").get("Contents", [])
        return len(items), sum(i["Size"] for i in items)

    try:
        assert transfer.upload_missing(remote, local, [s1], quiet=True).ok
        files1, bytes1 = bucket_bytes()
        assert files1 == 3  # the manifest, one pack and its index: no PUT per chunk
        assert transfer.upload_missing(remote, local, [s2], quiet=True).ok
        files2, bytes2 = bucket_bytes()
        assert bytes2 - bytes1 < 0.02 * len(v2) and files2 == 6
        clone = ObjectStore(tmp_path / "clone")
        assert transfer.download_missing(remote, clone, [s1], quiet=True).ok
        assert transfer.download_missing(remote, clone, [s2], quiet=True).ok
        assert read(clone, s1) == v1 and read(clone, s2) == v2
    finally:
        remote.close()


def _flip_in_chunk(store: ObjectStore, cid: bytes) -> None:
    """One bit of chunk `cid` flipped in its pack, as a failing disk would."""
    loc = store.chunk_index.get(cid)
    pack = store.chunks_dir / f"{loc.pack}.pack"
    make_writable(pack)
    with open(pack, "r+b") as f:
        f.seek(loc.offset + ENTRY.size + loc.stored // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x04]))


def test_a_corrupt_chunk_is_caught_on_read_and_by_fsck_then_refetched(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(12 << 20)
    store = ObjectStore(tmp_path / "local")
    stub = put(store, data)
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    remote.upload(stub, store)
    manifest = store.read_manifest(stub.oid, stub.size)
    _flip_in_chunk(store, manifest.ids()[40])
    fresh = ObjectStore(store.root)  # another process: nothing remembered as verified
    with pytest.raises(CorruptObject, match=f"{stub.oid}.*chunk"):
        fresh.read_verified(stub)
    why = fresh.verify(stub.oid)
    assert why is not None and "chunk" in why
    from gitdatax.maintenance.fsck import verify_store

    count, _, corrupt = verify_store(fresh)
    assert count == 1 and [c.oid for c in corrupt] == [stub.oid]
    again = ObjectStore(store.root)
    assert not again.has(stub.oid)  # quarantined: a pull brings it back, with a good chunk
    assert again.missing_chunks(manifest.ids()) == [manifest.ids()[40]]
    assert transfer.download_missing(remote, again, [stub], quiet=True).ok
    assert read(ObjectStore(store.root), stub) == data


def test_whole_file_objects_from_before_stay_readable_and_mix_with_chunked_ones(tmp_path: Path) -> None:
    old_data, new_data = model_versions(12 << 20)
    store = ObjectStore(tmp_path / "local")
    store.chunking = False  # as every version before chunking wrote them
    old = put(store, old_data)
    assert store.read_manifest(old.oid) is None
    store.chunking = True
    new = put(store, new_data)
    assert store.read_manifest(new.oid) is not None
    assert read(store, old) == old_data and read(store, new) == new_data
    assert store.verify(old.oid) is None and store.verify(new.oid) is None
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    assert transfer.upload_missing(remote, store, [old, new], quiet=True).ok
    clone = ObjectStore(tmp_path / "clone")
    assert transfer.download_missing(remote, clone, [old, new], quiet=True).ok
    assert read(clone, old) == old_data and read(clone, new) == new_data
    assert clone.read_manifest(old.oid) is None  # moved as it is, never recompressed


class _CutAfter:
    """A chunk sink that fails after `n` entries: a push killed half way."""

    def __init__(self, sink, n: int) -> None:  # type: ignore[no-untyped-def]
        self.sink, self.n = sink, n

    def missing_chunks(self, cids):  # type: ignore[no-untyped-def]
        return self.sink.missing_chunks(cids)

    def receive_chunks(self, entries):  # type: ignore[no-untyped-def]
        def cut():  # type: ignore[no-untyped-def]
            for i, entry in enumerate(entries):
                if i == self.n:
                    raise KeyboardInterrupt
                yield entry
        self.sink.receive_chunks(cut())


def test_an_upload_cut_half_way_leaves_no_manifest_and_completes_when_run_again(tmp_path: Path) -> None:
    data = random.Random(4).randbytes(12 << 20)
    store = ObjectStore(tmp_path / "local")
    stub = put(store, data)
    target = ObjectStore(tmp_path / "nas")
    with pytest.raises(KeyboardInterrupt):
        store.send_chunks(stub.oid, _CutAfter(target, 50))
    assert not target.has(stub.oid) and not list(target.chunks_dir.glob("*.idx"))
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})  # the cut may have written nothing
    assert transfer.upload_missing(remote, store, [stub], quiet=True).ok
    clone = ObjectStore(tmp_path / "clone")
    assert transfer.download_missing(remote, clone, [stub], quiet=True).ok
    assert read(clone, stub) == data


def test_a_chunk_index_being_loaded_is_never_read_half_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A push uploads on several threads: one used to see `_ready` set by another still reading
    the indexes, and took a stored chunk for absent ("chunk is not in any pack of the store")."""
    import threading
    import time

    from gitdatax.store import packs

    store = ObjectStore(tmp_path / "local")
    stub = put(store, random.Random(5).randbytes(6 << 20))
    first = store.read_manifest(stub.oid).ids()[0]
    slow_read = packs.read_index

    def read_index(path):  # type: ignore[no-untyped-def]
        time.sleep(0.5)
        return slow_read(path)

    monkeypatch.setattr(packs, "read_index", read_index)
    fresh = ObjectStore(store.root)
    loader = threading.Thread(target=fresh.chunk_index.refresh)
    loader.start()
    time.sleep(0.1)  # the loader holds the lock, reading
    assert fresh.chunk_index.get(first) is not None
    loader.join()


@pytest.mark.parametrize("source", ["pieces", "pkt-lines"])
def test_cutting_a_block_at_a_time_gives_the_boundaries_of_a_stream_cut(tmp_path: Path, source: str) -> None:
    """Clean cuts blocks of the stream git sends and carries each block's last chunk over; the
    chunks must be those pyfastcdc's own stream cut gives (stores written before keep their
    chunks shared with new versions), whatever sizes git's packets come in."""
    import hashlib
    import io

    from gitdatax.store import chunked

    rng = random.Random(7)
    data = rng.randbytes(3 * chunked.CUT_BLOCK + 12345)
    data = data[:5 << 20] + b"\0" * (600 << 10) + data[5 << 20:]  # a run longer than the largest chunk
    expected = [bytes(c.data) for c in chunked.chunker().cut_stream(io.BytesIO(data))]

    def packets():  # irregular sizes, as pkt-lines and the 1 MiB re-blocking give them
        at = chunked.CUT_BLOCK - 1000
        while at < len(data):
            step = rng.choice((1, 777, 65516, 1 << 20))
            yield data[at:at + step]
            at += step

    if source == "pkt-lines":  # read by readinto straight from git's packets, as the filter does
        framed = io.BytesIO()
        pktline.write_content(framed, packets())
        framed.seek(0)
        rest = pktline.iter_content(io.BufferedReader(framed, 8192))  # type: ignore[arg-type]
    else:
        rest = packets()

    class Hasher:  # as ParallelSha256, but at once: each block goes back to the pool right away
        def __init__(self) -> None:
            self.sha = hashlib.sha256()

        def update(self, block: memoryview, done) -> None:  # type: ignore[no-untyped-def]
            self.sha.update(block)
            done()

    hasher = Hasher()
    pool = BlockPool(chunked.CUT_BLOCK + chunked.CDC_MAX, keep=1)  # every block read into the last one
    feed = chunked._Feed(data[:chunked.CUT_BLOCK - 1000], rest, hasher, pool)
    got = [bytes(view) for view in feed.chunks()]
    assert got == expected
    assert feed.size == len(data) and hasher.sha.hexdigest() == hashlib.sha256(data).hexdigest()
    assert len(pool._free) == 1  # every block was given back


@pytest.mark.parametrize("how", ["clean", "upload of raw bytes"])
def test_a_manifest_whose_chunks_went_missing_is_made_whole_by_the_same_content_again(
        tmp_path: Path, how: str) -> None:
    """A store can hold a manifest whose pack is gone (lost, or dropped by fsck on a server).
    The same content coming again, from a `git add` or from a git-lfs client uploading raw bytes
    to serve (import_raw), must bring the chunks back, not be skipped because the oid is there."""
    data = random.Random(9).randbytes(12 << 20)
    store = ObjectStore(tmp_path / "store")
    stub = put(store, data)
    for pack in store.chunks_dir.iterdir():
        make_writable(pack)
        pack.unlink()
    hurt = ObjectStore(store.root)
    assert hurt.has(stub.oid) and not hurt.has_complete(stub.oid)
    if how == "clean":
        assert put(hurt, data) == stub
    else:
        hurt.import_raw(iter([data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)]), stub)
    again = ObjectStore(store.root)
    assert again.has_complete(stub.oid)
    assert read(again, stub) == data



@pytest.mark.parametrize("versions", [model_versions, csv_versions], ids=["raw-chunks", "zstd-chunks"])
def test_a_damaged_local_chunk_never_reaches_a_directory_remote(tmp_path: Path, versions) -> None:  # type: ignore[no-untyped-def]
    """Chunks go to a directory remote as stored, checked by the CRC-32 their index records (not
    decompressed and re-hashed): a flipped bit still stops the object, naming it."""
    from gitdatax.store.objectfile import CorruptUpload
    from gitdatax.store.packs import ZSTD

    data = versions(12 << 20)[0]
    store = ObjectStore(tmp_path / "local")
    stub = put(store, data)
    manifest = store.read_manifest(stub.oid, stub.size)
    cid = manifest.ids()[60]
    assert (store.chunk_index.get(cid).kind == ZSTD) == (versions is csv_versions)
    _flip_in_chunk(store, cid)
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    with pytest.raises(CorruptUpload, match=f"{stub.oid}.*chunk {cid.hex()[:16]}.*CRC-32.*git datax fsck"):
        remote.upload(stub, ObjectStore(store.root))  # another process: nothing remembered
    nas = ObjectStore(tmp_path / "nas")
    assert not nas.has(stub.oid) and nas.missing_chunks([cid]) == [cid]
    assert remote.has_many([stub]) == set()
    # a read checks zstd chunks by their frame checksum and raw ones by their CRC-32: both caught
    with pytest.raises(CorruptObject, match=f"{stub.oid}.*chunk {cid.hex()[:16]}"):
        read(ObjectStore(store.root), stub)


def test_new_packs_record_each_entry_crc_and_packs_indexed_before_stay_readable(tmp_path: Path) -> None:
    """GDXIDX02 records the CRC-32 of every entry as its pack holds it; a store whose packs were
    indexed before (GDXIDX01, no CRC) still reads, sends (each entry then decoded and checked
    as stored) and catches a damaged entry, and what it sends is indexed with CRCs."""
    import zlib

    from gitdatax.store.objectfile import CorruptUpload
    from gitdatax.store.packs import IDX_MAGIC, IDX_MAGIC_V1, encode_index, read_index

    data, other = csv_versions(12 << 20)[0], model_versions(12 << 20)[0]
    store = ObjectStore(tmp_path / "local")
    stubs = [put(store, data), put(store, other)]
    for idx in store.chunks_dir.glob("*.idx"):
        assert idx.read_bytes().startswith(IDX_MAGIC)
        pack = (store.chunks_dir / idx.name.replace(".idx", ".pack")).read_bytes()
        records = read_index(idx).records
        assert records and all(
            loc.crc == zlib.crc32(pack[loc.offset:loc.offset + ENTRY.size + loc.stored]) for _, loc in records)
        make_writable(idx)  # as a version before the CRC wrote it
        idx.write_bytes(encode_index([(cid, loc.offset, loc.stored, loc.raw, loc.kind) for cid, loc in records]))
        assert idx.read_bytes().startswith(IDX_MAGIC_V1)
    old = ObjectStore(store.root)
    assert read(old, stubs[0]) == data and read(old, stubs[1]) == other
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    remote.upload(stubs[0], old)
    nas = ObjectStore(tmp_path / "nas")
    assert all(idx.read_bytes().startswith(IDX_MAGIC) for idx in nas.chunks_dir.glob("*.idx"))
    assert read(nas, stubs[0]) == data
    bad = old.read_manifest(stubs[1].oid, stubs[1].size).ids()[30]
    _flip_in_chunk(old, bad)
    with pytest.raises(CorruptUpload, match=f"{stubs[1].oid}.*chunk {bad.hex()[:16]}.*does not hash"):
        remote.upload(stubs[1], ObjectStore(store.root))
    assert not nas.has(stubs[1].oid)


def test_a_read_checks_raw_chunks_by_their_crc_and_fsck_still_hashes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw chunks (incompressible weights) carry no checksum of their own: a read checks each by
    the CRC-32 its index records, or by SHA-256 under an index from before the CRC. fsck hashes
    every chunk against its id, so even an entry rewritten with a CRC to match is caught there."""
    import hashlib
    import zlib

    from gitdatax.maintenance.fsck import verify_store
    from gitdatax.store import packs
    from gitdatax.store.packs import RAW, encode_index, read_index

    data = model_versions(12 << 20)[0]
    store = ObjectStore(tmp_path / "local")
    stub = put(store, data)
    cid = store.read_manifest(stub.oid, stub.size).ids()[50]
    assert store.chunk_index.get(cid).kind == RAW
    _flip_in_chunk(store, cid)
    with pytest.raises(CorruptObject, match=f"{stub.oid}.*chunk {cid.hex()[:16]}.*does not match its CRC-32"):
        read(ObjectStore(store.root), stub)

    loc = store.chunk_index.get(cid)
    idx = store.chunks_dir / f"{loc.pack}.idx"
    records = read_index(idx).records
    make_writable(idx)
    idx.write_bytes(encode_index([(c, l.offset, l.stored, l.raw, l.kind) for c, l in records]))  # no CRCs
    with pytest.raises(CorruptObject, match=f"{stub.oid}.*chunk {cid.hex()[:16]}.*does not hash to its id"):
        read(ObjectStore(store.root), stub)

    # the damaged entry's CRC recomputed into the index: a read's check passes, fsck's does not
    pack = (store.chunks_dir / f"{loc.pack}.pack").read_bytes()
    recrc = [(c, l.offset, l.stored, l.raw, l.kind, zlib.crc32(pack[l.offset:l.offset + ENTRY.size + l.stored]))
             for c, l in records]
    idx.write_bytes(encode_index(recrc))
    assert read(ObjectStore(store.root), stub) != data
    count, _, corrupt = verify_store(ObjectStore(store.root))
    assert count == 1 and [c.oid for c in corrupt] == [stub.oid]
    # and a read of intact raw chunks hashes none of them
    clean = ObjectStore(tmp_path / "clean")
    v2 = model_versions(12 << 20)[1]
    other = put(clean, v2)
    ids = set(clean.read_manifest(other.oid, other.size).ids())
    digests: list[bytes] = []
    real = hashlib.sha256

    def counting(data: bytes = b"") -> object:
        digests.append(real(data).digest())
        return real(data)

    monkeypatch.setattr(packs.hashlib, "sha256", counting)
    assert read(ObjectStore(clean.root), other) == v2
    assert not ids & set(digests)


@pytest.mark.parametrize("fresh", [True, False], ids=["hashed-on-arrival", "hashed-after"])
def test_a_manifest_that_lies_about_its_content_is_refused_on_download(tmp_path: Path, fresh: bool) -> None:
    """A download hashes the whole before the manifest is published: on the way in when every
    chunk arrives in order (a fresh clone), else by reading the chunks back. A remote manifest
    naming good chunks of other content of the same size is refused either way."""
    import shutil

    from gitdatax.remotes.base import RemoteCorruptObject

    data = random.Random(8).randbytes(12 << 20)
    other = bytearray(data)
    other[6 << 20] ^= 0xFF
    nas = ObjectStore(tmp_path / "nas")
    good, liar = put(nas, data), put(nas, bytes(other))
    target = nas.object_path(good.oid)
    make_writable(target)
    shutil.copyfile(nas.object_path(liar.oid), target)  # good's oid, the other content's chunks
    clone = ObjectStore(tmp_path / "clone")
    if not fresh:
        put(clone, data[:5 << 20])  # not one of good's chunks: the same content's first chunks
        assert clone.missing_chunks(nas.read_manifest(good.oid).ids()) != nas.read_manifest(good.oid).ids()
    remote = DirectoryRemote(str(tmp_path / "nas"))
    with pytest.raises(RemoteCorruptObject, match=f"{good.oid}.*does not hash to its oid"):
        remote.download(good, clone)
    assert not clone.has(good.oid)
    assert transfer.download_missing(remote, clone, [liar], quiet=True).ok
    assert read(ObjectStore(clone.root), liar) == bytes(other)


def test_a_linked_directory_remote_links_whole_packs_and_copies_the_rest(tmp_path: Path) -> None:
    """`-o link=true` links a chunked object's packs as it links whole-file objects (checked
    first), a pack the remote already holds chunks of is copied from, and a damaged entry stops
    the link."""
    from gitdatax.store.objectfile import CorruptUpload

    v1, v2 = model_versions(12 << 20)
    store = ObjectStore(tmp_path / "local")
    first, second = put(store, v1), put(store, v2)  # two packs: v2's holds only its new chunks
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True, "link": "true"})
    remote.upload(first, store)
    nas = ObjectStore(tmp_path / "nas")
    pack = store.chunk_index.get(store.read_manifest(first.oid).ids()[0]).pack
    assert (nas.chunks_dir / f"{pack}.pack").stat().st_ino == (store.chunks_dir / f"{pack}.pack").stat().st_ino
    assert (nas.chunks_dir / f"{pack}.idx").is_file()
    assert read(ObjectStore(nas.root), first) == v1
    # v2's own pack is damaged: nothing of it is linked, and the object is refused
    new = [c for c in store.read_manifest(second.oid).ids() if store.chunk_index.get(c).pack != pack]
    _flip_in_chunk(store, new[0])
    with pytest.raises(CorruptUpload, match=f"{second.oid}.*CRC-32"):
        remote.upload(second, ObjectStore(store.root))
    bad_pack = store.chunk_index.get(new[0]).pack
    assert not (nas.chunks_dir / f"{bad_pack}.pack").exists() and not nas.has(second.oid)
    # a remote holding some chunks of a pack gets the others copied into a pack of its own
    other = ObjectStore(tmp_path / "other")
    third = put(other, v2)
    target = ObjectStore(tmp_path / "nas2")
    put(target, v1)
    DirectoryRemote(str(target.root), {"link": "true"}).upload(third, other)
    assert read(ObjectStore(target.root), third) == v2
    assert not any(p.stat().st_nlink > 1 for p in target.chunks_dir.glob("*.pack"))


def test_compressible_content_after_incompressible_chunks_is_still_compressed(tmp_path: Path) -> None:
    """Clean stops trying zstd on every chunk of a run of incompressible ones, and probes now and
    then: text that follows 8 MiB of random bytes is still stored compressed."""
    from gitdatax.store.packs import RAW, ZSTD

    rng = random.Random(21)
    text = csv_versions(6 << 20)[0]
    data = rng.randbytes(8 << 20) + text + rng.randbytes(2 << 20)
    store = ObjectStore(tmp_path / "local")
    stub = put(store, data)
    kinds = [store.chunk_index.get(cid).kind for cid in store.read_manifest(stub.oid).ids()]
    offsets, at = [], 0
    for cid, length in store.read_manifest(stub.oid).chunks:
        offsets.append(at)
        at += length
    in_text = [k for k, o in zip(kinds, offsets) if (8 << 20) + (1 << 20) <= o < (8 << 20) + (5 << 20)]
    assert in_text and all(k == ZSTD for k in in_text)
    assert kinds.count(RAW) > len([o for o in offsets if o < 8 << 20]) * 0.9
    stored = sum(os.path.getsize(p) for p in store.chunks_dir.glob("*.pack"))
    assert stored < len(data) - len(text) * 0.6  # the text compressed
    assert read(ObjectStore(store.root), stub) == data



def test_entry_crcs_come_from_zlib_ng_with_zlibs_values() -> None:
    """gitdatax installs zlib-ng for the CRC-32 of every chunk it cleans (6 times zlib's speed);
    its values must be zlib's, which indexes written before hold (checked against the pack's
    bytes in the test above)."""
    import zlib

    from gitdatax.store import packs

    data = random.Random(3).randbytes(200_000)
    assert packs.crc32.__module__.startswith("zlib_ng")
    assert packs.crc32(data, 12345) == zlib.crc32(data, 12345)


def test_pieces_read_as_views_stay_right_while_their_buffers_are_read_into_again(tmp_path: Path) -> None:
    """Over SPOOL_IN_MEMORY, the smudge filter's views of chunks are read into pooled buffers,
    each given back once the next piece is asked for: a reader that writes each piece out
    before the next gets every byte right, on every read (the pool's buffers going round), and
    a small object's pieces, which the caller keeps all at once, never share a buffer."""
    import hashlib

    from gitdatax.store.objectstore import SPOOL_IN_MEMORY

    store = ObjectStore(tmp_path / "store")
    rng = random.Random(21)
    big = rng.randbytes(SPOOL_IN_MEMORY + (6 << 20)) + csv_versions(8 << 20)[0]  # raw runs, then zstd ones
    small = rng.randbytes(12 << 20)
    stubs = [put(store, big), put(store, small)]
    for _ in range(2):
        streamed = hashlib.sha256()
        for piece in store.read_verified(stubs[0], views=True):
            streamed.update(piece)
        assert streamed.hexdigest() == stubs[0].oid
        kept = list(store.read_verified(stubs[1], views=True))
        assert b"".join(kept) == small


def test_joined_content_reads_into_buffers_and_iterates_without_copying_whole_pieces() -> None:
    """store/readable.Joined: what clean read first, then the rest. Read into buffers of any
    size, then iterated, it gives every byte once, in order; a piece handed on whole by
    iteration is the very object given (files up to 4 MiB are buffered by iterating)."""
    from gitdatax.store.readable import Joined

    first, second = b"a" * 1000, b"b" * 3000
    rest = iter([b"c" * 70_000, b"", b"d" * 5])
    joined = Joined([first, b"", second], rest)
    assert next(joined) is first
    buffer = bytearray(1500)
    assert joined.readinto(buffer) == 1500 and bytes(buffer) == b"b" * 1500
    assert joined.readinto(buffer) == 1500 and bytes(buffer) == b"b" * 1500
    assert joined.readinto(memoryview(buffer)[:10]) == 10 and bytes(buffer[:10]) == b"c" * 10
    assert b"".join(joined) == b"c" * 69_990 + b"d" * 5
    assert joined.readinto(buffer) == 0


def test_received_entries_are_checked_ahead_in_order_and_a_bad_one_stops_them(tmp_path: Path) -> None:
    """receive_chunks checks entries on two threads a few batches ahead (decoded_ahead): they
    come out in the order given, each with its raw chunk, and a damaged one deep in the stream
    raises, naming it, with nothing of the pack published."""
    import hashlib

    from gitdatax.store import chunk_exchange
    from gitdatax.store.packs import PackWriter

    rng = random.Random(33)
    raws = [rng.randbytes(64 << 10) if i % 3 else b"row,%d\n" % i * 9000 for i in range(200)]  # 12 MiB raw
    writer = PackWriter(tmp_path / "src", tmp_path / "src")
    for raw in raws:
        writer.add(hashlib.sha256(raw).digest(), raw)
    name, records = writer.finish()  # type: ignore[misc]
    pack = bytearray((tmp_path / "src" / f"{name}.pack").read_bytes())
    ordered = sorted(records, key=lambda r: r[1].offset)

    def entries(damage: int | None = None):  # type: ignore[no-untyped-def]
        for i, (cid, loc) in enumerate(ordered):
            entry = bytes(pack[loc.offset:loc.offset + ENTRY.size + loc.stored])
            if i == damage:
                entry = entry[:-10] + bytes(10)
            yield cid, loc, entry

    out = list(chunk_exchange.decoded_ahead(entries(), SHA256))
    assert [bytes(raw) for _, _, _, raw in out] == raws
    target = ObjectStore(tmp_path / "target")
    bad = ordered[150][0]
    with pytest.raises(CorruptObject) as caught:
        target.receive_chunks(entries(damage=150))
    assert caught.value.oid == bad.hex()
    assert not list(target.chunks_dir.glob("*.idx")) and target.missing_chunks([bad]) == [bad]


def test_chunked_downloads_at_once_share_two_checking_threads_and_each_arrives_whole(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Several large objects downloaded at once (a clone's) have their chunks checked by the
    same two threads of the process, not two more each; every object still arrives whole and
    hashed, and a damaged chunk in one of them fails that one alone."""
    import threading

    from gitdatax.remotes.base import RemoteCorruptObject
    from gitdatax.store import chunk_exchange

    nas = ObjectStore(tmp_path / "nas")
    contents = [random.Random(40 + i).randbytes(6 << 20) for i in range(4)]
    stubs = [put(nas, data) for data in contents]
    bad = nas.read_manifest(stubs[3].oid).chunks[20][0]
    loc = nas.chunk_index.locate(bad)
    pack = nas.chunks_dir / f"{loc.pack}.pack"
    make_writable(pack)
    with open(pack, "r+b") as f:  # a byte of one chunk of the last object
        f.seek(loc.offset + ENTRY.size + 100)
        byte = f.read(1)
        f.seek(loc.offset + ENTRY.size + 100)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(chunk_exchange, "DECODE_BATCH", 256 << 10)  # many batches per object
    from gitdatax.store import read_ahead

    monkeypatch.setattr(read_ahead, "_shared", {})  # a pool of its own, sized as on two cores
    monkeypatch.setattr(read_ahead, "SHARED_THREADS", 2)

    checkers: set[threading.Thread] = set()  # the threads themselves: an ident may be reused
    real_decode = chunk_exchange.decode_entry

    def decode_entry(*args, **kwargs):  # type: ignore[no-untyped-def]
        checkers.add(threading.current_thread())
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(chunk_exchange, "decode_entry", decode_entry)
    clone = ObjectStore(tmp_path / "clone")
    remote = DirectoryRemote(str(tmp_path / "nas"))
    errors: dict[int, BaseException] = {}

    def download(i: int) -> None:
        try:
            remote.download(stubs[i], clone)
        except BaseException as exc:  # noqa: BLE001 - looked at below
            errors[i] = exc

    threads = [threading.Thread(target=download, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(errors) == [3] and isinstance(errors[3], RemoteCorruptObject)
    assert bad.hex()[:16] in str(errors[3]) and not clone.has(stubs[3].oid)
    assert len(checkers) == 2 and all(t.name.startswith("datax-check") for t in checkers)
    fresh = ObjectStore(clone.root)
    assert [read(fresh, stub) for stub in stubs[:3]] == contents[:3]
