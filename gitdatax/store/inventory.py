"""What the store holds and what it costs: listing, sizes, verification, quarantine, deletion.

The questions code outside the store used to answer by opening object files itself (gc, fsck,
env, the LFS server): asked here, they stay right whatever form an object takes on disk.
Two sizes, never confused:
    content_size(oid)   bytes of the file the object holds (what a stub's `size` says)
    stored_bytes(oid)   bytes the object takes in this store, compressed
Mixed into ObjectStore.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterator

import zstandard

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store.chunked import CHUNKED_ABOVE
from gitdatax.store.packs import ENTRY
from gitdatax.store.objectfile import ZSTD_HEADER_MAX, decompressed, rename_into_store
from gitdatax.stub import is_valid_oid


CHUNK_ENTRY_HEADER = ENTRY.size


class InventoryMixin:
    root: Path
    objects_dir: Path
    bad_dir: Path
    _object_str: Any
    read_manifest: Any
    verify_chunked: Any
    chunk_index: Any
    bad_chunks: Any
    drop_chunks: Any
    chunks_dir: Path

    def object_path(self, oid: str) -> Path:
        """Where object `oid`'s file lives (tests and the store itself; other code asks the
        store its questions instead). Refuses anything but 64 lowercase hex: no path escapes."""
        return Path(self._object_str(oid))

    def iter_oids(self) -> Iterator[str]:
        if not self.objects_dir.is_dir():
            return
        for first in sorted(os.listdir(self.objects_dir)):
            level1 = self.objects_dir / first
            if not level1.is_dir():
                continue
            for second in sorted(os.listdir(level1)):
                level2 = level1 / second
                if not level2.is_dir():
                    continue
                for name in sorted(os.listdir(level2)):
                    if is_valid_oid(name) and name[0:2] == first and name[2:4] == second:
                        yield name

    def content_size(self, oid: str, *, count: bool = True) -> int | None:
        """The size of the content: from the zstd frame header when the frame records it
        (objects compressed while streaming do not), else by decompressing (`count`) or None.
        ObjectMissing when absent; CorruptObject when the object cannot be read."""
        manifest = self.read_manifest(oid)
        if manifest is not None:
            return manifest.size
        try:
            with open(self._object_str(oid), "rb") as f:
                size = zstandard.frame_content_size(f.read(ZSTD_HEADER_MAX))
                if size >= 0:
                    return size
                if not count:
                    return None
                f.seek(0)
                return sum(len(chunk) for chunk in decompressed(f, oid))
        except FileNotFoundError:
            raise ObjectMissing(oid) from None
        except (OSError, zstandard.ZstdError) as exc:
            raise CorruptObject(oid, f"cannot be read: {exc}") from None

    def stored_bytes(self, oid: str, content_size: int | None = None) -> int:
        """Bytes object `oid` takes in this store (0 when absent): its file, and for a chunked
        object the stored bytes of its chunks (shared chunks counted for each object). Given
        its content size (a stub's), an object too small to be chunked costs one stat."""
        try:
            size = os.stat(self._object_str(oid)).st_size
            if content_size is not None and content_size <= CHUNKED_ABOVE:
                return size
            manifest = self.read_manifest(oid)
        except (FileNotFoundError, ObjectMissing):
            return 0
        except CorruptObject:
            return size
        if manifest is not None:
            for cid in dict.fromkeys(manifest.ids()):
                loc = self.chunk_index.get(cid)
                size += loc.stored + CHUNK_ENTRY_HEADER if loc is not None else 0
        return size

    def disk_usage(self) -> tuple[int, int]:
        """(objects, bytes on disk) of the whole store: object files and chunk packs."""
        count = size = 0
        for oid in self.iter_oids():
            count += 1
            try:
                size += os.stat(self._object_str(oid)).st_size
            except FileNotFoundError:
                pass
        try:
            size += sum(e.stat().st_size for e in os.scandir(self.chunks_dir) if e.is_file())
        except FileNotFoundError:
            pass
        return count, size

    def verify(self, oid: str) -> str | None:
        """Re-hash one object fully. None when it is intact, else why it is not."""
        try:
            manifest = self.read_manifest(oid)
        except CorruptObject as exc:
            return exc.why
        except ObjectMissing:
            return "cannot be read (No such file or directory)"
        if manifest is not None:
            return self.verify_chunked(oid, manifest)
        try:
            with open(self._object_str(oid), "rb") as f:
                hasher = hashlib.sha256()
                for chunk in decompressed(f, oid):
                    hasher.update(chunk)
        except CorruptObject as exc:
            return f"cannot be decompressed ({exc.why})"
        except OSError as exc:  # a folder or a dangling link where the object should be
            return f"cannot be read ({exc.strerror})"
        if hasher.hexdigest() != oid:
            return "content does not hash to its oid"
        return None

    def quarantine(self, oid: str) -> Path:
        """Move a corrupt object out of the store into bad/, keeping it for inspection."""
        self.bad_dir.mkdir(parents=True, exist_ok=True)
        try:
            bad = self.bad_chunks(oid)  # a chunked object: its corrupt chunks leave the packs too
        except (CorruptObject, ObjectMissing):
            bad = set()
        if bad:
            self.drop_chunks(bad)
        target = self.bad_dir / oid
        rename_into_store(self._object_str(oid), str(target))
        return target

    def delete(self, oid: str, planned_mtime: int | None = None) -> int:
        """Remove one object; return the bytes freed (0 when absent, or kept).

        With `planned_mtime` (its file's st_mtime_ns when gc chose to delete it), only when the
        file still has that mtime: a writer that skips writing an object because it is stored
        marks it by touching it (ObjectStore.keep_present). The object is first moved aside,
        then its mtime read, then it goes or is put back: a touch before the move is seen here,
        a touch after it finds the object gone and the writer writes it again. Either way the
        object stays in the store."""
        path = self._object_str(oid)
        if planned_mtime is None:
            try:
                size = os.stat(path).st_size
                os.unlink(path)
            except FileNotFoundError:
                return 0
            return size
        aside = f"{path}.{os.getpid()}.gc"  # same folder, and no oid for a name: no listing sees it
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return 0
        st = os.stat(aside)
        if st.st_mtime_ns != planned_mtime:  # touched by a writer meanwhile: put it back
            os.replace(aside, path)  # over a copy written again meanwhile: same name, same bytes
            return 0
        os.unlink(aside)
        return st.st_size
