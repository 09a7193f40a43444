"""The local content-addressed store: zstandard-compressed objects under <git-common-dir>/datax.

    objects/<oid[0:2]>/<oid[2:4]>/<oid>   zstd frame with checksum (and the content size when
                                          known before compressing), read-only
    tmp/                                  objects being written; published with os.replace
    bad/                                  objects that failed verification (fsck quarantine)

Objects arriving from or leaving for other stores are store_exchange.py's; reading one object
file is objectfile.py's.

The interface stays narrow (put a stream -> Stub, has oid, open oid -> verified stream) so that
content-defined chunking can later land here without touching stubs, filters or commands.
"""
from __future__ import annotations

import hashlib
import os
import threading
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

import zstandard

from gitdatax.errors import InvalidOid, ObjectMissing
from gitdatax.store.objectfile import CHUNK, COUNTER, ContentChanged, UnnamedRefused, decompressed, read_small, rename_into_store, unlink_quietly, write_all, write_unnamed
from gitdatax.store import tmpfiles
from gitdatax.store.packs import ONCE, ChunkIndex
from gitdatax.store.parallel_hash import ParallelSha256
from gitdatax.store.chunk_maintenance import ChunkMaintenanceMixin
from gitdatax.store.chunked import CHUNKED_ABOVE, ChunkedMixin
from gitdatax.store.chunk_exchange import ChunkExchangeMixin
from gitdatax.store.exchange import ExchangeMixin
from gitdatax.store.inventory import InventoryMixin
from gitdatax.stub import Stub, is_valid_oid

# Level 1: on the standard workload it compresses the CSV to 32% at ~420 MB/s, where level 3
# gives 35% at ~230 MB/s and level 6 33% at ~95 MB/s; incompressible data costs the same at
# every level (zstd stores raw blocks). See benchmarks/compression_levels.py.
DEFAULT_LEVEL = 1
# Content up to this size is hashed in memory before anything is written; larger content is
# compressed while it streams, or only hashed when it is probably stored already (see put()).
IN_MEMORY_LIMIT = 4 << 20
# Smudge output up to this size is verified in memory; larger output is verified by a first
# decompression pass, so that a corrupt object never sends a byte to git.
SPOOL_IN_MEMORY = 16 << 20


class ObjectStore(ChunkedMixin, ChunkExchangeMixin, ChunkMaintenanceMixin, ExchangeMixin, InventoryMixin):
    def __init__(self, root: str | os.PathLike[str], level: int = DEFAULT_LEVEL) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self._objects_str = str(self.objects_dir)
        self.tmp_dir = self.root / "tmp"
        self.bad_dir = self.root / "bad"
        self.chunks_dir = self.root / "chunks"
        self.chunk_index = ChunkIndex(self.chunks_dir)  # read on first use
        self.sync_writes = False  # fsync packs before publishing (off, as for whole objects)
        self.chunking = os.environ.get("GIT_DATAX_CHUNKING", "1") != "0"
        self.level = level
        self._made_dirs: set[str] = set()
        self._tmp_str = str(self.tmp_dir)
        self._tmp_ready = False
        self._small_compressor: zstandard.ZstdCompressor | None = None
        self._unnamed_files = hasattr(os, "O_TMPFILE")  # write_small_object's way, until refused
        # Objects this process re-hashed in full (downloads): a smudge right after need not
        # check them again.
        # oid -> (inode, size, mtime) of the object file when it was last checked in full
        self._verified: dict[str, tuple[int, int, int]] = {}

    @classmethod
    def for_repo(cls, cwd: str | os.PathLike[str] | None = None) -> "ObjectStore":
        from gitdatax import git

        return cls(git.repo_paths(cwd).common_dir / "datax")

    # -- paths -------------------------------------------------------------------------------

    def _object_str(self, oid: str) -> str:
        # Plain strings: this runs for every object of every push and checkout, and three
        # pathlib joins cost more than the stat that follows.
        if not is_valid_oid(oid):
            raise InvalidOid(oid)
        return f"{self._objects_str}/{oid[0:2]}/{oid[2:4]}/{oid}"

    def has(self, oid: str) -> bool:
        return os.path.isfile(self._object_str(oid))

    def keep_present(self, oid: str) -> bool:
        """`has`, for a writer that skips writing `oid` because it is stored (a clean of a file
        git already has): True after marking the object as just used, its mtime set to now, so
        that a gc running meanwhile keeps it (its grace period, and its last look before each
        deletion, read that mtime: inventory.delete); False when it is absent, also when a gc
        took it away a moment ago, and then the writer writes it again."""
        path = self._object_str(oid)
        if not os.path.isfile(path):
            return False
        try:
            os.utime(path)
        except FileNotFoundError:
            return False
        except PermissionError:
            pass  # another user's object in a shared store: only its owner may touch it
        return True

    def _new_tmp(self, suffix: str) -> tuple[int, str]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmpfiles.register(self.tmp_dir)  # so that a signal can remove what this process leaves
        # The pid in the name tells gc which files a killed process left (gc.remove_stale_tmp).
        return tempfile.mkstemp(dir=self.tmp_dir, prefix=f"{os.getpid()}.", suffix=suffix)

    def _publish(self, tmp_path: str, oid: str, mode: int | None = None) -> None:
        """Rename a finished object into place, read-only (`mode`: its mode, when known)."""
        final = self._object_str(oid)
        if mode is None or mode & 0o222:
            os.chmod(tmp_path, 0o444)
        self._make_parent(final)
        self._rename_into_place(tmp_path, final)

    def _make_parent(self, final: Path | str) -> None:
        # Thousands of small objects per `git add`: remember the fan-out folders already made
        # instead of asking the file system (and raising FileExistsError) every time.
        parent = os.path.dirname(final)
        if parent not in self._made_dirs:
            os.makedirs(parent, exist_ok=True)
            self._made_dirs.add(parent)

    def _rename_into_place(self, tmp: str, final: str) -> None:
        try:
            rename_into_store(tmp, final)
        except FileNotFoundError:
            # A folder remembered as made was removed since (a long-running `git datax serve`
            # whose store was cleared or restored): make it again, once, rather than fail every
            # object under it until a restart.
            self._made_dirs.discard(os.path.dirname(final))
            self._make_parent(final)
            rename_into_store(tmp, final)

    def _unique_tmp(self, oid: str) -> str:
        if not self._tmp_ready:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            tmpfiles.register(self.tmp_dir)
            self._tmp_ready = True
        return f"{self._tmp_str}/{oid}.{os.getpid()}.{threading.get_ident()}.{next(COUNTER)}.obj"

    def write_small_object(self, oid: str, compressed: bytes) -> None:
        """Publish an object whose compressed bytes are in memory. Thread-safe. Where the file
        system offers it (Linux: ext4, XFS, btrfs, tmpfs), an unnamed file in the object's own
        folder (O_TMPFILE), linked into place once written: one directory entry instead of a
        file made in tmp/ and renamed across folders (2000 objects of 32 KiB on ext4 here:
        0.16-0.6 s against 0.57-0.76 s), and a crash leaves no name behind. Elsewhere: created
        read-only in tmp/ under a name unique to this process and thread, then renamed."""
        final = self._object_str(oid)
        self._make_parent(final)
        if self._unnamed_files and self._write_unnamed(final, compressed):
            return
        tmp = self._unique_tmp(oid)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileNotFoundError:  # tmp/ was removed since it was made (see _rename_into_place)
            self._tmp_ready = False
            tmp = self._unique_tmp(oid)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            try:
                write_all(fd, compressed)
            finally:
                os.close(fd)
            self._rename_into_place(tmp, final)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def _write_unnamed(self, final: str, compressed: bytes) -> bool:
        try:
            return write_unnamed(final, compressed)
        except FileNotFoundError:  # the fan-out folder was removed since (see _rename_into_place)
            self._made_dirs.discard(os.path.dirname(final))
            self._make_parent(final)
            return write_unnamed(final, compressed)
        except UnnamedRefused:
            self._unnamed_files = False
            return False

    # -- writing -----------------------------------------------------------------------------

    def _compressor(self, threads: int = 0) -> zstandard.ZstdCompressor:
        return zstandard.ZstdCompressor(
            level=self.level, write_checksum=True, write_content_size=True, threads=threads
        )

    def small_compressor(self) -> zstandard.ZstdCompressor:
        """A context for small objects, reused for thousands of them (one per thread)."""
        return self._compressor()

    def put_bytes(self, data: bytes, background: Callable[[str, bytes], None] | None = None) -> Stub:
        """Store content held in memory. With `background`, an object not stored yet is handed
        to it (oid, content) to be written later instead of now (see background_writer.py)."""
        stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
        if self.keep_present(stub.oid):  # as for every file git re-cleans after a checkout
            return stub
        if background is not None:
            # The fan-out folder now, so that a broken store fails this file, not a later one
            self._make_parent(self._object_str(stub.oid))
            background(stub.oid, data)
        else:
            if self._small_compressor is None:
                self._small_compressor = self.small_compressor()
            self.write_small_object(stub.oid, self._small_compressor.compress(data))
        return stub

    def put(
        self,
        chunks: Iterable[bytes],
        likely_present: Callable[[bytes], bool] | None = None,
        reopen: Callable[[], BinaryIO] | None = None,
        background: Callable[[str, bytes], None] | None = None,
    ) -> Stub:
        """Store a stream of content; return its stub. Memory stays bounded whatever the size.

        For content too large to hold, `likely_present` (asked once, given the first bytes)
        says whether the content is
        probably stored already, as when git re-cleans a racily clean file after a checkout. Then
        the stream is only hashed; should the guess be wrong, the content is read again through
        `reopen` (the work tree file) and stored only if it hashes the same, or, without
        `reopen`, it is spooled raw on the way. Otherwise the content is compressed as it
        streams. The guess changes the cost, never the result."""
        iterator = iter(chunks)
        buffered = bytearray()
        for chunk in iterator:
            buffered += chunk
            if len(buffered) > IN_MEMORY_LIMIT:
                if likely_present is not None and likely_present(bytes(buffered)):
                    if reopen is not None:
                        return self._put_hash_first(bytes(buffered), iterator, reopen)
                    return self._put_spooled(bytes(buffered), iterator)
                return self._put_large(bytes(buffered), iterator)
        return self.put_bytes(bytes(buffered), background)

    def _put_large(self, head: bytes, rest: Iterator[bytes], expect: Stub | None = None) -> Stub:
        """Content over IN_MEMORY_LIMIT: chunked (chunked.py), or one zstd frame compressed while
        it streams when chunking is off (GIT_DATAX_CHUNKING=0: the benchmark's baseline)."""
        if self.chunking:
            return self._put_chunked(head, rest, expect)
        return self._put_streaming(head, rest, expect)

    def _put_hash_first(self, head: bytes, rest: Iterator[bytes], reopen: Callable[[], BinaryIO]) -> Stub:
        hasher = ParallelSha256(head)
        try:
            size = len(head)
            del head
            for block in _blocks(rest):
                hasher.update(block)
                size += len(block)
            stub = Stub(hasher.hexdigest(), size)
        finally:
            hasher.close()
        if self.keep_present(stub.oid):
            return stub
        with reopen() as source:
            first = source.read(CHUNK)
            return self._put_large(first, iter(lambda: source.read(CHUNK), b""), expect=stub)

    def _put_streaming(self, head: bytes, rest: Iterator[bytes], expect: Stub | None = None) -> Stub:
        hasher = ParallelSha256(head)
        size = len(head)
        fd, tmp = self._new_tmp(".obj")
        try:
            with os.fdopen(fd, "wb") as out:
                # The size is not known up front here, so the frame has no content size; the
                # stub's size is authoritative and is checked on every read.
                writer = self._compressor(threads=2).stream_writer(out, write_size=CHUNK, closefd=False)
                writer.write(head)
                del head
                for block in _blocks(rest):  # 1 MiB pieces: far fewer calls than 64 KiB packets
                    hasher.update(block)
                    size += len(block)
                    writer.write(block)
                writer.flush(zstandard.FLUSH_FRAME)
            stub = Stub(hasher.hexdigest(), size)
            if expect is not None and stub != expect:
                raise ContentChanged(expect.oid)
            if self.keep_present(stub.oid):
                unlink_quietly(tmp)
            else:
                self._publish(tmp, stub.oid)
            return stub
        except BaseException:
            unlink_quietly(tmp)
            raise
        finally:
            hasher.close()

    def _put_spooled(self, head: bytes, rest: Iterator[bytes]) -> Stub:
        hasher = hashlib.sha256(head)
        size = len(head)
        fd, raw_tmp = self._new_tmp(".raw")
        try:
            with os.fdopen(fd, "wb") as raw:
                raw.write(head)
                del head
                for chunk in rest:
                    hasher.update(chunk)
                    raw.write(chunk)
                    size += len(chunk)
            stub = Stub(hasher.hexdigest(), size)
            if not self.keep_present(stub.oid):
                self._compress_file(raw_tmp, stub)
            return stub
        finally:
            unlink_quietly(raw_tmp)

    def _compress_file(self, raw_path: str, stub: Stub) -> None:
        if self.chunking and stub.size > CHUNKED_ABOVE:
            with open(raw_path, "rb") as src:
                self._put_chunked(src.read(CHUNK), iter(lambda: src.read(CHUNK), b""), expect=stub)
            return
        fd, tmp = self._new_tmp(".obj")
        try:
            with open(raw_path, "rb") as src, os.fdopen(fd, "wb") as out:
                # Two threads: zstd releases the GIL, and big files are worth the second core.
                self._compressor(threads=2).copy_stream(src, out, size=stub.size, read_size=CHUNK)
            self._publish(tmp, stub.oid)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def put_file(self, path: str | os.PathLike[str]) -> Stub:
        with open(path, "rb") as f:
            return self.put(iter(lambda: f.read(CHUNK), b""))

    # -- reading -----------------------------------------------------------------------------

    def open_compressed(self, oid: str) -> BinaryIO:
        """The object file itself, for copying to a remote store of the same layout."""
        try:
            return open(self._object_str(oid), "rb")
        except FileNotFoundError:
            raise ObjectMissing(oid) from None

    def stream_content(self, oid: str) -> Iterator[bytes]:
        """The content of `oid` for a reader that does not know its size (the LFS server's GET),
        decompressed as it streams; the zstd checksum is checked at the end, CorruptObject then
        (a chunked object: each chunk checked before it is handed out)."""
        manifest = self.read_manifest(oid)
        if manifest is not None:
            yield from self.iter_chunks(oid, manifest)
            return
        with self.open_compressed(oid) as f:
            yield from decompressed(f, oid)

    def iter_content(self, stub: Stub) -> Iterator[bytes]:
        """Stream the content. Checks the zstd checksum and the size; corruption raises at the
        point it is found, possibly after some chunks were yielded (see read_verified)."""
        manifest = self.read_manifest(stub.oid, stub.size) if stub.size > CHUNKED_ABOVE else None
        if manifest is not None:
            yield from self.iter_chunks(stub.oid, manifest)
            return
        with self.open_compressed(stub.oid) as f:
            yield from decompressed(f, stub.oid, stub.size)

    def read_verified(self, stub: Stub, views: bool = False) -> Iterator[bytes]:
        """The whole content, fully checked (zstd checksum and size) before the first byte is
        handed out. Small content is decompressed once, in memory; large content is checked by
        a first decompression that keeps nothing, then streamed by a second: cheaper than a
        spool file, and memory stays bounded. A chunked object is checked chunk by chunk the same
        way (read ahead on two threads), kept in memory up to SPOOL_IN_MEMORY. With `views`, the
        pieces of a chunked object may be memoryviews of what was read (no copy): for a caller
        that writes each one out before it asks for the next (the smudge filter), since over
        SPOOL_IN_MEMORY their buffers are read into again."""
        manifest = self.read_manifest(stub.oid, stub.size) if stub.size > CHUNKED_ABOVE else None
        if manifest is not None:
            if stub.size <= SPOOL_IN_MEMORY:
                return iter(list(self.iter_chunks(stub.oid, manifest, views=views)))
            if not self.is_verified(stub.oid):
                self.check_chunks(stub.oid, manifest)
                self._remember_verified(stub.oid)
            return self.iter_chunks(stub.oid, manifest, ONCE, views=views, streamed=True)
        if stub.size > SPOOL_IN_MEMORY:
            if not self.is_verified(stub.oid):
                self.check_content(stub)
            return self.iter_content(stub)
        with self.open_compressed(stub.oid) as f:
            content = read_small(f, stub)
        return iter([content])

    def check_content(self, stub: Stub) -> None:
        """Decompress without keeping anything; raise CorruptObject unless the zstd checksum and
        the size are right (a chunked object: unless every chunk is present and intact)."""
        manifest = self.read_manifest(stub.oid, stub.size) if stub.size > CHUNKED_ABOVE else None
        if manifest is not None:
            self.check_chunks(stub.oid, manifest)
            self._remember_verified(stub.oid)
            return
        with self.open_compressed(stub.oid) as f:
            for _ in decompressed(f, stub.oid, stub.size):
                pass
        self._remember_verified(stub.oid)

    def is_verified(self, oid: str) -> bool:
        """Whether this process already checked the object in full and its file has not changed
        since (same inode, size and modification time): no need to check it again."""
        seen = self._verified.get(oid)
        return seen is not None and seen == self._file_identity(oid)

    def _remember_verified(self, oid: str) -> None:
        identity = self._file_identity(oid)
        if identity is not None:
            self._verified[oid] = identity

    def _file_identity(self, oid: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._object_str(oid))
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

def _blocks(chunks: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The same bytes as `chunks`, regrouped into immutable pieces of about `size` bytes."""
    pending: list[bytes] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            length = 0
    if pending:
        yield b"".join(pending)
