"""One object file: its zstd frame decompressed as a stream, checked against the stub."""
from __future__ import annotations

import errno
import hashlib
import itertools
import os
import threading
from typing import BinaryIO, Iterable, Iterator

import zstandard

from gitdatax.errors import CorruptObject, FatalError
from gitdatax.stub import Stub

CHUNK = 1 << 20
ZSTD_HEADER_MAX = 18  # the longest zstd frame header: enough to read a recorded content size
COUNTER = itertools.count()  # part of tmp names unique within this process


def decompressed_chunks(f: BinaryIO, stub: Stub) -> Iterator[bytes]:
    reader = zstandard.ZstdDecompressor().stream_reader(f, read_size=CHUNK)
    total = 0
    try:
        while chunk := reader.read(CHUNK):
            total += len(chunk)
            if total > stub.size:
                raise CorruptObject(stub.oid, f"content longer than the expected {stub.size} bytes")
            yield chunk
    except zstandard.ZstdError as exc:
        raise CorruptObject(stub.oid, f"zstd: {exc}") from None
    if total != stub.size:
        raise CorruptObject(stub.oid, f"content is {total} bytes, expected {stub.size}")


_local = threading.local()  # one decompression context per thread, reused


def read_small(f: BinaryIO, stub: Stub) -> bytes:
    """The whole content of a small object file, checked (zstd checksum and size) in memory.
    At most the largest compressed form of `stub.size` bytes is read: a file that is longer
    is corrupt, whatever it holds."""
    bound = stub.size + stub.size // 128 + 1024  # above zstd's worst case (ZSTD_compressBound)
    compressed = f.read(bound + 1)
    if len(compressed) > bound:
        raise CorruptObject(stub.oid, f"object file larger than {stub.size} bytes can compress to")
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    try:
        # max_output_size bounds a frame that lies about its size; the checksum is verified
        content = dctx.decompress(compressed, max_output_size=stub.size + 1)
    except zstandard.ZstdError as exc:
        raise CorruptObject(stub.oid, f"zstd: {exc}") from None
    if len(content) != stub.size:
        raise CorruptObject(stub.oid, f"content is {len(content)} bytes, expected {stub.size}")
    return content


def check_sha256(stub: Stub, chunks: Iterable[bytes]) -> None:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    if hasher.hexdigest() != stub.oid:
        raise CorruptObject(stub.oid, "content does not hash to its oid")


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class ContentChanged(FatalError):
    def __init__(self, oid: str) -> None:
        super().__init__(
            f"git sent other bytes than the file holds, and they were only hashed (sha256 {oid}): "
            "nothing was stored; if the file was still being written, run the command again"
        )


class CorruptUpload(CorruptObject):
    """A local object found corrupt while it was being sent: nothing of it reaches the remote."""

    def __init__(self, oid: str, why: str) -> None:
        super().__init__(oid, why)
        FatalError.__init__(self, f"object {oid} is corrupt in the local store ({why}); nothing was sent: "
                                  "run `git datax fsck` to quarantine it, then restore the file")


class CheckedReader:
    """An object file read for sending to another store, checked as the bytes go: each block is
    decompressed into a counter, so the zstd checksum and the content size are known the moment
    the last byte is read, and CorruptUpload is raised instead of returning it (the remote never
    gets a complete corrupt object). A chunk manifest is checked whole (it is small)."""

    def __init__(self, f: BinaryIO, stub: Stub) -> None:
        from gitdatax.store import manifest

        self._f = f
        self._stub = stub
        self._left = os.fstat(f.fileno()).st_size
        self._counted = 0
        self._done = False
        self._manifest: bytearray | None = None
        self._writer = None
        head = f.read(len(manifest.MAGIC))
        f.seek(0)
        if manifest.is_manifest(head):
            self._manifest = bytearray()
        else:
            self._writer = zstandard.ZstdDecompressor().stream_writer(self, write_size=CHUNK)

    def write(self, data: bytes) -> int:  # the decompressor's output: counted, never kept
        self._counted += len(data)
        if self._counted > self._stub.size:
            raise CorruptUpload(self._stub.oid, f"content longer than the expected {self._stub.size} bytes")
        return len(data)

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._left -= len(data)
        if self._manifest is not None:
            self._manifest += data
        else:
            try:
                self._writer.write(data)  # type: ignore[union-attr]
            except zstandard.ZstdError as exc:
                raise CorruptUpload(self._stub.oid, f"zstd: {exc}") from None
        if self._left <= 0 and not self._done:
            self._done = True
            self._finish()
        return data

    def _finish(self) -> None:
        from gitdatax.store import manifest

        if self._manifest is not None:
            try:
                manifest.decode(bytes(self._manifest), self._stub.oid, self._stub.size)
            except CorruptObject as exc:
                raise CorruptUpload(self._stub.oid, exc.why) from None
        elif self._counted != self._stub.size:
            raise CorruptUpload(self._stub.oid, f"content is {self._counted} bytes, expected {self._stub.size}")

    def check_all(self) -> None:
        """Read to the end, sending nothing (before a link or a reflink, which copy no bytes)."""
        while self.read(CHUNK):
            pass

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "CheckedReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rename_into_store(tmp: str, final: str) -> None:
    """os.replace, and where tmp/ and the destination are on different file systems (a store
    whose objects/ is a link to another disk: EXDEV), a copy next to the destination, flushed to
    disk, then renamed: the object still appears whole or not at all."""
    try:
        os.replace(tmp, final)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    import shutil

    near = f"{final}.{os.getpid()}.{threading.get_ident()}.{next(COUNTER)}.tmp"
    try:
        with open(tmp, "rb") as src, open(near, "xb") as out:
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(near, os.stat(tmp).st_mode & 0o777)
        os.replace(near, final)
        _fsync_dir(os.path.dirname(final))
    except BaseException:
        unlink_quietly(near)
        raise
    unlink_quietly(tmp)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
