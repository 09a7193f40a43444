"""Shared helpers for tests: run real git and the real git-datax in temporary repositories."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path


def git(*args: str, cwd: str | os.PathLike[str] | None = None, check: bool = True,
        input: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run git; on failure the assertion message carries its output."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **(env or {})})
    result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                         proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)} exited {proc.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def git_bytes(*args: str, cwd: str | os.PathLike[str] | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def datax(*args: str, cwd: str | os.PathLike[str] | None = None, input: bytes | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `git datax ARGS` as a user would; never raises, callers assert on the result."""
    proc = subprocess.run(["git", "datax", *args], cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write(path: str | os.PathLike[str], data: bytes) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def random_bytes(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def store_dir(repo: str | os.PathLike[str]) -> Path:
    return Path(repo) / ".git" / "datax"


def object_path(repo: str | os.PathLike[str], oid: str) -> Path:
    return store_dir(repo) / "objects" / oid[:2] / oid[2:4] / oid


def is_stub(data: bytes) -> bool:
    return data.startswith(b"version gitdatax/1\n")


def stub_bytes(data: bytes) -> bytes:
    """The canonical stub of `data`, written independently of gitdatax.stub."""
    return b"version gitdatax/1\noid sha256:%s\nsize %d\n" % (hashlib.sha256(data).hexdigest().encode(), len(data))


def oid_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_writable(path: str | os.PathLike[str]) -> None:
    """Objects are published read-only; tests that corrupt or delete one need write access."""
    os.chmod(path, 0o644)


_DATA = b"the bytes of a model\n"
_OID = oid_of(_DATA)
_GOOD = stub_bytes(_DATA)
# Each of these is content: a stub parser that accepted one would let a user's file be replaced
# by an object on checkout.
MALFORMED_STUBS = {
    "wrong version": _GOOD.replace(b"gitdatax/1", b"gitdatax/2"),
    "version not first": b"oid sha256:%s\nversion gitdatax/1\nsize %d\n" % (_OID.encode(), len(_DATA)),
    "keys out of order": b"version gitdatax/1\nsize %d\noid sha256:%s\n" % (len(_DATA), _OID.encode()),
    "uppercase hex": _GOOD.replace(_OID.encode(), _OID.upper().encode()),
    "short hex": _GOOD.replace(_OID.encode(), _OID[:63].encode()),
    "long hex": _GOOD.replace(_OID.encode(), _OID.encode() + b"0"),
    "non-hex digit": _GOOD.replace(_OID.encode(), b"g" + _OID[1:].encode()),
    "other hash": _GOOD.replace(b"sha256:", b"sha512:"),
    "extra key": _GOOD + b"x-extra yes\n",
    "extra key in the middle": _GOOD.replace(b"\nsize", b"\next value\nsize"),
    "CRLF": _GOOD.replace(b"\n", b"\r\n"),
    "no final newline": _GOOD[:-1],
    "blank line after": _GOOD + b"\n",
    "leading space": b" " + _GOOD,
    "trailing space": _GOOD.replace(b"size 21\n", b"size 21 \n"),
    "two spaces": _GOOD.replace(b"oid sha256", b"oid  sha256"),
    "tab separator": _GOOD.replace(b"size ", b"size\t"),
    "size with leading zero": _GOOD.replace(b"size 21", b"size 021"),
    "negative size": _GOOD.replace(b"size 21", b"size -21"),
    "size with plus": _GOOD.replace(b"size 21", b"size +21"),
    "size not a number": _GOOD.replace(b"size 21", b"size lots"),
    "size over 19 digits": _GOOD.replace(b"size 21", b"size 12345678901234567890"),
    "missing size": _GOOD.replace(b"size 21\n", b""),
    "duplicated size": _GOOD + b"size 21\n",
    "oid escaping the store": _GOOD.replace(_OID.encode(), b"../../../../../../etc/passwd" + b"0" * 36),
    "BOM": b"\xef\xbb\xbf" + _GOOD,
    "oversized (padded past 1023 bytes)": _GOOD + b"#" * (1024 - len(_GOOD)),
    "Git LFS pointer": _GOOD.replace(b"version gitdatax/1", b"version https://git-lfs.github.com/spec/v1"),
    "empty": b"",
}


def leftovers(folder: str | os.PathLike[str]) -> list[str]:
    """The files in a store's tmp/ (none when it was never made: small objects need no tmp/)."""
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


class SilentServer:
    """A TCP server on loopback that accepts every connection and holds it open, but never
    answers (a server process hung behind its listening socket). With `answer_head`, it answers
    HTTP HEAD requests (200, no body: an S3 bucket or object that is there) and only then falls
    silent, on the first request of any other method."""

    def __init__(self, answer_head: bool = False) -> None:
        self.answer_head = answer_head
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.heads = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)  # held open
            if self.answer_head:
                threading.Thread(target=self._serve_heads, args=(conn,), daemon=True).start()

    def _serve_heads(self, conn: socket.socket) -> None:
        pending = b""
        try:
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                if not head.startswith(b"HEAD "):
                    return  # silent from here on, the connection still open
                self.heads += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


SILENT_OPTIONS = {"timeout": 1, "retries": 1, "backoff": 0}  # a try waits 1 s: two tries an object


def transfer_against_silence(remote, store, stubs, *, upload: bool = False):  # type: ignore[no-untyped-def]
    """Move `stubs` with two jobs against a remote that answers nothing (options SILENT_OPTIONS):
    every object must fail; (the failures, oid -> why; the seconds it took)."""
    from gitdatax.sync import transfer

    move = transfer.upload_missing if upload else transfer.download_missing
    start = time.monotonic()
    try:
        result = move(remote, store, stubs, jobs=2, quiet=True)
    finally:
        remote.close()
    elapsed = time.monotonic() - start
    assert sorted(result.failed) == sorted(s.oid for s in stubs) and not result.moved
    return result.failed, elapsed

