"""One ssh session speaking the framed protocol of `git datax serve --stdio` (docs/ssh-protocol.md):
the ssh process, its handshake, requests and their answers, and how a session that fails is
explained and ended. The SSH remote (ssh.py) keeps a pool of them.
"""
from __future__ import annotations

import io
import os
import subprocess
import threading
from typing import Callable

from gitdatax.errors import ProtocolError
from gitdatax.remotes import frames
from gitdatax.remotes.base import RemoteError, RemoteObjectMissing
from gitdatax.remotes.frames import COMMAND, ERROR
from gitdatax.stub import is_valid_oid


class Session:
    """One ssh session speaking the framed protocol."""

    def __init__(self, argv: list[str], url: str, stall: float = 60.0,
                 heard: Callable[[], None] | None = None) -> None:
        self.url = url
        self.stall = stall  # seconds the server may take to send or take the next byte (`timeout`)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._stderr: list[str] = []
        self._stderr_thread = threading.Thread(target=self._collect_stderr, daemon=True)
        self._stderr_thread.start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        # Every read waits at most `stall` for the server, as an HTTP or S3 request waits its
        # `timeout`: a server that hangs without closing the session would otherwise hold a
        # push or a checkout for ever. Not while ssh may be asking for a password on the
        # terminal (the handshake, when there is one): typing it may take longer.
        self._pipe = frames.WatchedPipe(self.proc.stdout.fileno(), None if _terminal_may_prompt() else stall)
        self.inp = io.BufferedReader(self._pipe, 1 << 16)
        self.out = self.proc.stdin
        try:
            self._handshake()
            self._pipe.stall = stall
            self._pipe.heard = heard  # answers to requests, not a greeting every new session gets
        except BaseException:
            self.close(abort=True)
            raise

    def _handshake(self) -> None:
        kind, payload = self.read()
        text = payload.decode("utf-8", "replace")
        if kind == ERROR:
            raise self.refused(text)
        name, _, versions = text.partition(" ")
        if kind != COMMAND or name != frames.PROTOCOL or str(frames.VERSION) not in versions.split():
            raise RemoteError(f"remote {self.url}: the server does not speak {frames.PROTOCOL} {frames.VERSION}")
        self.request(f"version {frames.VERSION}")

    def _collect_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line.decode("utf-8", "replace").rstrip())
            del self._stderr[:-20]  # keep the last lines: enough to explain a failure

    def lost(self, why: str) -> RemoteError:
        """The session ended: explain with ssh's own last words (e.g. connection refused); or
        the server stopped answering (a stall), and the session is ended here."""
        if self._pipe.stalled:
            self.proc.kill()  # out of step and stuck: nothing more will come from it
            self.proc.wait()
            return Stalled(f"remote {self.url}: {why}", transient=True)
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._stderr_thread.join(timeout=2)
        detail = next((line for line in reversed(self._stderr) if line.strip()), "")
        status = f"ssh exited {code}" if code is not None else why
        return RemoteError(f"remote {self.url}: {status}{': ' + detail if detail else ''}", transient=True)

    def refused(self, text: str) -> RemoteError:
        code, _, message = text.partition(" ")
        if code == "missing" and is_valid_oid(message):
            return RemoteObjectMissing(message, self.url)
        return InStep(f"remote {self.url}: the server refused: {' '.join(text.split())[:300]}")

    def read(self) -> tuple[bytes, bytes]:
        try:
            return frames.read_frame(self.inp)
        except ProtocolError as exc:
            raise self.lost(str(exc)) from None
        except OSError as exc:
            raise self.lost(exc.strerror or str(exc)) from None

    def send(self, kind: bytes, payload: bytes = b"", flush: bool = True) -> None:
        try:
            frames.write_frame(self.out, kind, payload)
            if flush:
                self.out.flush()
        except OSError as exc:
            raise self.lost(exc.strerror or str(exc)) from None

    def send_stream(self, kind: bytes, payload: bytes = b"") -> None:
        """A frame of an upload, watching for an answer: a server that fails half-way (a full
        disk) says so at once in an E frame and may stop reading, and a write blocked on the
        full pipe would then wait for as long as the session stays up."""
        try:
            frames.write_frame_watching(self.out, self.inp, kind, payload, self.stall)
        except frames.Answered:
            raise self.refused_early() from None
        except TimeoutError as exc:
            raise self.lost(str(exc)) from None
        except OSError as exc:
            raise self.lost(exc.strerror or str(exc)) from None
        if self._pipe.heard is not None:  # the server took it: alive, though an upload hears nothing
            self._pipe.heard()

    def refused_early(self) -> RemoteError:
        """What the server said before the stream ended; not an InStep refusal, since we stop
        sending half-way and the session is out of step (it is closed, not reused)."""
        kind, payload = self.read()
        text = " ".join(payload.decode("utf-8", "replace").split())[:300]
        if kind != ERROR:
            return RemoteError(f"remote {self.url}: unexpected answer in the middle of an upload: {text[:80]!r}")
        return RemoteError(f"remote {self.url}: the server refused: {text}")

    def request(self, text: str) -> str:
        self.send(COMMAND, text.encode())
        kind, payload = self.read()
        reply = payload.decode("utf-8", "replace")
        if kind == ERROR:
            raise self.refused(reply)
        if kind != COMMAND:
            raise RemoteError(f"remote {self.url}: unexpected data from the server")
        return reply

    def close(self, abort: bool = False) -> None:
        """End the session: politely when it is in step, at once when it may not be (a server
        still streaming would otherwise keep us waiting)."""
        if abort and self.proc.poll() is None:
            self.proc.kill()
        try:
            self.send(COMMAND, b"quit")
            self.out.close()
        except (RemoteError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _terminal_may_prompt() -> bool:
    """Whether ssh could ask for a password or passphrase: it reads them from /dev/tty."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


class InStep(RemoteError):
    """A refusal after which the ssh session is still usable (the server answered in a frame)."""


class Stalled(RemoteError):
    """The server sent nothing for the session's `stall` seconds; the session was ended."""
