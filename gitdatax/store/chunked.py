"""Large objects as content-defined chunks (FastCDC): written on clean, reassembled on read.

A file of more than CHUNKED_ABOVE bytes is cut by FastCDC (pyfastcdc, Cython: about 2.5 GB/s here)
into chunks of about 64 KiB whose boundaries follow the content, so an insertion moves only the
chunks around it. Each chunk is named by its SHA-256, compressed once (kept raw when that does not
pay) and kept once in a pack (packs.py), however many files and versions hold it; the object file
is a manifest of chunk ids (manifest.py). The whole file is still hashed for the oid.

Order of publication: the chunks' pack and its index, then the manifest. A crash at any point
leaves at most a pack no manifest needs (gc's to remove), never a manifest with a hole.
Mixed into ObjectStore.
"""
from __future__ import annotations

import hashlib
import os
from collections import deque
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator, Protocol

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store import manifest as manifests
from gitdatax.store.manifest import Manifest
from gitdatax.store.objectfile import ContentChanged
from gitdatax.store.block_pool import Block, BlockPool
from gitdatax.store.read_ahead import in_order
from gitdatax.store.readable import Joined
from gitdatax.store.packs import ENTRY, RAW, SHA256, STORED, ChunkIndex, Location, PackWriter, entry_crc, pack_chunk
from gitdatax.stub import Stub

if TYPE_CHECKING:  # typed by name only: objectstore imports this module
    ObjectStore = Any

# Content larger than this is chunked: everything put() streams (objectstore.IN_MEMORY_LIMIT).
# Up to it a file is one zstd frame, as before: a new version of a 3 MiB file costs 3 MiB either
# way, and one file per object beats a pack entry plus a manifest (benchmarks/chunked_store.py).
CHUNKED_ABOVE = 4 << 20
# FastCDC's average is avg_size + min_size (pyfastcdc's docs, the paper's cut-point skipping):
# 48 KiB + 16 KiB, measured 64-72 KiB on random and CSV data.
CDC_AVG, CDC_MIN, CDC_MAX = 48 << 10, 16 << 10, 256 << 10
CUT_BLOCK = 4 << 20  # bytes read from git and cut at a time (a few blocks live at once)
READ_AHEAD = 4  # runs (up to RUN_BYTES each) read and checked by two threads while git takes the last
RUN_BYTES = 2 << 20  # bytes of adjacent chunks read with one pread (about 30 chunks; see chunk_runs)
FETCH_BATCH = 4096  # chunk ids asked of another store at once
# Blocks kept for the next file: about as many as are in flight (the batches of PACK_AHEAD, the
# hasher's queue) when the whole-file hash keeps up; 27 MiB held between files.
KEEP_BLOCKS = 6
PACK_BATCH = 8  # chunks hashed and compressed by one task (about 512 KiB)
PACK_AHEAD = 16  # batches being hashed and compressed while the next are cut (8 MiB)
TRY_RAW, PROBE_EVERY = 2, 8  # incompressible chunks in a row before zstd is tried only now and then


def chunker():  # type: ignore[no-untyped-def]
    from pyfastcdc import FastCDC  # the filter imports it only when a large file comes

    return FastCDC(CDC_AVG, min_size=CDC_MIN, max_size=CDC_MAX)


def _hash_and_pack(index: ChunkIndex, level: int, batch: list[memoryview]) -> list[tuple[bytes, int, Any]]:
    """Each chunk's id, length and, when the store lacks it, its packed form (kind, raw length,
    stored bytes, the entry's CRC-32). One task per batch: a task per 64 KiB chunk cost the
    cutting thread more in futures and locks than the hashing saved it.

    After TRY_RAW chunks in a row that zstd could not shrink (weights, media), only every
    PROBE_EVERY-th is tried until one shrinks again: trying each one of a random-bytes file cost
    as much CPU as hashing it. Each batch starts by trying again, so a compressible part of a
    file is missed for at most a batch."""
    out: list[tuple[bytes, int, Any]] = []
    raw_run = 0
    for data in batch:
        cid = hashlib.sha256(data).digest()
        if index.has(cid):
            out.append((cid, len(data), None))
            continue
        if raw_run >= TRY_RAW and raw_run % PROBE_EVERY:
            kind, stored = RAW, data
        else:
            kind, _, stored = pack_chunk(data, level)
        raw_run = raw_run + 1 if kind == RAW else 0
        out.append((cid, len(data), (kind, len(data), stored, entry_crc(cid, kind, stored))))
    return out


class ChunkSource(Protocol):
    """Another store's chunks, fetched in batches: (id, location in its pack, stored entry)."""

    def fetch_chunks(self, cids: list[bytes]) -> Iterator[tuple[bytes, Location, bytes]]: ...


class ChunkSink(Protocol):
    """Another store taking chunks: which it lacks, then the entries, in packs."""

    def missing_chunks(self, cids: list[bytes]) -> list[bytes]: ...

    def receive_chunks(self, entries: Iterable[tuple[bytes, Location, bytes]]) -> None: ...


class _Feed:
    """The stream git sends, cut into chunks a block at a time, hashing every byte for the oid.

    Each chunk is a view into a block, so that no chunk is copied (copying each one out of
    pyfastcdc's `cut_stream`, whose buffer is reused, cost more than the cutting itself); a
    block goes back to the pool (block_pool.py) only once the whole-file hash and every batch
    of its chunks are done with it. FastCDC decides a boundary from the bytes after the chunk's start alone, so
    cutting a block and carrying its last, perhaps cut-short chunk into the next block gives the
    boundaries `cut_stream` gives (tests/test_chunked.py compares them)."""

    def __init__(self, head: bytes, rest: Iterator[bytes], hasher, pool: BlockPool) -> None:  # type: ignore[no-untyped-def]
        self._source = Joined([head], rest)  # git's packets are read straight into the blocks
        self._hasher = hasher
        self._pool = pool
        self.size = 0

    def blocks(self) -> Iterator[tuple[Block, list[memoryview]]]:
        """Each block read (held by this generator until the next is read) and its chunks (the
        last list may be empty). A caller that keeps reading a block's chunks holds it."""
        cdc = chunker()
        pool = self._pool
        carry = memoryview(b"")
        last_block: Block | None = None
        while True:
            block = pool.take()
            view = memoryview(block.buffer)
            view[:len(carry)] = carry
            if last_block is not None:
                pool.release(last_block)  # its carry is copied
            n = self._source.readinto(view[len(carry):len(carry) + CUT_BLOCK])
            eof = n < CUT_BLOCK
            pool.hold(block)
            self._hasher.update(view[len(carry):len(carry) + n], lambda block=block: pool.release(block))
            self.size += n
            view = view[:len(carry) + n]
            pieces = list(cdc.cut_buf(view))
            if not eof and pieces:
                last = pieces.pop()  # the block's end may have cut it short: cut again with what follows
                carry = view[last.offset:]
            yield block, [view[piece.offset:piece.offset + piece.length] for piece in pieces]
            last_block = block
            if eof:
                pool.release(block)
                return

    def chunks(self) -> Iterator[memoryview]:
        for _, chunks in self.blocks():
            yield from chunks


class ChunkedMixin:
    chunk_index: ChunkIndex

    # -- writing -----------------------------------------------------------------------------

    def _put_chunked(self: ObjectStore, head: bytes, rest: Iterator[bytes], expect: Stub | None = None) -> Stub:
        from gitdatax.store.parallel_hash import ParallelSha256

        hasher = ParallelSha256()
        writer = self.new_pack()
        # Shared: gc may not remove a chunk this put finds stored until the manifest is out.
        with self.chunk_lock():
            try:
                feed = _Feed(head, rest, hasher, self.block_pool())
                del head
                chunks = self._cut_and_pack(feed, writer)
                stub = Stub(hasher.hexdigest(), feed.size)
                if expect is not None and stub != expect:
                    raise ContentChanged(expect.oid)
                if self.keep_present(stub.oid) and (not len(writer) or self._stored_whole(stub)):
                    writer.abort()  # stored already, every chunk of it (none was new)
                    return stub
                # New, or a manifest whose chunks went missing (a pack lost, dropped by fsck):
                # the chunks just packed make it whole again
                self.publish_pack(writer)
                self._publish_manifest(stub.oid, Manifest(stub.size, chunks))
                return stub
            except BaseException:
                writer.abort()
                raise
            finally:
                hasher.close()

    def _stored_whole(self: ObjectStore, stub: Stub) -> bool:
        """Whether the stored object is one zstd frame (from before chunking), whole by itself."""
        try:
            return self.read_manifest(stub.oid, stub.size) is None
        except CorruptObject:
            return False  # written again below

    def _cut_and_pack(self: ObjectStore, feed: _Feed, writer: PackWriter) -> list[tuple[bytes, int]]:
        """Cut here; hash each chunk and compress the new ones on two threads (hashlib and zstd
        release the GIL), a batch per task, and write them in stream order as soon as they are
        done, whoever finishes them (a callback): not only when this thread next looks, which
        may be after git sends the next block. This thread only reads and cuts: with the chunk
        hashes and a copy of each chunk on it too, a 128 MiB add took 0.52 s against 0.17 s for
        a whole-file object. A bounded window keeps memory at a few blocks."""
        import threading
        from concurrent.futures import Future, ThreadPoolExecutor

        index = self.chunk_index
        index.has(b"")  # loads the index here, before the threads ask
        chunks: list[tuple[bytes, int]] = []
        pool = self.block_pool()
        # futures of _hash_and_pack in stream order, each with the block its chunks are views of
        pending: deque[tuple[Future, Block]] = deque()
        lock = threading.Lock()  # over `pending`, `chunks` and the writer
        failed: list[BaseException] = []  # a write that failed in a callback, for this thread

        def drain(_: object = None) -> None:
            with lock:
                while not failed and pending and pending[0][0].done():
                    if pending[0][0].exception() is not None:
                        return  # raised by this thread, from result()
                    future, block = pending.popleft()
                    try:
                        for cid, length, packed in future.result():
                            chunks.append((cid, length))
                            if packed is not None:
                                writer.add_stored(cid, *packed)  # a chunk twice in a file: once
                    except BaseException as exc:  # a callback's exception would be lost
                        failed.append(exc)
                        return
                    del future
                    pool.release(block)  # its chunks are written: the buffer may be read into again

        def wait_while_more_than(n: int) -> None:
            while True:
                with lock:
                    oldest = pending[0][0] if len(pending) > n else None
                if oldest is None or failed:
                    break
                oldest.result()  # raises what the task raised
                drain()
            if failed:
                raise failed[0]

        with ThreadPoolExecutor(2, thread_name_prefix="datax-pack") as workers:
            for block, block_chunks in feed.blocks():
                for start in range(0, len(block_chunks), PACK_BATCH):
                    pool.hold(block)
                    future = workers.submit(_hash_and_pack, index, self.level, block_chunks[start:start + PACK_BATCH])
                    with lock:
                        pending.append((future, block))
                    future.add_done_callback(drain)
                    wait_while_more_than(PACK_AHEAD)
            wait_while_more_than(0)
        return chunks

    def block_pool(self: ObjectStore) -> BlockPool:
        """The buffers clean reads content into, kept for the next large file of this process."""
        pool = self.__dict__.get("_block_pool")
        if pool is None:
            pool = self._block_pool = BlockPool(CUT_BLOCK + CDC_MAX, KEEP_BLOCKS)
        return pool

    def read_pool(self: ObjectStore) -> BlockPool:
        """The buffers runs of chunks are read into (a run's stored bytes and entry headers)."""
        pool = self.__dict__.get("_read_pool")
        if pool is None:
            pool = self._read_pool = BlockPool(RUN_BYTES + (RUN_BYTES // CDC_MIN + 1) * ENTRY.size, READ_AHEAD + 2)
        return pool

    def new_pack(self: ObjectStore) -> PackWriter:
        return PackWriter(self.chunks_dir, self.tmp_dir, self.level)

    def publish_pack(self: ObjectStore, writer: PackWriter) -> None:
        published = writer.finish(sync=self.sync_writes)
        if published is not None:
            self.chunk_index.add_published(*published)

    def _publish_manifest(self: ObjectStore, oid: str, manifest: Manifest) -> None:
        fd, tmp = self._new_tmp(".manifest")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(manifest.encode())
            self._publish(tmp, oid)
        except BaseException:
            _unlink(tmp)
            raise

    def has_complete(self: ObjectStore, oid: str) -> bool:
        """`has`, and for a chunked object every chunk it names in a pack of this store (what a
        server's pre-receive asks: an object is there only when all of it is)."""
        if not self.has(oid):
            return False
        try:
            manifest = self.read_manifest(oid)
        except CorruptObject:
            return False
        return manifest is None or not self.missing_chunks(manifest.ids())

    # -- reading -----------------------------------------------------------------------------

    def read_manifest(self: ObjectStore, oid: str, size: int | None = None) -> Manifest | None:
        """The manifest of a chunked object; None for a whole-file object (a zstd frame)."""
        path = self._object_str(oid)
        try:
            with open(path, "rb") as f:
                head = f.read(len(manifests.MAGIC))
                if not manifests.is_manifest(head):
                    return None
                # A manifest lists chunks of at least CDC_MIN bytes but the last: anything longer
                # than that allows is corrupt, and is never read whole into memory.
                limit = manifests.max_manifest_size(size, CDC_MIN) if size is not None else os.fstat(f.fileno()).st_size
                data = head + f.read(limit)
        except FileNotFoundError:
            raise ObjectMissing(oid) from None
        except OSError as exc:  # a folder or a dangling link where the object should be
            raise CorruptObject(oid, f"cannot be read ({exc.strerror})") from None
        return manifests.decode(data, oid, size)

    def iter_chunks(self: ObjectStore, oid: str, manifest: Manifest, check: str = STORED,
                    views: bool = False, streamed: bool = False) -> Iterator[bytes]:
        """The content in pieces of about RUN_BYTES, each chunk checked as `check` says (packs.py:
        STORED as any read of the store, as a whole-file object is checked; ONCE for a second
        read of chunks this process checked a moment ago; SHA256 for fsck). Chunks
        that follow each other in a pack are read with one pread, and runs are read and checked
        ahead on two threads (pread, zstd and SHA-256 release the GIL) while the caller writes
        the last: per-chunk tasks cost more than hashing their 64 KiB. With `views`, each chunk
        as it was read (raw ones: memoryviews of the read), else bytes of a run joined. With
        `streamed` too, the caller is done with a run's views when it asks for the next
        piece after them (it writes them out): their buffer is read into again."""
        for pieces in self._read_runs(oid, manifest, check, keep=True, reuse=streamed or not views):
            if views:
                yield from pieces
            else:
                yield b"".join(pieces)  # one copy, as a decompression makes: bytes for every caller

    def _read_runs(self: ObjectStore, oid: str, manifest: Manifest, check: str, keep: bool,
                   reuse: bool = False) -> Iterator[list]:  # type: ignore[type-arg]
        """The raw chunks of `manifest`, a run at a time, in order, read ahead (see iter_chunks);
        without `keep`, each run is checked and dropped (empty lists). Runs are read into
        buffers of a pool (a fresh read per run cost a page fault per 4 KiB on every checkout);
        with `reuse`, a kept run's buffer goes back to it when the caller asks for the next run,
        else the run's views keep their buffer to themselves."""
        if not manifest.chunks:
            return
        index = self.chunk_index
        pool = self.read_pool() if reuse or not keep else None

        def load(run: list[tuple[bytes, Location]]) -> tuple[Block | None, list]:  # type: ignore[type-arg]
            block = pool.take() if pool is not None else None
            try:
                pieces = index.read_run(run, check, keep, into=block.buffer if block is not None else None)
            except CorruptObject as exc:
                raise CorruptObject(oid, f"chunk {exc.oid[:16]}: {exc.why}") from None
            if block is not None and not keep:
                pool.release(block)  # type: ignore[union-attr]  # checked, nothing kept
                block = None
            return block, pieces

        runs = chunk_runs(index, (cid for cid, _ in manifest.chunks), oid)
        for block, pieces in in_order(load, runs, READ_AHEAD, "datax-read"):
            yield pieces
            del pieces
            if block is not None:
                pool.release(block)  # type: ignore[union-attr]

    def open_as_frame(self: ObjectStore, stub: Stub) -> BinaryIO:
        """The object as one zstd frame, whatever its form here: for a peer that reads only
        whole-file objects (a server or client from before chunking). A chunked object is
        compressed while it is read, its chunks checked on the way."""
        manifest = self.read_manifest(stub.oid, stub.size) if stub.size > CHUNKED_ABOVE else None
        if manifest is None:
            return self.open_compressed(stub.oid)
        import zstandard

        content = _IterReader(self.iter_chunks(stub.oid, manifest))
        compressor = zstandard.ZstdCompressor(level=self.level, write_checksum=True)
        return compressor.stream_reader(content, size=stub.size, read_size=1 << 20)  # type: ignore[return-value]

    def check_chunks(self: ObjectStore, oid: str, manifest: Manifest) -> None:
        """Read and check every chunk (STORED), keeping nothing: CorruptObject naming the object
        and the chunk unless all are present and intact."""
        for _ in self._read_runs(oid, manifest, STORED, keep=False):
            pass

    def verify_chunked(self: ObjectStore, oid: str, manifest: Manifest) -> str | None:
        """fsck's question: every chunk hashing to its id, and the whole to the oid?"""
        hasher = hashlib.sha256()
        try:
            for data in self.iter_chunks(oid, manifest, SHA256):
                hasher.update(data)
        except CorruptObject as exc:
            return exc.why
        if hasher.hexdigest() != oid:
            return "content does not hash to its oid"
        return None


def chunk_runs(index: ChunkIndex, cids: Iterable[bytes], oid: str | None = None) -> Iterator[list[tuple[bytes, Location]]]:
    """Chunks `cids` with their locations, in order, cut into runs of entries that follow each
    other in one pack, up to RUN_BYTES each, counted as the larger of stored and raw (what a
    reader holds once it is decompressed: 2 MiB stored of CSV were 5 MiB read ahead), a chunk
    shared with another version may be in another pack: a run of its own. CorruptObject (naming
    `oid`, when given) for a chunk that is in no pack."""
    run: list[tuple[bytes, Location]] = []
    size = 0
    end = None
    for cid in cids:
        try:
            loc = index.locate(cid)
        except CorruptObject as exc:
            if oid is None:
                raise
            raise CorruptObject(oid, f"chunk {exc.oid[:16]}: {exc.why}") from None
        weight = max(loc.stored, loc.raw)
        if run and (loc.pack != run[-1][1].pack or loc.offset != end or size + weight > RUN_BYTES):
            yield run
            run, size = [], 0
        run.append((cid, loc))
        size += weight
        end = loc.offset + ENTRY.size + loc.stored
    if run:
        yield run


class _IterReader:
    """Chunks as a file to read (what zstd's stream_reader takes)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._pending) < n:
            more = next(self._chunks, None)
            if more is None:
                break
            self._pending += more
        if n < 0:
            n = len(self._pending)
        data, self._pending = self._pending[:n], self._pending[n:]
        return data


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
