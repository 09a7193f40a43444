"""One object file: its zstd frame decompressed as a stream, checked against the stub."""
from __future__ import annotations

import errno
import hashlib
import itertools
import os
import threading
from typing import BinaryIO, Iterable, Iterator

import zstandard

from gitdatax.errors import CorruptObject, FatalError, ObjectMissing
from gitdatax.stub import Stub

CHUNK = 1 << 20
ZSTD_HEADER_MAX = 18  # the longest zstd frame header: enough to read a recorded content size
COUNTER = itertools.count()  # part of tmp names unique within this process


def object_file_bound(size: int) -> int:
    """The one bound on an object file of `size` content bytes, for every reader and every remote:
    more than zstd can ever produce for them (ZSTD_compressBound plus the frame's header and
    checksum, rounded up generously), and more than their chunk manifest takes. A longer file is
    corrupt (or hostile), whatever it holds, and is never read whole."""
    return size + (size >> 7) + (128 << 10) + 4096


def decompressed(f: BinaryIO, oid: str, size: int | None = None) -> Iterator[bytes]:
    """The content of the zstd frame in `f`, in pieces of at most CHUNK bytes: the one
    decompression loop of the code base (reads, checks, counts, uploads all come here).
    CorruptObject naming `oid` when the frame or its checksum is bad, when anything but frames
    follows it, and (with `size`) as soon as the content is longer than `size` or at its end
    when it is shorter. Output is bounded per piece, so a frame that lies cannot fill memory."""
    reader = zstandard.ZstdDecompressor().stream_reader(f, read_size=CHUNK, read_across_frames=True)
    total = 0
    try:
        while chunk := reader.read(CHUNK):
            total += len(chunk)
            if size is not None and total > size:
                raise CorruptObject(oid, f"content longer than the expected {size} bytes")
            yield chunk
    except zstandard.ZstdError as exc:
        raise CorruptObject(oid, f"zstd: {exc}") from None
    if size is not None and total != size:
        raise CorruptObject(oid, f"content is {total} bytes, expected {size}")


_local = threading.local()  # one decompression context per thread, reused


def read_small(f: BinaryIO, stub: Stub) -> bytes:
    """The whole content of a small object file, checked (zstd checksum and size) in memory, in
    one call: the in-memory twin of `decompressed`. At most object_file_bound(stub.size) bytes
    are read: a file that is longer is corrupt, whatever it holds."""
    bound = object_file_bound(stub.size)
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


def read_small_file(path: str, stub: Stub) -> bytes:
    """The object file of a small object, whole, unchecked: ObjectMissing when absent, and never
    more than object_file_bound(stub.size) plus one bytes (read_small refuses that)."""
    try:
        with open(path, "rb") as f:
            return f.read(object_file_bound(stub.size) + 1)
    except FileNotFoundError:
        raise ObjectMissing(stub.oid) from None


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
    """An object file read for sending to another store, checked as the bytes go: they pass
    through `decompressed` (the content counted, never kept), which is kept ahead of the caller
    so that the zstd checksum and the content size are known before the file's last byte is
    handed out; CorruptUpload is raised instead of returning it (the remote never gets a
    complete corrupt object). A chunk manifest is checked whole (it is small)."""

    def __init__(self, f: BinaryIO, stub: Stub) -> None:
        from gitdatax.store import manifest

        self._f = f
        self._stub = stub
        self._pending = bytearray()  # read from the file, not handed out yet
        self._ended = False
        head = f.read(len(manifest.MAGIC))
        f.seek(0)
        self._manifest = manifest.is_manifest(head)
        if self._manifest:
            self._content: Iterator[bytes] = iter(())
        else:
            self._content = decompressed(_Tee(f, self._pending), stub.oid, stub.size)

    def read(self, n: int = -1) -> bytes:
        if self._manifest and not self._ended:
            self._check_manifest()
        # One byte more than asked stays unread until the check is done: the last byte of the
        # file leaves only after the frame proved whole.
        while not self._ended and (n < 0 or len(self._pending) <= n):
            try:
                next(self._content)
            except StopIteration:
                self._ended = True
            except CorruptObject as exc:
                raise CorruptUpload(self._stub.oid, exc.why) from None
        if n < 0 or n >= len(self._pending):
            data = bytes(self._pending)
            self._pending.clear()
        else:
            with memoryview(self._pending) as view:
                data = bytes(view[:n])
            del self._pending[:n]  # cheap at the front of a bytearray
        return data

    def _check_manifest(self) -> None:
        from gitdatax.store import manifest

        bound = object_file_bound(self._stub.size)
        data = self._f.read(bound + 1)
        self._ended = True
        try:
            if len(data) > bound:
                raise CorruptObject(self._stub.oid, f"chunk manifest larger than a {self._stub.size}-byte object's")
            manifest.decode(data, self._stub.oid, self._stub.size)
        except CorruptObject as exc:
            raise CorruptUpload(self._stub.oid, exc.why) from None
        self._pending += data

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


class _Tee:
    """A file whose every byte read is also appended to `kept`."""

    def __init__(self, f: BinaryIO, kept: bytearray) -> None:
        self._f = f
        self._kept = kept

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._kept += data
        return data


class UnnamedRefused(Exception):
    """This system makes no unnamed files (O_TMPFILE) or cannot link them (no /proc)."""


def write_unnamed(final: str, data: bytes) -> bool:
    """Write an object file as an unnamed file in its own folder (O_TMPFILE) and link it into
    place once whole: one directory entry, and a crash leaves no name behind. True when `final`
    holds the object (written now, or by another writer meanwhile: same name, same bytes);
    UnnamedRefused where the file system or /proc does not allow it; FileNotFoundError when the
    folder is gone."""
    folder = os.path.dirname(final)
    try:
        fd = os.open(folder, os.O_WRONLY | os.O_TMPFILE, 0o444)
    except FileNotFoundError:
        raise
    except OSError:  # EOPNOTSUPP, EISDIR (a kernel without O_TMPFILE), EINVAL
        raise UnnamedRefused() from None
    try:
        write_all(fd, data)
        try:
            # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N, as open(2) shows: Python calls
            # linkat with that flag only when given a src_dir_fd, which linkat ignores for an
            # absolute path, so any open descriptor does (the file's own; opening "/" for it
            # was a read outside the store that serve's audit test caught).
            os.link(f"/proc/self/fd/{fd}", final, src_dir_fd=fd, follow_symlinks=True)
        except FileExistsError:
            pass
        except OSError:
            if not os.path.isdir(folder):
                raise
            raise UnnamedRefused() from None
    finally:
        os.close(fd)
    return True


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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
