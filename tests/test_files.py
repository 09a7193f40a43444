"""files.write_atomically: the one way gitdatax replaces a file."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator

import pytest

from gitdatax.files import write_atomically


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "folder"  # tmp_path holds the test's HOME too
    path.mkdir()
    return path


def test_replaces_with_bytes_text_or_chunks_and_leaves_no_temporary_file(folder: Path) -> None:
    target = folder / "f.txt"
    write_atomically(target, b"one")
    write_atomically(target, "twö")
    assert target.read_text("utf-8") == "twö"
    write_atomically(target, iter([b"a" * 70000, b"b"]))
    assert target.read_bytes() == b"a" * 70000 + b"b"
    assert os.listdir(folder) == ["f.txt"]


def test_mode_is_exact_and_the_default_follows_the_umask(folder: Path) -> None:
    write_atomically(folder / "hook", "#!/bin/sh\n", mode=0o755)
    write_atomically(folder / "secret", "x", mode=0o600)
    old = os.umask(0o027)
    try:
        write_atomically(folder / "plain", "x")
    finally:
        os.umask(old)
    assert [(folder / n).stat().st_mode & 0o777 for n in ("hook", "secret", "plain")] == [0o755, 0o600, 0o640]


def test_a_failure_midway_or_a_refusing_check_keeps_the_old_file(folder: Path) -> None:
    target = folder / "lock"
    target.write_bytes(b"old")

    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, broken())

    def refuse() -> None:
        raise ValueError("hash differs")

    with pytest.raises(ValueError, match="hash differs"):
        write_atomically(target, b"wrong", verify=refuse)
    assert target.read_bytes() == b"old" and os.listdir(folder) == ["lock"]


def test_two_writers_at_once_never_share_a_temporary_file(folder: Path) -> None:
    target = folder / "cache"
    errors: list[BaseException] = []

    def write(byte: bytes) -> None:
        try:
            for _ in range(200):
                write_atomically(target, byte * 4096, durable=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in (b"a", b"b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in (b"a" * 4096, b"b" * 4096) and os.listdir(folder) == ["cache"]
