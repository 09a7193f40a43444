"""Git's long-running filter protocol (gitattributes(5), "Long Running Filter Process").

One process serves a whole `git add` or `git checkout`. Clean streams the file into the store and
answers with its stub; smudge answers a stub with the content from the store. One bad file fails
that file only: a smudge that cannot produce verified content answers with the stub itself (git
would otherwise abort the whole checkout, as the filter is required) and says why on stderr.
"""
from __future__ import annotations

import itertools
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from gitdatax import git, stub as stubs

from gitdatax.filter import pktline
from gitdatax.filter.background_writer import BackgroundWriter
from gitdatax.errors import FatalError, ObjectMissing, environment_problem
from gitdatax.output import PREFIX
from gitdatax.store.objectstore import ObjectStore, SPOOL_IN_MEMORY
from gitdatax.scan.stub_journal import JournalWriter

if TYPE_CHECKING:  # concurrent.futures imports logging: not on the hot path's start-up
    from concurrent.futures import Future, ThreadPoolExecutor

CAPABILITIES = ("clean", "smudge", "delay")

# A hook for the remotes: given (pathname, stub) for an object missing locally, try to bring it
# into the store and return True when it is there now.
Fetcher = Callable[[str, stubs.Stub], bool]
# The same, in the background, for git's `delay` capability: the future finishes (or raises with
# the reason) once the object is in the store or cannot be; None when there is nowhere to fetch from.
LaterFetcher = Callable[[str, stubs.Stub], "Future[None] | None"]  # None: cannot fetch at all
DELAYED = object()  # smudge_output's answer when the file will come later (status=delayed)


def skip_smudge() -> bool:
    return os.environ.get("GIT_DATAX_SKIP_SMUDGE", "") not in ("", "0", "false")


class FilterProcess:
    def __init__(
        self,
        store: ObjectStore,
        stdin: BinaryIO,
        stdout: BinaryIO,
        stderr: BinaryIO | None = None,
        fetch_missing: Fetcher | None = None,
        fetch_later: LaterFetcher | None = None,
        fetch_now: Callable[[stubs.Stub], bool] | None = None,
    ) -> None:
        self.store = store
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr or sys.stderr.buffer
        self.fetch_missing = fetch_missing
        self.fetch_later = fetch_later
        # Whether a missing object is cheaper to fetch at once than through `delay`
        self.fetch_now = fetch_now or (lambda stub: False)
        # pathname -> (stub, stub bytes, download) for smudges answered with status=delayed
        self._delayed: dict[str, tuple[stubs.Stub, bytes, Future[None]]] = {}
        self._listed: set[str] = set()  # delayed paths already handed back to git
        self._marked_pending = False
        self.skip_smudge = skip_smudge()
        self._index_blobs: dict[str, str] | None = None
        self._cat_file: git.CatFile | None = None
        self._top: Path | None = None
        self._check_pool: ThreadPoolExecutor | None = None
        self.journal = JournalWriter(store.root)
        self.writer = BackgroundWriter(store)
        self._local_checks: set[str] = set()  # delayed paths waiting on a check, not a download

    def say(self, message: str) -> None:
        # surrogateescape: a path that is not UTF-8 is shown as its bytes, as git shows it
        self.stderr.write(f"{PREFIX}: {message}\n".encode("utf-8", "surrogateescape"))
        self.stderr.flush()

    # -- protocol ----------------------------------------------------------------------------

    def handshake(self) -> None:
        try:
            self._handshake()
        except EOFError:  # git went away first (killed, or not git at all): not our bug
            raise pktline.ProtocolError("the other side closed the pipe during the handshake") from None

    def _handshake(self) -> None:
        welcome = pktline.read_text_list(self.stdin)
        if welcome[:1] != ["git-filter-client"] or "version=2" not in welcome[1:]:
            raise pktline.ProtocolError(f"unexpected filter handshake {welcome!r}")
        pktline.write_text_list(self.stdout, ["git-filter-server", "version=2"])
        self.stdout.flush()
        offered = {line.partition("=")[2] for line in pktline.read_text_list(self.stdin)}
        # Delay only when something can fetch in the background; git then sends can-delay=1.
        ours = [c for c in CAPABILITIES if c != "delay" or self.fetch_later is not None]
        pktline.write_text_list(self.stdout, [f"capability={c}" for c in ours if c in offered])
        self.stdout.flush()

    def serve(self) -> None:
        self.handshake()
        while True:
            try:
                request = pktline.read_key_values(self.stdin)
            except EOFError:
                return  # git closed the pipe: the command is done
            command = request.get("command")
            if command == "list_available_blobs":  # no content section follows this one
                self.list_available_blobs()
                self.stdout.flush()
                continue
            pathname = request.get("pathname", "")
            content = pktline.iter_content(self.stdin)
            if command == "clean":
                if self._report_write_failures():
                    _drain(content)  # an earlier file's object was not stored: fail this add
                    pktline.write_text_list(self.stdout, ["status=error"])
                else:
                    self.clean(pathname, content)
            elif command == "smudge":
                self.writer.wait()  # an object cleaned just before may be read back now
                self.smudge(pathname, content, can_delay=request.get("can-delay") == "1")
            else:
                _drain(content)
                pktline.write_text_list(self.stdout, ["status=error"])
            self.stdout.flush()

    def _respond(self, chunks: Iterator[bytes] | list[bytes]) -> None:
        self.stdout.write(_SUCCESS)
        pktline.write_content(self.stdout, iter(chunks))
        pktline.write_flush(self.stdout)  # empty list: the status stays "success"

    # -- clean -------------------------------------------------------------------------------

    def close(self) -> None:
        self.writer.close()
        self._report_write_failures()
        self.journal.flush()
        if self._cat_file is not None:
            self._cat_file.close()
        if self._check_pool is not None:
            self._check_pool.shutdown(wait=False, cancel_futures=True)

    def _report_write_failures(self) -> bool:
        """Say which objects the background writer could not store; True when there were any."""
        failures = self.writer.take_failures()
        for failure in failures:
            self.say(
                f"cannot store {failure.pathname}: {_describe_write_error(failure.error)}; git was given its stub, "
                f"so commit is refused until you fix this and run "
                f"`git add --renormalize -- {shlex.quote(failure.pathname)}`"
            )
        return bool(failures)

    def _work_tree_path(self, pathname: str) -> Path:
        return (self._top or Path(".")) / pathname

    def _probably_unchanged(self, pathname: str, head: bytes) -> bool:
        """Whether the index already holds this path's content: its stub's object is stored and
        has the work tree file's size, and the file starts with the `head` git sent (git may
        clean other bytes under this path: `git hash-object --stdin --path=...`). Git re-cleans
        racily clean files after every checkout; this guess lets those cost a hash instead of a
        compression."""
        try:
            if self._index_blobs is None:
                self._top = git.repo_paths().toplevel
                self._index_blobs = {e.path: e.blob for e in git.index_entries() if e.stage == 0}
                self._cat_file = git.CatFile()
            blob = self._index_blobs.get(pathname)
            if blob is None or self._cat_file is None or self._top is None:
                return False
            data = self._cat_file.read(blob, limit=stubs.MAX_STUB_SIZE)
            stub = stubs.parse(data) if data is not None else None
            if stub is None or not self.store.has(stub.oid):
                return False
            with open(self._top / pathname, "rb") as f:
                return os.fstat(f.fileno()).st_size == stub.size and f.read(len(head)) == head
        except Exception:  # a guess only: any doubt means "compress while streaming"
            return False

    def clean_output(self, content: Iterator[bytes], pathname: str | None = None) -> list[bytes]:
        """What git stores for `content`: its stub; or the content itself when it is empty or
        already a valid stub (clean is idempotent)."""
        head, rest, ended = _peek(content, stubs.MAX_STUB_SIZE + 1)
        if ended and (not head or stubs.parse(head) is not None):
            return [head] if head else []
        if ended and pathname and _may_be_converted_stub(head):  # a stub smudge wrote back, converted
            converted = _stub_after_eol_conversion(pathname, head)
            if converted is not None:
                return [converted.encode()]
        if ended:  # the common case of a small file: no more buffering
            background = (lambda oid, data: self.writer.submit(oid, data, pathname)) if pathname else None
            return [self.store.put_bytes(head, background).encode()]
        if not pathname:
            return [self.store.put(itertools.chain([head], rest)).encode()]
        stub = self.store.put(
            itertools.chain([head], rest),
            likely_present=lambda head: self._probably_unchanged(pathname, head),
            reopen=lambda: open(self._work_tree_path(pathname), "rb"),
            background=lambda oid, data: self.writer.submit(oid, data, pathname),
        )
        return [stub.encode()]

    def clean(self, pathname: str, content: Iterator[bytes]) -> None:
        try:
            output = self.clean_output(content, pathname)
            if len(output) == 1:
                stub = stubs.parse(output[0])
                if stub is not None:
                    self.journal.record(stub)
        except EOFError:  # also pktline.Truncated: git died mid-file, no one to answer, no bug
            raise pktline.ProtocolError(f"git closed the pipe in the middle of {pathname}; "
                                        "nothing was stored for it") from None
        except pktline.ProtocolError:
            raise  # the stream cannot be trusted any more: end the process (one line, exit 1)
        except Exception as exc:  # one file fails, the process carries on
            _drain(content)
            self.say(f"cannot store {pathname}: {_describe(exc)}")
            pktline.write_text_list(self.stdout, ["status=error"])
            return
        self._respond(output)

    # -- smudge ------------------------------------------------------------------------------

    def smudge_output(self, pathname: str, content: Iterator[bytes], can_delay: bool = False) -> Iterator[bytes]:
        """What the work tree gets for `content`: verified data for a stub, else the bytes as
        they are (content committed before its path was tracked). DELAYED when the object is
        being downloaded and git will ask again (only when git said it can wait)."""
        head, rest, ended = _peek(content, stubs.MAX_STUB_SIZE + 1)
        if not ended:
            return _spooled(head, rest)
        stub = stubs.parse(head)
        if stub is None and _may_be_converted_stub(head):
            stub = _stub_after_eol_conversion(pathname, head)
        if stub is None or self.skip_smudge:
            return iter([head] if head else [])
        return self.smudged_content(pathname, stub, head, can_delay)

    def smudge(self, pathname: str, content: Iterator[bytes], can_delay: bool = False) -> None:
        if pathname in self._listed:  # git asks again, with empty content, for a delayed file
            _drain(content)
            self._respond(self._delayed_result(pathname))
            return
        output = self.smudge_output(pathname, content, can_delay)
        if output is DELAYED:
            pktline.write_text_list(self.stdout, ["status=delayed"])
            return
        self._respond(output)

    def smudged_content(self, pathname: str, stub: stubs.Stub, stub_bytes: bytes,
                        can_delay: bool = False) -> Iterator[bytes]:
        """The verified content of `stub`, or the stub itself (with a message) when there is none."""
        try:
            if stub.size <= SPOOL_IN_MEMORY:  # the common case: read it, no look-up first
                try:
                    return self.store.read_verified(stub)
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
                    self._stub_written()
                    self.say(f"{pathname}: cannot fetch object {stub.oid}: {_describe(exc)}; "
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
            return self.store.read_verified(stub)
        except Exception as exc:
            self._stub_written()
            self.say(f"{pathname}: {_describe(exc)}; the stub was checked out instead")
            return iter([stub_bytes])

    # -- delay (gitattributes(5), "Delay") ------------------------------------------------------

    def list_available_blobs(self) -> None:
        """Answer git's list_available_blobs: the delayed paths whose download has finished
        (well or not), blocking until there is at least one; an empty list once all are given."""
        waiting = {p: d[2] for p, d in self._delayed.items() if p not in self._listed}
        ready = [p for p, f in waiting.items() if f.done()]
        if waiting and not ready:
            from concurrent.futures import FIRST_COMPLETED, wait

            wait(set(waiting.values()), return_when=FIRST_COMPLETED)
            ready = [p for p, f in waiting.items() if f.done()]
        self._listed.update(ready)
        pktline.write_text_list(self.stdout, [f"pathname={p}" for p in ready])
        pktline.write_text_list(self.stdout, ["status=success"])

    def _delayed_result(self, pathname: str) -> Iterator[bytes]:
        stub, stub_bytes, future = self._delayed.pop(pathname)
        self._listed.discard(pathname)
        error = future.exception()
        if error is not None:
            self._stub_written()
            if pathname in self._local_checks:  # a local check, not a download, failed
                self.say(f"{pathname}: {_describe(error)}; the stub was checked out instead")
            else:
                self.say(f"{pathname}: cannot fetch object {stub.oid}: {_describe(error)}; "  # type: ignore[arg-type]
                         "the stub was checked out instead")
            return iter([stub_bytes])
        return self.smudged_content(pathname, stub, stub_bytes)

    def _checker(self) -> ThreadPoolExecutor:
        if self._check_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._check_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="datax-check")
        return self._check_pool

    def _stub_written(self) -> None:
        """Leave the mark that tells the post-checkout hook a stub is waiting to be filled in."""
        if not self._marked_pending:
            from gitdatax.sync.worktree import mark_pending

            mark_pending(self.store)
            self._marked_pending = True


_SUCCESS = b"%04xstatus=success\n0000" % (len(b"status=success\n") + 4)  # the status list, framed


_CONVERTED_START = stubs.VERSION_LINE[:-1] + b"\r\n"


def _may_be_converted_stub(head: bytes) -> bool:
    """Cheap first look, on every small file git cleans: a stub's three lines, CRLF-ended, add
    three bytes at most (searching 32 KiB of random bytes for CRLF costs 25 us a file)."""
    return len(head) <= stubs.MAX_STUB_SIZE + 3 and head.startswith(_CONVERTED_START)


def _stub_after_eol_conversion(pathname: str, head: bytes) -> stubs.Stub | None:
    """The stub git turned to CRLF before smudge, when the path's text attribute is not unset
    (a `* text=auto` line after gitdatax's overrides its -text, and core.autocrlf or eol=crlf
    applies: git converts line endings before it runs the smudge filter). The blob in git is
    the canonical stub. Clean gets the same bytes back when smudge had to write the stub (no
    object): they are that stub too. With -text git converts nothing: CRLF bytes are content."""
    stub = stubs.parse(head.replace(b"\r\n", b"\n"))
    if stub is None:
        return None
    try:
        text = git.check_attr("text", [pathname]).get(pathname)
    except Exception:  # noqa: BLE001 - in doubt, the bytes are content
        return None
    return stub if text not in (None, "unset") else None


def _peek(content: Iterator[bytes], limit: int) -> tuple[bytes, Iterator[bytes], bool]:
    """Read at least `limit` bytes (or to the end). Returns (head, rest, whether it ended).
    A first packet of `limit` bytes or more (up to 64 KiB: most small files whole) is returned
    as it is, without a copy."""
    first = next(content, b"")
    if len(first) >= limit:
        second = next(content, None)
        if second is None:
            return first, iter(()), True
        return first, itertools.chain([second], content), False
    head = bytearray(first)
    for chunk in content:
        head += chunk
        if len(head) >= limit:
            return bytes(head), content, False
    return bytes(head), iter(()), True


def _spooled(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    # Git writes all of its content before it reads our answer, so it must be held first.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    spool.write(head)
    for chunk in rest:
        spool.write(chunk)
    spool.seek(0)
    return _read_and_close(spool)  # type: ignore[arg-type]


def _drain(content: Iterator[bytes]) -> None:
    for _ in content:
        pass


def _read_and_close(spool: BinaryIO) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(1 << 20):
            yield chunk


def _describe_write_error(exc: BaseException) -> str:
    if isinstance(exc, (FatalError, OSError)):
        return str(exc)  # OSError says errno, reason and file name: enough to act on
    return f"{type(exc).__name__}: {exc}"


def _describe(exc: Exception) -> str:
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
