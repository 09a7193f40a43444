"""A directory store in the local store's layout: a NAS path, a shared disk, or <bare repo>/datax."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlparse

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store.exchange import SMALL_IMPORT
from gitdatax.remotes import meter
from gitdatax.remotes.base import (RemoteCorruptObject, RemoteError, RemoteObjectMissing, RetryPolicy,
                                  local_store_failure, switch_option)
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


STALE_TMP_SECONDS = 3600  # a file in the store's tmp/ unchanged this long is left over


def path_from_url(url: str) -> Path:
    if url.startswith("file://"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise RemoteError(f"remote {url}: file:// URLs must name a local path")
        if not parsed.path:  # Path("") is the current directory: never a store by accident
            raise RemoteError(f"remote {url}: no path in the URL")
        return Path(unquote(parsed.path))
    return Path(os.path.expanduser(url))


class DirectoryRemote:
    def __init__(self, url: str, options: dict | None = None) -> None:
        self.url = url
        self.root = path_from_url(url)
        self.layout = ObjectStore(self.root)  # same layout: reuse its path rules (oid checks)
        # Copies by default: a hard link makes one inode serve this store and the remote, so one
        # damaged block damages both (and every clone that linked it). Only when asked (`link`).
        self.link = switch_option(url, options or {}, "link", False)
        self.retry = RetryPolicy.from_options(url, options or {})
        # With `create` (a store that goes with a Git repository), the directory is made by the
        # first upload; a download or a look-up never creates it.
        if not self.root.is_dir() and not (options and options.get("create")):
            raise RemoteError(f"remote {url}: no such directory {self.root}")
        # On the file system of the repository itself, objects are copied locally: the work is
        # CPU-bound, and more threads than cores only fight over the GIL (a clone
        # of the standard workload: 1.66 s with 8, 1.41 s with 2). A NAS keeps the default.
        same_device = _same_device(self.root, Path.cwd())
        self.max_parallel: int | None = (os.cpu_count() or 2) if same_device else None
        # ... and fetching one small object costs less than a round trip through git's delay.
        self.cheap_fetches = same_device
        # ... and its small objects are copied fastest by one thread (transfer._run_parallel).
        self.serial_small = same_device
        self._lock = threading.Lock()
        self._tmp_checked = False

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        return {s.oid for s in stubs if self.layout.has_complete(s.oid)}  # chunked: all its chunks too

    def download(self, stub: Stub, store: ObjectStore) -> None:
        try:
            if self.link:  # a hard link: no bytes travel
                store.import_object_from(self.layout, stub, link=True)
            else:  # copied: the progress bar follows the bytes
                progress = meter.current()
                with self.layout.open_compressed(stub.oid) as source:
                    progress.expect(os.fstat(source.fileno()).st_size)
                    # a chunk manifest: the chunks this store lacks come from the remote store
                    store.import_object(meter.MeteredReader(source, progress), stub,  # type: ignore[arg-type]
                                        chunks=self.layout)
        except CorruptObject as exc:
            raise RemoteCorruptObject(self.url, exc) from None
        except (FileNotFoundError, ObjectMissing):  # the remote store lacks it, not ours
            raise RemoteObjectMissing(stub.oid, self.url) from None
        except OSError as exc:
            if local_store_failure(exc, store):  # retrying cannot help, and the remote is not at fault
                raise RemoteError(f"cannot write object {stub.oid} into the local store: {exc}") from None
            raise RemoteError(f"remote {self.url}: cannot read object {stub.oid}: {exc.strerror}", transient=True) from None

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        if not self._tmp_checked:
            self._remove_stale_tmp()
        progress = meter.current()
        try:
            # a large object's bar is scaled from its stored bytes onto its content; a small one
            # moves in one go (and the stat would cost a tenth of a linked push of 2000 clips)
            progress.expect(store.stored_bytes(stub.oid, stub.size) if stub.size > SMALL_IMPORT else None)
            store.copy_object_to(self.layout, stub, link=self.link, copied=progress.moved)
        except OSError as exc:
            raise RemoteError(f"remote {self.url}: cannot write object {stub.oid}: {exc.strerror}") from None

    def _remove_stale_tmp(self) -> None:
        """Once per push: remove the partial copies that interrupted pushes (Ctrl-C, a kill, a
        crash) left in the store's tmp/. A copy being written changes at every block, so a file
        unchanged for an hour has no writer, whichever machine it came from."""
        with self._lock:
            if self._tmp_checked:
                return
            self._tmp_checked = True
            cutoff = time.time() - STALE_TMP_SECONDS
            try:
                entries = list(os.scandir(self.root / "tmp"))
            except OSError:
                return
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    pass  # another push removed it, or we may not: the upload itself will say

    def close(self) -> None:
        pass


def _same_device(path: Path, other: Path) -> bool:
    probe = path
    while not probe.exists() and probe != probe.parent:  # a store made on first upload
        probe = probe.parent
    try:
        return os.stat(probe).st_dev == os.stat(other).st_dev
    except OSError:
        return False
