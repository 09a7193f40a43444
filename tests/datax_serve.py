"""`git datax serve` for the tests: the real command, on 127.0.0.1 with a port the OS picks,
stopped with SIGTERM (and checked to stop cleanly) when the test ends."""
from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest


class DataxServe:
    def __init__(self, store: Path, args: Sequence[str] = (), cwd: Path | None = None,
                 command: Sequence[str] | None = None, pass_store: bool = True) -> None:
        cmd = list(command or ["git-datax", "serve"]) + ["--bind", "127.0.0.1:0", *args]
        if pass_store:
            cmd += ["--store", str(store)]
        self.store = store
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(20) or self.port is None:
            self.stop()
            raise AssertionError(f"git datax serve did not start:\n{self.log}")

    port: int | None = None

    def _read(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.lines.append(line)
            match = re.search(r"on http://127\.0\.0\.1:(\d+) ", line)
            if match and self.port is None:
                self.port = int(match[1])
                self._ready.set()
        self._ready.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then wait; a server that does not stop in time is killed and fails the test."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"git datax serve ignored SIGTERM for {timeout}s:\n{self.log}")
        self._reader.join(5)
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Factory: start `git datax serve --store STORE ARGS...`; every server is stopped at the end."""
    started: list[DataxServe] = []

    def start(store: Path | None = None, *args: str, **kwargs) -> DataxServe:  # type: ignore[no-untyped-def]
        if store is None:
            store = tmp_path / f"served{len(started)}"
        store.mkdir(parents=True, exist_ok=True)
        server = DataxServe(store, args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False



class CountingProxy:
    """A TCP relay on 127.0.0.1 in front of a server that counts the bytes each way: what a
    client really sends and receives on the wire, HTTP headers included."""

    def __init__(self, port: int, rate: float | None = None) -> None:
        import socket

        self.target = port
        self.rate = rate  # bytes a second each way at most (None: as fast as it goes)
        self.up = 0  # client -> server
        self.down = 0  # server -> client
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, src, dst, way: str) -> None:  # type: ignore[no-untyped-def]
        import socket

        try:
            while data := src.recv(1 << 16):
                with self._lock:
                    setattr(self, way, getattr(self, way) + len(data))
                if self.rate:
                    time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
