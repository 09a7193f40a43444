"""Smudge, without git's protocol: a stub in, its verified content out, fetched from a remote
when the store lacks it, or later (git's `delay`) when git said it can wait.

One bad file fails that file only: a smudge that cannot produce verified content gives the stub
itself (git would otherwise abort the whole checkout, as the filter is required) and says why.
Used by the filter process for each file git sends, and by `git datax smudge`.
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from gitdatax import stub as stubs
from gitdatax.errors import FatalError, ObjectMissing, environment_problem
from gitdatax.filter.clean import may_be_converted_stub, peek, stub_after_eol_conversion
from gitdatax.store.objectstore import SPOOL_IN_MEMORY, ObjectStore

if TYPE_CHECKING:  # concurrent.futures imports logging: not on the hot path's start-up
    from concurrent.futures import Future, ThreadPoolExecutor

# A hook for the remotes: given (pathname, stub) for an object missing locally, try to bring it
# into the store and return True when it is there now.
Fetcher = Callable[[str, stubs.Stub], bool]
# The same, in the background, for git's `delay` capability: the future finishes (or raises with
# the reason) once the object is in the store or cannot be; None when there is nowhere to fetch from.
LaterFetcher = Callable[[str, stubs.Stub], "Future[None] | None"]  # None: cannot fetch at all
DELAYED = object()  # Smudger.smudge's answer when the file will come later (status=delayed)


def skip_smudge() -> bool:
    return os.environ.get("GIT_DATAX_SKIP_SMUDGE", "") not in ("", "0", "false")


class Smudger:
    def __init__(self, store: ObjectStore, say: Callable[[str], None], fetch_missing: Fetcher | None = None,
                 fetch_later: LaterFetcher | None = None,
                 fetch_now: Callable[[stubs.Stub], bool] | None = None) -> None:
        self.store = store
        self.say = say
        self.fetch_missing = fetch_missing
        self.fetch_later = fetch_later
        # Whether a missing object is cheaper to fetch at once than through `delay`
        self.fetch_now = fetch_now or (lambda stub: False)
        self.skip_smudge = skip_smudge()
        # pathname -> (stub, stub bytes, download) for smudges answered with DELAYED
        self._delayed: dict[str, tuple[stubs.Stub, bytes, Future[None]]] = {}
        self._listed: set[str] = set()  # delayed paths already handed back to git
        self._local_checks: set[str] = set()  # delayed paths waiting on a check, not a download
        self._check_pool: ThreadPoolExecutor | None = None
        self._marked_pending = False

    def smudge(self, pathname: str, content: Iterator[bytes], can_delay: bool = False) -> Iterator[bytes]:
        """What the work tree gets for `content`: verified data for a stub, else the bytes as
        they are (content committed before its path was tracked). DELAYED when the object is
        being downloaded and will be asked for again (only when the caller said it can wait)."""
        head, rest, ended = peek(content, stubs.MAX_STUB_SIZE + 1)
        if not ended:
            return _spooled(head, rest)
        stub = stubs.parse(head)
        if stub is None and may_be_converted_stub(head):
            stub = stub_after_eol_conversion(pathname, head)
        if stub is None or self.skip_smudge:
            return iter([head] if head else [])
        return self.content_of(pathname, stub, head, can_delay)

    def content_of(self, pathname: str, stub: stubs.Stub, stub_bytes: bytes,
                   can_delay: bool = False) -> Iterator[bytes]:
        """The verified content of `stub`, or the stub itself (with a message) when there is none."""
        try:
            if stub.size <= SPOOL_IN_MEMORY:  # the common case: read it, no look-up first
                try:
                    return self.store.read_verified(stub, views=True)  # pieces only written out
                except ObjectMissing:
                    pass
            if not self.store.has(stub.oid):
                if can_delay and self.fetch_later is not None and pathname not in self._delayed \
                        and not self.fetch_now(stub):
                    download = self.fetch_later(pathname, stub)
                    if download is not None:
                        self._delayed[pathname] = (stub, stub_bytes, download)
                        return DELAYED  # type: ignore[return-value]
                try:
                    fetched = self.fetch_missing is not None and self.fetch_missing(pathname, stub)
                except Exception as exc:  # the same words as a failed background fetch
                    self._fetch_failed(stub, exc)
                    self.say(f"{pathname}: cannot fetch object {stub.oid}: {describe(exc)}; "
                             "the stub was checked out instead")
                    return iter([stub_bytes])
                if not fetched:
                    self._stub_written()
                    self.say(
                        f"{pathname}: object {stub.oid} is not in the local store; "
                        "the stub was checked out (run `git datax pull` to fill it in)"
                    )
                    return iter([stub_bytes])
            if can_delay and stub.size > SPOOL_IN_MEMORY and pathname not in self._delayed \
                    and not self.store.is_verified(stub.oid):
                # Checking a big object takes a full decompression before the first byte may
                # go to git; with `delay`, it runs on another core while git carries on.
                check = self._checker().submit(self.store.check_content, stub)
                self._delayed[pathname] = (stub, stub_bytes, check)
                self._local_checks.add(pathname)
                return DELAYED  # type: ignore[return-value]
            return self.store.read_verified(stub, views=True)  # pieces only written out
        except Exception as exc:
            self._stub_written()
            self.say(f"{pathname}: {describe(exc)}; the stub was checked out instead")
            return iter([stub_bytes])

    # -- delay (gitattributes(5), "Delay") ------------------------------------------------------

    def is_listed(self, pathname: str) -> bool:
        """Whether `pathname` was delayed and has been handed back by `available`."""
        return pathname in self._listed

    def available(self) -> list[str]:
        """The delayed paths whose download has finished (well or not), blocking until there is
        at least one; empty once all have been given."""
        waiting = {p: d[2] for p, d in self._delayed.items() if p not in self._listed}
        ready = [p for p, f in waiting.items() if f.done()]
        if waiting and not ready:
            from concurrent.futures import FIRST_COMPLETED, wait

            wait(set(waiting.values()), return_when=FIRST_COMPLETED)
            ready = [p for p, f in waiting.items() if f.done()]
        self._listed.update(ready)
        return ready

    def delayed_result(self, pathname: str) -> Iterator[bytes]:
        stub, stub_bytes, future = self._delayed.pop(pathname)
        self._listed.discard(pathname)
        error = future.exception()
        if error is not None:
            self._stub_written()
            if pathname in self._local_checks:  # a local check, not a download, failed
                self.say(f"{pathname}: {describe(error)}; the stub was checked out instead")  # type: ignore[arg-type]
            else:
                self._fetch_failed(stub, error)
                self.say(f"{pathname}: cannot fetch object {stub.oid}: {describe(error)}; "  # type: ignore[arg-type]
                         "the stub was checked out instead")
            return iter([stub_bytes])
        return self.content_of(pathname, stub, stub_bytes)

    def close(self) -> None:
        if self._check_pool is not None:
            self._check_pool.shutdown(wait=False, cancel_futures=True)

    def _checker(self) -> ThreadPoolExecutor:
        if self._check_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._check_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="datax-check")
        return self._check_pool

    def _fetch_failed(self, stub: stubs.Stub, error: BaseException) -> None:
        """A stub written because its download failed: the hook after this checkout is told
        (the mark), so that it does not spend the remote's tries on it a second time."""
        from gitdatax.sync.worktree import note_fetch_failure

        note_fetch_failure(self.store, stub.oid, describe(error))
        self._marked_pending = True

    def _stub_written(self) -> None:
        """Leave the mark that tells the post-checkout hook a stub is waiting to be filled in."""
        if not self._marked_pending:
            from gitdatax.sync.worktree import mark_pending

            mark_pending(self.store)
            self._marked_pending = True


def _spooled(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    # Git writes all of its content before it reads our answer, so it must be held first.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    spool.write(head)
    for chunk in rest:
        spool.write(chunk)
    spool.seek(0)
    return _read_and_close(spool)  # type: ignore[arg-type]


def _read_and_close(spool: BinaryIO) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(1 << 20):
            yield chunk


def describe(exc: BaseException) -> str:
    """One line for the user. Anything but a FatalError or a refused write (a full disk, a size
    limit: errors.environment_problem) is a bug or an environment problem the message alone
    cannot explain: its traceback goes to the crash log (call from an except block)."""
    if isinstance(exc, FatalError):
        return str(exc)
    problem = environment_problem(exc)
    if problem is not None:
        return problem
    from gitdatax.crashlog import details, write_crash_log

    return f"{type(exc).__name__}: {exc} ({details(write_crash_log(sys.argv))})"
