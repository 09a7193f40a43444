"""Objects that arrive from, or leave for, another store: downloads re-hashed before they are
published, uploads linked or copied into a store of the same layout, a migration's objects adopted. Mixed into ObjectStore."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Protocol

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store.objectfile import CHUNK, check_sha256, decompressed_chunks, read_small, unlink_quietly
from gitdatax.stub import Stub

# Raw content up to this size is checked in memory (most objects a server receives).
SMALL_IMPORT = 4 << 20


class _StoreHost(Protocol):
    """What the exchange half needs of the store it is mixed into (ObjectStore): typed here
    rather than imported, so that the two halves do not import each other."""

    def has(self, oid: str) -> bool: ...
    def write_small_object(self, oid: str, compressed: bytes) -> None: ...
    def import_object(self, source: BinaryIO, stub: Stub) -> None: ...
    def _object_str(self, oid: str) -> str: ...
    def open_compressed(self, oid: str) -> BinaryIO: ...
    def _new_tmp(self, suffix: str) -> tuple[int, str]: ...
    def _unique_tmp(self, oid: str) -> str: ...
    def _publish(self, tmp_path: str, oid: str, mode: int | None = None) -> None: ...
    def _make_parent(self, final: Path | str) -> None: ...
    def _compressor(self, threads: int = 0) -> Any: ...
    def _compress_file(self, raw_path: str, stub: Stub) -> None: ...
    def _remember_verified(self, oid: str) -> None: ...
    def _verify_and_publish(self, tmp: str, stub: Stub) -> None: ...
    def _import_small(self, chunks: Iterable[bytes], stub: Stub) -> None: ...


class ExchangeMixin:
    def import_object(self: _StoreHost, source: BinaryIO, stub: Stub) -> None:
        """Publish an object file (already compressed, e.g. from a remote) after re-hashing it.

        The bytes are decompressed and their SHA-256 and size checked against the stub before the
        object appears in the store; anything else raises CorruptObject and publishes nothing.
        """
        fd, tmp = self._new_tmp(".obj")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            self._verify_and_publish(tmp, stub)
        except BaseException:
            unlink_quietly(tmp)
            raise

    def import_object_from(self: _StoreHost, other: _StoreHost, stub: Stub) -> None:
        """Publish object `stub` of another store on this machine (a directory remote):
        hard-linked when the file system allows (objects are read-only and named by their
        content, as git's own local clones link theirs), else copied; re-hashed before it is
        published either way. ObjectMissing when the other store lacks it."""
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

    def _verify_and_publish(self: _StoreHost, tmp: str, stub: Stub) -> None:
        with open(tmp, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode  # a linked file is most likely read-only already
            if stub.size <= SMALL_IMPORT:  # in memory, with this thread's zstd context
                check_sha256(stub, [read_small(f, stub)])
            else:
                check_sha256(stub, decompressed_chunks(f, stub))
        self._publish(tmp, stub.oid, mode)
        if stub.size > SMALL_IMPORT:  # small objects are read in one go, never checked twice
            self._remember_verified(stub.oid)

    def copy_object_to(self: _StoreHost, other: _StoreHost, oid: str) -> None:
        """Place this store's object `oid` in another store of the same layout on this machine.
        A hard link is made straight in place (it appears whole or not at all, and the source is
        complete and read-only); across file systems the file is copied to the other store's
        tmp/ and renamed."""
        source = self._object_str(oid)
        target = other._object_str(oid)
        other._make_parent(target)
        try:
            os.link(source, target)
            return
        except FileExistsError:
            return  # already there (another uploader): same name, same bytes
        except FileNotFoundError:
            if not os.path.exists(source):
                raise ObjectMissing(oid) from None
            raise
        except OSError:
            pass  # another file system, or links not allowed: copy
        tmp = other._unique_tmp(oid)
        try:
            with open(source, "rb") as src, open(tmp, "xb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)  # two uploaders of one object: the last rename wins, same bytes
        except BaseException:
            unlink_quietly(str(tmp))
            raise

    def adopt_from(self: _StoreHost, other: _StoreHost, oid: str) -> bool:
        """Move object `oid` of another store on the same file system (a migration's staging
        store) into this one; False when this store had it already (the other keeps its copy)."""
        target = self._object_str(oid)
        if os.path.isfile(target):
            return False
        self._make_parent(target)
        os.replace(other._object_str(oid), target)
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
            if not self.has(stub.oid):
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

