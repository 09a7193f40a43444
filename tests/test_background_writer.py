"""The filter's background writer: small objects written after git has its stub."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from gitdatax.background_writer import BackgroundWriter, missing_unstored, unstored_oids
from gitdatax.store import ObjectStore
from gitdatax.stub import Stub
from helpers import random_bytes


def oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_queued_object_is_stored_and_readable(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    writer = BackgroundWriter(store, max_pending_bytes=64 << 10)  # forces submit to wait at times
    contents = [random_bytes(20_000 + i, seed=i) for i in range(40)]
    for i, data in enumerate(contents):
        writer.submit(oid(data), data, f"f{i}.bin")
    writer.close()
    assert writer.take_failures() == []
    for data in contents:
        assert b"".join(store.read_verified(Stub(oid(data), len(data)))) == data
    assert not (store.root / "unstored").exists()
    assert list((store.root / "tmp").iterdir()) == []
    assert list((store.root / "in-flight").iterdir()) == []  # gone once every write ended


def test_the_same_content_twice_is_written_once(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    writer = BackgroundWriter(store)
    data = random_bytes(5000, seed=1)
    writer.submit(oid(data), data, "a.bin")
    writer.submit(oid(data), data, "b.bin")
    writer.close()
    assert store.has(oid(data))
    assert writer.take_failures() == []


def test_a_worker_that_breaks_fails_what_it_held_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ObjectStore(tmp_path / "store")

    def broken() -> None:
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(store, "small_compressor", broken)
    writer = BackgroundWriter(store)
    data = random_bytes(3000, seed=2)
    writer.submit(oid(data), data, "lost.bin")
    writer.wait()  # returns: nothing is left pending
    failures = writer.take_failures()
    assert [(f.oid, f.pathname, str(f.error)) for f in failures] == [(oid(data), "lost.bin", "a bug in the writer")]
    assert unstored_oids(store.root) == {oid(data)}
    assert missing_unstored(store.root) == {oid(data)}
    # Stored later (another `git add`, the bug gone): no longer missing, though still listed.
    monkeypatch.undo()
    store.put_bytes(data)
    assert missing_unstored(store.root) == set()
    writer.close()


def test_objects_queued_when_the_writer_dies_are_found_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git has its stub before the object is written; were the filter killed then (after git
    # wrote its index), the in-flight list is what tells pre-commit the data never landed.
    store = ObjectStore(tmp_path / "store")
    release = threading.Event()
    real_write = store.write_small_object

    def slow_write(oid: str, compressed: bytes) -> None:
        assert release.wait(10)
        real_write(oid, compressed)

    monkeypatch.setattr(store, "write_small_object", slow_write)
    writer = BackgroundWriter(store)
    data = random_bytes(4000, seed=3)
    writer.submit(oid(data), data, "clips/a b.wav")
    in_flight = list((store.root / "in-flight").iterdir())
    assert [p.read_text() for p in in_flight] == [f"{oid(data)} clips/a b.wav\n"]
    assert missing_unstored(store.root) == {oid(data)}  # what a killed writer leaves behind
    release.set()
    writer.close()
    assert store.has(oid(data))
    assert not in_flight[0].exists()
    assert missing_unstored(store.root) == set()
