"""transfer.upload_missing / download_missing against real directory stores: parallel, batched
existence checks, retries of transient errors, and results that say what moved and what failed."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdatax.sync import transfer
from gitdatax.remotes import RemoteError, open_remote
from gitdatax.remotes.local import DirectoryRemote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub
from helpers import random_bytes


def _filled_store(path: Path, count: int) -> tuple[ObjectStore, list[Stub]]:
    store = ObjectStore(path)
    stubs = [store.put_bytes(random_bytes(1000 + i, seed=i)) for i in range(count)]
    return store, stubs


def test_upload_then_download_moves_each_object_once(tmp_path: Path) -> None:
    store, stubs = _filled_store(tmp_path / "a", 20)
    remote = open_remote(str(tmp_path / "remote"), {"create": True})
    result = transfer.upload_missing(remote, store, stubs + stubs[:5], jobs=4, quiet=True)
    assert result.ok and len(result.moved) == 20 and result.bytes_moved == sum(s.size for s in stubs)
    again = transfer.upload_missing(remote, store, stubs, jobs=4, quiet=True)
    assert again.moved == [] and len(again.present) == 20
    # Same compressed files, same layout: nothing was recompressed.
    for s in stubs:
        assert (tmp_path / "remote/objects" / s.oid[:2] / s.oid[2:4] / s.oid).read_bytes() == \
            store.object_path(s.oid).read_bytes()

    other = ObjectStore(tmp_path / "b")
    got = transfer.download_missing(remote, other, stubs, jobs=3, quiet=True)
    assert got.ok and len(got.moved) == 20
    for i, s in enumerate(stubs):
        assert b"".join(other.iter_content(s)) == random_bytes(1000 + i, seed=i)


def test_failures_are_reported_not_raised(tmp_path: Path) -> None:
    store, stubs = _filled_store(tmp_path / "a", 3)
    remote = open_remote(str(tmp_path / "remote"), {"create": True})
    ghost = Stub("ab" * 32, 7)  # in neither store
    result = transfer.upload_missing(remote, store, [*stubs, ghost], quiet=True)
    assert len(result.moved) == 3
    assert result.failed == {ghost.oid: f"object {ghost.oid} is in neither the local store nor {remote.url}"}

    # Corrupt one object on the remote: its download fails, names the oid, publishes nothing.
    bad = tmp_path / "remote/objects" / stubs[0].oid[:2] / stubs[0].oid[2:4] / stubs[0].oid
    os.chmod(bad, 0o644)
    bad.write_bytes(store.object_path(stubs[1].oid).read_bytes())
    other = ObjectStore(tmp_path / "b")
    got = transfer.download_missing(remote, other, [*stubs, ghost], quiet=True)
    assert {s.oid for s in got.moved} == {stubs[1].oid, stubs[2].oid}
    assert stubs[0].oid in got.failed[stubs[0].oid] and "corrupt" in got.failed[stubs[0].oid]
    assert got.failed[ghost.oid] == f"object {ghost.oid} is not on {remote.url}"
    assert not other.has(stubs[0].oid) and not other.has(ghost.oid)
    assert os.listdir(other.tmp_dir) == []


class FlakyRemote(DirectoryRemote):
    """A real directory store whose reads and writes fail transiently the first two times."""

    def __init__(self, url: str, fail_times: int, transient: bool = True) -> None:
        super().__init__(url, {"create": True})
        self.calls: dict[str, int] = {}
        self.fail_times = fail_times
        self.transient = transient

    def _maybe_fail(self, oid: str) -> None:
        self.calls[oid] = self.calls.get(oid, 0) + 1
        if self.calls[oid] <= self.fail_times:
            raise RemoteError(f"remote {self.url}: connection reset", transient=self.transient)

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        self._maybe_fail(stub.oid)
        super().upload(stub, store)


def test_transient_errors_are_retried_with_backoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BACKOFF", 0.001)
    store, stubs = _filled_store(tmp_path / "a", 4)
    flaky = FlakyRemote(str(tmp_path / "remote"), fail_times=2)
    result = transfer.upload_missing(flaky, store, stubs, jobs=2, quiet=True)
    assert result.ok and len(result.moved) == 4
    assert all(n == 3 for n in flaky.calls.values())

    hopeless = FlakyRemote(str(tmp_path / "remote2"), fail_times=99)
    result = transfer.upload_missing(hopeless, store, stubs, jobs=2, quiet=True)
    assert len(result.failed) == 4 and all(n == transfer.ATTEMPTS for n in hopeless.calls.values())

    permanent = FlakyRemote(str(tmp_path / "remote3"), fail_times=1, transient=False)
    result = transfer.upload_missing(permanent, store, stubs, jobs=2, quiet=True)
    assert len(result.failed) == 4 and all(n == 1 for n in permanent.calls.values())
    assert set(result.failed.values()) == {f"remote {permanent.url}: connection reset"}
