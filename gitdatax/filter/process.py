"""Git's long-running filter protocol (gitattributes(5), "Long Running Filter Process").

One process serves a whole `git add` or `git checkout`: this module speaks the protocol (the
handshake, one request after another, the `delay` listing) and hands the content to a Cleaner
(clean.py) or a Smudger (smudge.py), which do the work without knowing about pkt-lines.
"""
from __future__ import annotations

import shlex
import sys
from typing import BinaryIO, Callable, Iterator

from gitdatax import output, stub as stubs
from gitdatax.errors import FatalError, ProtocolError
from gitdatax.filter import pktline
from gitdatax.filter.background_writer import Failure
from gitdatax.filter.clean import Cleaner
from gitdatax.filter.smudge import DELAYED, Fetcher, LaterFetcher, Smudger, describe
from gitdatax.store.objectstore import ObjectStore

CAPABILITIES = ("clean", "smudge", "delay")
_SUCCESS = b"%04xstatus=success\n0000" % (len(b"status=success\n") + 4)  # the status list, framed


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
        self.cleaner = Cleaner(store)
        self.smudger = Smudger(store, self.say, fetch_missing, fetch_later, fetch_now)

    def say(self, message: str) -> None:
        output.say(message, self.stderr)

    def handshake(self) -> None:
        try:
            self._handshake()
        except EOFError:  # git went away first (killed, or not git at all): not our bug
            raise ProtocolError("the other side closed the pipe during the handshake") from None

    def _handshake(self) -> None:
        welcome = pktline.read_text_list(self.stdin)
        if welcome[:1] != ["git-filter-client"] or "version=2" not in welcome[1:]:
            raise ProtocolError(f"unexpected filter handshake {welcome!r}")
        pktline.write_text_list(self.stdout, ["git-filter-server", "version=2"])
        self.stdout.flush()
        offered = {line.partition("=")[2] for line in pktline.read_text_list(self.stdin)}
        # Delay only when something can fetch in the background; git then sends can-delay=1.
        ours = [c for c in CAPABILITIES if c != "delay" or self.smudger.fetch_later is not None]
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
                self.cleaner.writer.wait()  # an object cleaned just before may be read back now
                self.smudge(pathname, content, can_delay=request.get("can-delay") == "1")
            else:
                _drain(content)
                pktline.write_text_list(self.stdout, ["status=error"])
            self.stdout.flush()

    def close(self) -> None:
        self._say_write_failures(self.cleaner.close())
        self.smudger.close()

    def clean(self, pathname: str, content: Iterator[bytes]) -> None:
        try:
            answer = self.cleaner.clean(content, pathname)
        except EOFError:  # also pktline.Truncated: git died mid-file, no one to answer, no bug
            raise ProtocolError(f"git closed the pipe in the middle of {pathname}; "
                                        "nothing was stored for it") from None
        except ProtocolError:
            raise  # the stream cannot be trusted any more: end the process (one line, exit 1)
        except Exception as exc:  # one file fails, the process carries on
            _drain(content)
            self.say(f"cannot store {pathname}: {describe(exc)}")
            pktline.write_text_list(self.stdout, ["status=error"])
            return
        self._respond(answer)

    def smudge(self, pathname: str, content: Iterator[bytes], can_delay: bool = False) -> None:
        if self.smudger.is_listed(pathname):  # git asks again, with empty content, for a delayed file
            _drain(content)
            self._respond(self.smudger.delayed_result(pathname))
            return
        answer = self.smudger.smudge(pathname, content, can_delay)
        if answer is DELAYED:
            pktline.write_text_list(self.stdout, ["status=delayed"])
            return
        self._respond(answer)

    def list_available_blobs(self) -> None:
        """Answer git's list_available_blobs: the delayed paths whose download has finished
        (well or not), blocking until there is at least one; an empty list once all are given."""
        pktline.write_text_list(self.stdout, [f"pathname={p}" for p in self.smudger.available()])
        pktline.write_text_list(self.stdout, ["status=success"])

    def _respond(self, chunks: Iterator[bytes] | list[bytes]) -> None:
        self.stdout.write(_SUCCESS)
        pktline.write_content(self.stdout, iter(chunks))
        pktline.write_flush(self.stdout)  # empty list: the status stays "success"

    def _report_write_failures(self) -> bool:
        """Say which objects the background writer could not store; True when there were any."""
        return self._say_write_failures(self.cleaner.take_failures())

    def _say_write_failures(self, failures: list[Failure]) -> bool:
        for failure in failures:
            self.say(
                f"cannot store {failure.pathname}: {_describe_write_error(failure.error)}; git was given its stub, "
                f"so commit is refused until you fix this and run "
                f"`git add --renormalize -- {shlex.quote(failure.pathname)}`"
            )
        return bool(failures)


def _drain(content: Iterator[bytes]) -> None:
    for _ in content:
        pass


def _describe_write_error(exc: BaseException) -> str:
    if isinstance(exc, (FatalError, OSError)):
        return str(exc)  # OSError says errno, reason and file name: enough to act on
    return f"{type(exc).__name__}: {exc}"
