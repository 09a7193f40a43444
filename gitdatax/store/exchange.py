"""Objects that arrive from, or leave for, another store: downloads re-hashed before they are
published, uploads linked or copied into a store of the same layout, a migration's objects adopted. Mixed into ObjectStore."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Protocol

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store.objectfile import CHUNK, CheckedReader, CorruptUpload, check_sha256, decompressed, object_file_bound, read_small, read_small_file, rename_into_store, unlink_quietly
from gitdatax.store import manifest as manifests
from gitdatax.store.chunked import CDC_MIN, ChunkSource
from gitdatax.store.packs import ONCE
from gitdatax.stub import Stub

# Raw content up to this size is checked in memory (most objects a server receives).
SMALL_IMPORT = 4 << 20


class _StoreHost(Protocol):
    """What the exchange half needs of the store it is mixed into (ObjectStore): typed here
    rather than imported, so that the two halves do not import each other."""

    def has(self, oid: str) -> bool: ...
    def write_small_object(self, oid: str, compressed: bytes) -> None: ...
    def import_object(self, source: BinaryIO, stub: Stub, chunks: Any = None) -> None: ...
    def read_manifest(self, oid: str, size: int | None = None) -> Any: ...
    def fill_chunks(self, oid: str, manifest: Any, source: Any, whole: Any = None) -> bool: ...
    def send_chunks(self, oid: str, sink: Any, copy: bool = False) -> Any: ...
    def link_packs_to(self, other: Any, manifest: Any) -> int: ...
    def chunk_lock(self, exclusive: bool = False) -> Any: ...
    def iter_chunks(self, oid: str, manifest: Any, check: str = ...) -> Any: ...
    def _object_str(self, oid: str) -> str: ...
    def open_compressed(self, oid: str) -> BinaryIO: ...
    def _new_tmp(self, suffix: str) -> tuple[int, str]: ...
    def _unique_tmp(self, oid: str) -> str: ...
    def _publish(self, tmp_path: str, oid: str, mode: int | None = None) -> None: ...
    def _make_parent(self, final: Path | str) -> None: ...
    def _compressor(self, threads: int = 0) -> Any: ...
    def _compress_file(self, raw_path: str, stub: Stub) -> None: ...
    def _remember_verified(self, oid: str) -> None: ...
    def _verify_and_publish(self, tmp: str, stub: Stub, chunks: Any = None) -> None: ...
    def _import_small(self, chunks: Iterable[bytes], stub: Stub) -> None: ...


class ExchangeMixin:
    def import_object(self: _StoreHost, source: BinaryIO, stub: Stub, chunks: ChunkSource | None = None) -> None:
        """Publish an object file (already compressed, e.g. from a remote) after re-hashing it.

        The bytes are decompressed and their SHA-256 and size checked against the stub before the
        object appears in the store; anything else raises CorruptObject and publishes nothing.
        A chunk manifest brings the chunks this store lacks from `chunks` first (the remote it
        came from), each checked as it arrives; the whole is re-hashed before the manifest is
        published, so the store never holds one with a missing or a wrong chunk.
        """
        if stub.size <= SMALL_IMPORT:  # most objects: read, checked and written once, no re-read
            data = _read_bounded(source, stub)
            check_sha256(stub, [read_small(io.BytesIO(data), stub)])
            if not self.has(stub.oid):
                self.write_small_object(stub.oid, data)
            return
        fd, tmp = self._new_tmp(".obj")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            self._verify_and_publish(tmp, stub, chunks)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def import_object_from(self: _StoreHost, other: _StoreHost, stub: Stub, *, link: bool = False) -> None:
        """Publish object `stub` of another store on this machine (a directory remote): copied,
        or with `link` hard-linked where the file system allows (one inode then serves both
        stores: a damaged disk block damages both); re-hashed before it is published either
        way. ObjectMissing when the other store lacks it."""
        if not link and stub.size <= SMALL_IMPORT:  # most objects: read, checked and written once
            data = read_small_file(other._object_str(stub.oid), stub)
            check_sha256(stub, [read_small(io.BytesIO(data), stub)])
            if not self.has(stub.oid):
                self.write_small_object(stub.oid, data)
            return
        chunked = stub.size > SMALL_IMPORT and other.read_manifest(stub.oid, stub.size) is not None
        if not link or chunked:  # chunks are copied into packs of this store: never linked
            with other.open_compressed(stub.oid) as source:
                self.import_object(source, stub, chunks=other if chunked else None)
            return
        path = other._object_str(stub.oid)
        tmp = self._unique_tmp(stub.oid)
        try:
            os.link(path, tmp)
        except FileNotFoundError:
            if not os.path.exists(path):
                raise ObjectMissing(stub.oid) from None
            raise
        except OSError:
            with other.open_compressed(stub.oid) as source:
                self.import_object(source, stub)
            return
        try:
            self._verify_and_publish(tmp, stub)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def _verify_and_publish(self: _StoreHost, tmp: str, stub: Stub, chunks: ChunkSource | None = None) -> None:
        with open(tmp, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode  # a linked file is most likely read-only already
            if manifests.is_manifest(f.read(len(manifests.MAGIC))):
                f.seek(0)
                manifest = manifests.decode(f.read(manifests.max_manifest_size(stub.size, CDC_MIN)), stub.oid, stub.size)
                with self.chunk_lock():  # gc keeps the chunks until the manifest is out
                    # hashed on the thread writing the chunks: the threads checking them (shared
                    # by every download of this process) are busy with the chunks' own hashes,
                    # and a hasher thread per file made a clone's two 128 MiB downloads fight
                    # over the cores (0.50 s for both, 0.45 s without it)
                    whole = hashlib.sha256()
                    hashed = self.fill_chunks(stub.oid, manifest, chunks, whole)
                    # each chunk was checked as it arrived (or when it was stored): the whole
                    # now, unless it was hashed on the way in
                    if not hashed:
                        check_sha256(stub, self.iter_chunks(stub.oid, manifest, ONCE))
                    elif whole.hexdigest() != stub.oid:
                        raise CorruptObject(stub.oid, "content does not hash to its oid")
                    self._publish(tmp, stub.oid, mode)
                self._remember_verified(stub.oid)
                return
            f.seek(0)
            if stub.size <= SMALL_IMPORT:  # in memory, with this thread's zstd context
                check_sha256(stub, [read_small(f, stub)])
            else:
                check_sha256(stub, decompressed(f, stub.oid, stub.size))
        self._publish(tmp, stub.oid, mode)
        if stub.size > SMALL_IMPORT:  # small objects are read in one go, never checked twice
            self._remember_verified(stub.oid)

    def open_upload(self: _StoreHost, stub: Stub) -> CheckedReader:
        """The object file for sending to another store, checked as it is read (zstd checksum
        and size): a corrupt local object raises CorruptUpload before its last byte leaves."""
        try:
            f = open(self._object_str(stub.oid), "rb")
        except FileNotFoundError:
            raise ObjectMissing(stub.oid) from None
        try:
            return CheckedReader(f, stub)
        except BaseException:
            f.close()
            raise

    def copy_object_to(self: _StoreHost, other: _StoreHost, stub: Stub, *, link: bool = False,
                       copied: Callable[[int], None] | None = None) -> None:
        """Place this store's object `stub` in another store of the same layout on this machine:
        copied (reflinked where the file system offers it, which shares no block once either
        side writes), checked on the way; with `link` hard-linked (one inode for both stores).
        The object is checked before either, and appears in the other store whole or not at all."""
        target = other._object_str(stub.oid)
        # Most objects: read and checked in memory, then written or linked. Without a look for
        # the target first: the caller asked `other` which objects it lacks, and one another
        # uploader puts there meanwhile is kept as it is, by the link or the write.
        if stub.size <= SMALL_IMPORT:
            source_path = self._object_str(stub.oid)
            data = read_small_file(source_path, stub)
            try:
                read_small(io.BytesIO(data), stub)
            except CorruptObject as exc:
                raise CorruptUpload(stub.oid, exc.why) from None
            if not (link and _link_into(other, source_path, target)):
                other.write_small_object(stub.oid, data)
            if copied is not None:  # a progress bar
                copied(len(data))
            return
        if os.path.isfile(target):
            return  # already there (another uploader): same name, same bytes
        other._make_parent(target)
        try:
            if link and (manifest := self.read_manifest(stub.oid, stub.size)) is not None:
                self.link_packs_to(other, manifest)  # the rest are copied just below
            if self.send_chunks(stub.oid, other, copy=True) is not None:
                link = False  # the manifest: copied after the chunks it names, never linked
        except CorruptObject as exc:
            if exc.oid == stub.oid or isinstance(exc, CorruptUpload):
                raise
            raise CorruptUpload(stub.oid, f"chunk {exc.oid[:16]}: {exc.why}") from None
        with self.open_upload(stub) as source:
            if link:
                source.check_all()
                if _link_into(other, self._object_str(stub.oid), target):
                    return
            tmp = other._unique_tmp(stub.oid)
            try:
                with open(self._object_str(stub.oid), "rb") as raw, open(tmp, "xb") as out:
                    if _reflink(raw.fileno(), out.fileno()):
                        source.check_all()
                    else:
                        while block := source.read(CHUNK):
                            out.write(block)
                            if copied is not None:  # a progress bar
                                copied(len(block))
                os.chmod(tmp, 0o444)
                rename_into_store(tmp, target)  # two uploaders of one object: the last rename wins, same bytes
            except BaseException:
                unlink_quietly(str(tmp))
                raise

    def adopt_from(self: _StoreHost, other: _StoreHost, oid: str) -> bool:
        """Move object `oid` of another store on the same file system (a migration's staging
        store) into this one; False when this store had it already (the other keeps its copy)."""
        target = self._object_str(oid)
        if os.path.isfile(target):
            return False
        manifest = other.read_manifest(oid)
        with self.chunk_lock():
            if manifest is not None:  # its chunks first, copied into this store's packs
                self.fill_chunks(oid, manifest, other)
            self._make_parent(target)
            rename_into_store(other._object_str(oid), target)
        return True

    def import_raw(self: _StoreHost, chunks: Iterable[bytes], stub: Stub) -> None:
        """Publish raw content (e.g. from a Git LFS server) only if it hashes to `stub`."""
        if stub.size <= SMALL_IMPORT:
            self._import_small(chunks, stub)
            return
        fd, raw_tmp = self._new_tmp(".raw")
        try:
            hasher = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as raw:
                for chunk in chunks:
                    size += len(chunk)
                    if size > stub.size:
                        raise CorruptObject(stub.oid, f"more than the expected {stub.size} bytes")
                    hasher.update(chunk)
                    raw.write(chunk)
            if size != stub.size or hasher.hexdigest() != stub.oid:
                raise CorruptObject(stub.oid, "downloaded bytes do not match the oid and size")
            if not self.has_complete(stub.oid):  # a chunked one lacking chunks is made whole
                self._compress_file(raw_tmp, stub)
        finally:
            unlink_quietly(raw_tmp)

    def _import_small(self: _StoreHost, chunks: Iterable[bytes], stub: Stub) -> None:
        # Small content (most objects a server receives) is checked in memory and written once,
        # compressed, instead of spooled raw and compressed in a second pass with zstd threads;
        # that cut the server's CPU time in tests/test_serve_load.py by about a quarter. A fresh
        # compressor each time: `git datax serve` runs this in many threads at once.
        buffered = bytearray()
        for chunk in chunks:
            buffered += chunk
            if len(buffered) > stub.size:
                raise CorruptObject(stub.oid, f"more than the expected {stub.size} bytes")
        if len(buffered) != stub.size or hashlib.sha256(buffered).hexdigest() != stub.oid:
            raise CorruptObject(stub.oid, "downloaded bytes do not match the oid and size")
        if not self.has(stub.oid):
            self.write_small_object(stub.oid, self._compressor().compress(bytes(buffered)))


def _read_bounded(source: BinaryIO, stub: Stub) -> bytes:
    """All of `source` (a small object's file), up to object_file_bound(stub.size) plus one
    byte: read_small refuses what is longer."""
    limit = object_file_bound(stub.size) + 1
    parts = []
    got = 0
    while got < limit and (block := source.read(min(CHUNK, limit - got))):
        parts.append(block)
        got += len(block)
    return b"".join(parts)


FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


def _link_into(other: Any, source: str, target: str) -> bool:
    """Hard-link a checked object file into `other` at `target`; False where links are not
    possible (another file system, or not allowed), for the caller to copy instead."""
    other._make_parent(target)
    try:
        os.link(source, target)
    except FileExistsError:
        pass  # another uploader put it there: same name, same bytes
    except OSError:
        return False
    return True


def _reflink(src_fd: int, dst_fd: int) -> bool:
    """Clone the blocks of src into dst (btrfs, XFS, bcachefs; ext4 and tmpfs say no)."""
    import fcntl

    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError:
        return False
