"""Small objects compressed and written on a worker thread, so the filter answers git with a stub
as soon as the content is hashed.

Git sends the next file only once it has our answer to this one. Compressing and writing a 32 KiB
object takes about as long as git needs to read and send the next file, so doing it meanwhile
nearly halves a `git add` of many small files (benchmarks/bench.py: 2000 clips).

The answer then comes before the object is on disk, so a failed write must still lose nothing:
- the work tree still holds the file (git add never removes it);
- the filter reports the failure on stderr with the path, and answers git's next request with an
  error, so the `git add` fails as it did when the write was synchronous;
- the oid goes into <store>/unstored, and pre-commit refuses to commit a stub whose object is
  listed there and missing (checks.py), until a later `git add` stores it.
And should the process die with writes queued (killed after git wrote its index), each oid was
listed in <store>/in-flight/<pid>.<n> before git got its stub; the file goes only once every
write has ended, so pre-commit finds the oids that never made it there as well.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from gitdatax.store.objectstore import ObjectStore

UNSTORED = "unstored"  # <store>/unstored: lines "<oid> <path>" whose background write failed
IN_FLIGHT = "in-flight"  # <store>/in-flight/<pid>.<n>: lines "<oid> <path>" queued by a live writer
MAX_PENDING_BYTES = 32 << 20  # content waiting for the worker; submit() blocks beyond this


class Failure(NamedTuple):
    oid: str
    pathname: str
    error: BaseException


class BackgroundWriter:
    def __init__(self, store: "ObjectStore", max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self.store = store
        self.max_pending_bytes = max_pending_bytes
        self._jobs: deque[tuple[str, bytes, str]] = deque()
        self._batch: list[tuple[str, bytes, str]] = []  # taken from _jobs, being written
        self._pending: set[str] = set()  # oids queued or being written
        self._pending_bytes = 0
        self._changed = threading.Condition()
        self._failures: list[Failure] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._intent_path: Path | None = None
        self._intent_fd: int | None = None

    def submit(self, oid: str, content: bytes, pathname: str) -> None:
        """Queue `content` (whose sha256 is `oid`, not in the store) to be compressed and stored."""
        with self._changed:
            if oid in self._pending:
                return
            while self._pending_bytes and self._pending_bytes + len(content) > self.max_pending_bytes:
                self._changed.wait()
            self._note_in_flight(oid, pathname)
            self._pending.add(oid)
            self._pending_bytes += len(content)
            self._jobs.append((oid, content, pathname))
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="datax-writer", daemon=True)
                self._thread.start()

    def take_failures(self) -> list[Failure]:
        """Failures not reported yet (each is recorded in <store>/unstored already)."""
        with self._changed:
            failures, self._failures = self._failures, []
        return failures

    def wait(self) -> None:
        """Block until every queued object is written (or has failed)."""
        with self._changed:
            while self._pending:
                self._changed.wait()

    def close(self) -> None:
        self.wait()
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join()
        if self._intent_fd is not None and self._intent_path is not None:
            # Every write has ended: stored, or failed and listed in <store>/unstored.
            os.close(self._intent_fd)
            self._intent_fd = None
            _unlink_quietly(self._intent_path)

    def _note_in_flight(self, oid: str, pathname: str) -> None:
        """List `oid` as being written, before git can have its stub (see the module's text)."""
        if self._intent_fd is None:
            folder = self.store.root / IN_FLIGHT
            folder.mkdir(parents=True, exist_ok=True)
            _prune_stale(self.store)
            for n in range(1000):
                path = folder / f"{os.getpid()}.{n}"
                try:
                    self._intent_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
                except FileExistsError:  # left by an earlier process of the same pid
                    continue
                self._intent_path = path
                break
            else:
                raise OSError(f"cannot create a file in {folder}")
        os.write(self._intent_fd, f"{oid} {pathname}\n".encode("utf-8", "surrogateescape"))

    def _work(self) -> None:
        try:
            self._write_queued()
        except BaseException as exc:  # a bug here: fail what is queued rather than hang on it
            with self._changed:
                held = [*self._batch, *self._jobs]
                lost = [Failure(oid, pathname, exc) for oid, _, pathname in held if not self.store.has(oid)]
            for failure in lost:  # recorded before anyone waiting is woken
                _record_unstored(self.store.root, failure.oid, failure.pathname)
            with self._changed:
                self._failures.extend(lost)
                self._jobs.clear()
                self._pending.clear()
                self._pending_bytes = 0
                self._thread = None  # the next submit starts a new worker
                self._changed.notify_all()

    def _write_queued(self) -> None:
        compressor = self.store.small_compressor()  # zstd contexts are not shared across threads
        while True:
            with self._changed:  # everything queued so far, in one turn of the lock
                while not self._jobs and not self._closing:
                    self._changed.wait()
                if not self._jobs:
                    return
                batch = self._batch = list(self._jobs)
                self._jobs.clear()
            failures = []
            for oid, content, pathname in batch:
                try:  # the filter looked for it before queueing: no second look here
                    self.store.write_small_object(oid, compressor.compress(content))
                except BaseException as exc:  # reported by the filter's thread; the worker carries on
                    failures.append(Failure(oid, pathname, exc))
            with self._changed:
                self._failures.extend(failures)
            for failure in failures:
                _record_unstored(self.store.root, failure.oid, failure.pathname)
            with self._changed:
                for oid, content, _ in batch:
                    self._pending.discard(oid)
                    self._pending_bytes -= len(content)
                self._batch = []
                self._changed.notify_all()


def _record_unstored(store_root: Path, oid: str, pathname: str) -> None:
    try:
        store_root.mkdir(parents=True, exist_ok=True)
        line = f"{oid} {pathname}\n".encode("utf-8", "surrogateescape")
        fd = os.open(store_root / UNSTORED, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass  # the store cannot be written at all: the stderr message and the failed add remain


def _listed(path: Path) -> set[str]:
    try:
        text = path.read_text("utf-8", "surrogateescape")
    except OSError:
        return set()
    return {line.split(" ", 1)[0] for line in text.splitlines() if line}


def _in_flight(store_root: Path) -> tuple[set[str], set[str]]:
    """(oids queued by filter processes still running, oids left by ones that ended or died)."""
    live: set[str] = set()
    left: set[str] = set()
    try:
        entries = list((store_root / IN_FLIGHT).iterdir())
    except OSError:
        return live, left
    for entry in entries:
        pid = entry.name.split(".", 1)[0]
        (live if pid.isdigit() and _alive(int(pid)) else left).update(_listed(entry))
    return live, left


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def missing_among(store_root: Path, oids: set[str], patience: float = 60.0) -> set[str]:
    """Those of `oids` whose background write failed, or was queued by a filter that died,
    and that the store still lacks. Writes under way in a live filter process are waited for
    (`git commit -a` runs pre-commit while its filter still runs), `patience` seconds at most."""
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore(store_root)
    deadline = time.monotonic() + patience
    while True:
        failed = _listed(store_root / UNSTORED) & oids
        live, left = _in_flight(store_root)
        lost = {oid for oid in (failed | (left & oids)) if not store.has(oid)}
        waiting = {oid for oid in (live & oids) - failed if not store.has(oid)}
        if not waiting or time.monotonic() > deadline:
            return lost | waiting
        time.sleep(0.01)


def _prune_stale(store: "ObjectStore") -> None:
    """Remove the lists left by dead filter processes once every object they name is stored:
    they can no longer explain a missing one. The others stay for pre-commit to find."""
    try:
        entries = list((store.root / IN_FLIGHT).iterdir())
    except OSError:
        return
    for entry in entries:
        pid = entry.name.split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)) and all(store.has(oid) for oid in _listed(entry)):
            _unlink_quietly(entry)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
