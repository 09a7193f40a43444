"""giftless (a Git LFS server from PyPI) with local storage, run under flask's dev server on a free
loopback port, started and always stopped by the tests that use it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Anonymous read-write: giftless signs its action tokens with a null subject, which PyJWT < 2.10
# accepts (tests/requirements.txt pins it). LEGACY_ENDPOINTS off: only <org>/<repo>.git/info/lfs.
CONFIG = """\
AUTH_PROVIDERS:
  - giftless.auth.allow_anon:read_write
LEGACY_ENDPOINTS: false
TRANSFER_ADAPTERS:
  basic:
    factory: giftless.transfer.basic_streaming:factory
    options:
      storage_class: giftless.storage.local_storage:LocalStorage
      storage_options:
        path: {storage}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server did not listen on {port}:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def giftless(root: Path) -> Iterator[str]:
    """Yield the server's base URL (http://127.0.0.1:PORT); objects live under root/storage."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "giftless.yaml"
    config.write_text(CONFIG.format(storage=root / "storage"))
    port = free_port()
    log = root / "giftless.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIFTLESS_")}
    env["GIFTLESS_CONFIG_FILE"] = str(config)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "giftless.wsgi_entrypoint", "run",
             "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
