"""Progress moves with bytes, not objects (issue 16 item 7): a big object advances the bar while
it travels, on every backend, up and down; on a terminal the bar shows rate and time left; -q and
a non-terminal show none."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from datax_serve import serve  # noqa: F401 - the fixture
from gitdatax import output
from gitdatax.remotes import open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.sync import transfer
from helpers import datax, git, random_bytes, write
from s3server import S3Server, s3  # noqa: F401 - the fixture

BIG = 9 << 20  # incompressible: several blocks of every backend's copy loop


class RecordingBar:
    """Stands in for tqdm: the transfer layer's own calls, recorded."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.updates: list[int] = []

    def update(self, n: int = 1) -> None:
        self.updates.append(n)

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def recorded(monkeypatch: pytest.MonkeyPatch) -> list[RecordingBar]:
    bars: list[RecordingBar] = []

    def progress(total: int | None, desc: str, **kwargs: Any) -> RecordingBar:
        bars.append(RecordingBar(total or 0))
        return bars[-1]

    monkeypatch.setattr(output, "progress", progress)
    return bars


def _directory(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    (tmp_path / "nas").mkdir()
    return open_remote(str(tmp_path / "nas"))


def _fsspec_memory(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    import fsspec

    fsspec.filesystem("memory").makedirs(f"/progress-{tmp_path.name}", exist_ok=True)
    return open_remote(f"memory://progress-{tmp_path.name}/team")


def _s3(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    server: S3Server = request.getfixturevalue("s3")
    return open_remote(server.url(), {"endpoint_url": server.endpoint, "multipart_threshold": "5MiB"})


def _lfs_http(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    started = request.getfixturevalue("serve")()
    return open_remote(started.url + "/info/lfs")


def _ssh(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    server = request.getfixturevalue("_sshd_for_progress")
    request.getfixturevalue("monkeypatch").setenv("GIT_SSH_COMMAND", server.ssh_command)
    (tmp_path / "served").mkdir()
    return open_remote(f"ssh://{server.user}@127.0.0.1:{server.port}{tmp_path / 'served'}")


@pytest.fixture
def _sshd_for_progress(tmp_path: Path) -> Any:
    from sshd_server import sshd

    with sshd(tmp_path / "sshd") as server:
        yield server


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Any]] = {
    "directory": _directory, "fsspec": _fsspec_memory, "s3": _s3, "lfs-http": _lfs_http, "ssh": _ssh}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_the_bar_moves_within_one_object_both_ways(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(random_bytes(BIG, seed=5))
    remote = BACKENDS[backend](tmp_path, request)
    bars = recorded(monkeypatch)
    try:
        up = transfer.upload_missing(remote, store, [stub], jobs=2)
        assert up.ok and up.moved == [stub], up.failed
        other = ObjectStore(tmp_path / "b")
        down = transfer.download_missing(remote, other, [stub], jobs=2)
        assert down.ok and down.moved == [stub], down.failed
    finally:
        remote.close()
    assert b"".join(other.iter_content(stub)) == random_bytes(BIG, seed=5)
    assert [bar.total for bar in bars] == [BIG, BIG]
    for bar, way in zip(bars, ("upload", "download")):
        # The bar ends exactly at the object's size, and got there in steps while it moved.
        assert sum(bar.updates) == BIG, (way, bar.updates)
        assert len(bar.updates) >= 3 and max(bar.updates) < BIG, (way, bar.updates)


def test_a_retried_object_never_moves_the_bar_backwards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitdatax.remotes import meter
    from gitdatax.remotes.base import RemoteError, RetryPolicy

    store = ObjectStore(tmp_path / "a")
    stub = store.put_bytes(random_bytes(4096, seed=1))
    tries = []

    class Flaky:  # a Remote (remotes.base) whose first upload drops half-way
        url = "flaky://"
        max_parallel = None
        cheap_fetches = False
        serial_small = False
        retry = RetryPolicy(backoff=0.01)

        def has_many(self, stubs: Any) -> set[str]:
            return set()

        def upload(self, s: Any, st: Any) -> None:
            progress = meter.current()
            progress.expect(1000)
            progress.moved(600)
            tries.append(1)
            if len(tries) == 1:
                raise RemoteError("dropped", transient=True)
            progress.moved(400)

        def close(self) -> None:
            pass

    bars = recorded(monkeypatch)
    assert transfer.upload_missing(Flaky(), store, [stub]).ok
    assert all(n > 0 for n in bars[0].updates) and sum(bars[0].updates) == 4096


def _run_in_pty(args: list[str], cwd: Path, seconds: float = 60, columns: int = 250) -> tuple[int, str]:
    """Run `git datax ARGS` with a pseudo-terminal as stdin, stdout and stderr; all it wrote."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24 if columns else 0, columns, 0, 0))
    proc = subprocess.Popen(["git", "datax", *args], cwd=cwd, stdin=child, stdout=child, stderr=child,
                            close_fds=True)
    os.close(child)
    chunks = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(main)
    return proc.wait(10), b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_a_bar_with_rate_and_time_left_and_q_gets_none(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo()
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("track", "*.bin", cwd=repo).returncode == 0
    write(repo / "model.bin", random_bytes(BIG, seed=9))
    git("add", "-A", cwd=repo)
    git("commit", "--no-verify", "-qm", "model", cwd=repo)
    assert datax("remote", "add", "--local", "nas", str(nas), cwd=repo).returncode == 0
    code, screen = _run_in_pty(["push", "nas"], repo)
    assert code == 0, screen
    assert "uploading to " in screen and f"{nas}"[-18:] in screen and "9.00M/9.00M" in screen, screen
    # Bytes done of the total, time spent < time left, and the rate (how far it got within the
    # object depends on this machine's speed: test_the_bar_moves_within_one_object_both_ways).
    shown = re.findall(r" (\d+)%\|[^|]*\| ([\d.]+)M/9\.00M \[00:\d\d<00:\d\d, +[\d.]+[kMG]?B/s", screen)
    assert shown and shown[-1] == ("100", "9.00"), repr(screen)
    assert "1/1 files" in screen, repr(screen)
    # A terminal that reports no size still gets a bar (tqdm drew nothing there).
    (nas / "objects").rename(nas / "first")
    code, screen = _run_in_pty(["push", "nas"], repo, columns=0)
    assert code == 0 and "100%|" in screen and "9.00M/9.00M" in screen, repr(screen)
    # -q: the summary line only; and through a pipe (not a terminal) the same.
    (nas / "objects").rename(nas / "gone")
    code, screen = _run_in_pty(["push", "-q", "nas"], repo)
    assert code == 0 and "B/s" not in screen and "uploading to" not in screen, screen
    (nas / "objects").rename(nas / "again")
    proc = datax("push", "nas", cwd=repo)
    assert proc.returncode == 0 and proc.stderr.splitlines() == [
        f"gitdatax: 1 object(s) uploaded (9.0 MiB) to {nas}, 0 already there"]
