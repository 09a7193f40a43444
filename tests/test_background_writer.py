"""The filter's background writer: small objects written after git has its stub."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gitdatax.filter.background_writer import BackgroundWriter, missing_among
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub
from helpers import leftovers, random_bytes


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
    assert leftovers(store.root / "tmp") == []
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
    assert (store.root / "unstored").read_text() == f"{oid(data)} lost.bin\n"
    assert missing_among(store.root, {oid(data), "0" * 64}) == {oid(data)}
    # Stored later (another `git add`, the bug gone): no longer missing, though still listed.
    monkeypatch.undo()
    store.put_bytes(data)
    assert missing_among(store.root, {oid(data)}) == set()
    writer.close()


def test_a_write_under_way_is_waited_for_and_one_left_by_a_dead_filter_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git has its stub before the object is written. `git commit -a` runs pre-commit while its
    # filter still writes: pre-commit waits. A filter killed then (after git wrote its index)
    # leaves its in-flight list, which tells pre-commit the data never landed.
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
    assert missing_among(store.root, {oid(data)}, patience=0.2) == {oid(data)}  # still not there
    threading.Timer(0.2, release.set).start()
    assert missing_among(store.root, {oid(data)}) == set()  # waited for it
    writer.close()
    assert store.has(oid(data))
    assert not in_flight[0].exists()

    # The list of a process that is gone, naming an object the store lacks
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    other = random_bytes(100, seed=4)
    (store.root / "in-flight" / f"{dead.stdout.strip()}.0").write_text(f"{oid(other)} b.bin\n")
    assert missing_among(store.root, {oid(other), oid(data)}, patience=30) == {oid(other)}  # no waiting


def test_a_dead_filters_list_goes_once_its_objects_are_stored(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stored, lost = random_bytes(100, seed=5), random_bytes(100, seed=6)
    store.put_bytes(stored)
    folder = store.root / "in-flight"
    folder.mkdir(parents=True)
    (folder / f"{dead.stdout.strip()}.0").write_text(f"{oid(stored)} a.bin\n")
    (folder / f"{dead.stdout.strip()}.1").write_text(f"{oid(stored)} a.bin\n{oid(lost)} b.bin\n")
    writer = BackgroundWriter(store)  # a new filter process: it tidies up as it starts writing
    data = random_bytes(300, seed=7)
    writer.submit(oid(data), data, "c.bin")
    writer.close()
    assert sorted(p.name for p in folder.iterdir()) == [f"{dead.stdout.strip()}.1"]  # names a lost object
    assert missing_among(store.root, {oid(lost), oid(stored), oid(data)}) == {oid(lost)}
