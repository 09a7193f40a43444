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
from helpers import datax, git, leftovers, make_writable, object_path, oid_of, random_bytes, write
from lfs_fault_server import FaultServer


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
    assert leftovers(other.tmp_dir) == []


class FlakyRemote(DirectoryRemote):
    """A real directory store whose reads and writes fail transiently the first two times."""

    def __init__(self, url: str, fail_times: int, transient: bool = True) -> None:
        super().__init__(url, {"create": True, "backoff": 0.001})
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


def test_transient_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    store, stubs = _filled_store(tmp_path / "a", 4)
    flaky = FlakyRemote(str(tmp_path / "remote"), fail_times=2)
    result = transfer.upload_missing(flaky, store, stubs, jobs=2, quiet=True)
    assert result.ok and len(result.moved) == 4
    assert all(n == 3 for n in flaky.calls.values())

    hopeless = FlakyRemote(str(tmp_path / "remote2"), fail_times=99)
    result = transfer.upload_missing(hopeless, store, stubs, jobs=2, quiet=True)
    assert len(result.failed) == 4 and all(n == 4 for n in hopeless.calls.values())  # retries = 3

    permanent = FlakyRemote(str(tmp_path / "remote3"), fail_times=1, transient=False)
    result = transfer.upload_missing(permanent, store, stubs, jobs=2, quiet=True)
    assert len(result.failed) == 4 and all(n == 1 for n in permanent.calls.values())
    assert set(result.failed.values()) == {f"remote {permanent.url}: connection reset"}


BATCH = "/team/proj.git/info/lfs/objects/batch"


@pytest.mark.parametrize("retries", [0, 2])
def test_a_unit_of_work_gets_the_tries_the_remote_options_say_whichever_layer_retries(
        tmp_path: Path, retries: int) -> None:
    """One retry policy (remotes.base.RetryPolicy): `retries + 1` tries for each object or batch,
    counted by a real LFS server on loopback that keeps failing. Before, the transfer layer's 4
    tries each cost the HTTP session's own 4: 16 requests where the options said 4."""
    options = {"retries": retries, "backoff": 0.001}
    data = random_bytes(40_000, seed=9)
    with FaultServer() as fault:
        store = ObjectStore(tmp_path / "a")
        stub = store.put_bytes(data)
        remote = open_remote(fault.endpoint, options)
        fault.faults["batch_500"] = 100  # the existence check before an upload: one unit of work
        result = transfer.upload_missing(remote, store, [stub], quiet=True)
        why = f"remote {fault.endpoint}: ask which objects it has: server error (HTTP 500)"
        assert result.failed == {stub.oid: why}
        assert fault.count("POST", BATCH) == retries + 1 and fault.count("PUT", "/") == 0

        fault.faults.clear()
        fault.objects[stub.oid] = data
        # Whole-object retries, resumes with Range, and both in one download: before, each resume
        # had `retries` of its own on top of the request's (5 GETs where retries = 2 said 3).
        for name, faults in (("500", {"get_500": 100}), ("cut", {"drop_mid_get": 100}),
                             ("500-then-cut", {"get_500": retries, "drop_mid_get": 100})):
            fault.requests.clear()
            fault.faults.update(faults)
            fresh = ObjectStore(tmp_path / name)
            result = transfer.download_missing(remote, fresh, [stub], quiet=True)
            assert list(result.failed) == [stub.oid] and not fresh.has(stub.oid)
            assert fault.count("GET", "/obj/") == retries + 1, name
            fault.faults.clear()

        fault.requests.clear()
        fault.faults.update(get_500=1, drop_mid_get=1)  # one of each: both spend the same budget
        fresh = ObjectStore(tmp_path / "both")
        result = transfer.download_missing(remote, fresh, [stub], quiet=True)
        assert result.ok is (retries >= 2) and fault.count("GET", "/obj/") == min(3, retries + 1)
        remote.close()


def test_the_team_file_retries_is_what_a_fetch_spends(data_repo: Path) -> None:
    data = random_bytes(30_000, seed=12)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    with FaultServer() as fault:
        (data_repo / ".datax.toml").write_text(
            f'[remote.lfs]\nurl = "{fault.endpoint}"\ndefault = true\nretries = 1\nbackoff = 0.001\n')
        oid = oid_of(data)
        fault.objects[oid] = data
        path = object_path(data_repo, oid)
        make_writable(path)
        path.unlink()
        fault.faults["get_500"] = 100
        proc = datax("fetch")
        assert proc.returncode == 1, proc.stderr
        why = f"remote {fault.endpoint}: download of {oid}: server error (HTTP 500)"
        assert proc.stderr.splitlines()[1] == f"  a.bin: {why}"
        assert fault.count("GET", "/obj/") == 2  # retries = 1: two tries, not 2 x 4


def test_a_silent_endpoint_counts_only_waits_and_any_byte_starts_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """SilentEndpoint (remotes/base.py) on a clock of our own: idle time never counts (a pool of
    sessions unused for an hour is not silent), waits add up across requests one after another
    (a single-threaded transfer against a hung server still gives up), overlapping waits count
    once, and anything heard (an answer's byte, an upload's byte taken) starts the count again."""
    from gitdatax.remotes import base

    now = [1000.0]
    monkeypatch.setattr(base.time, "monotonic", lambda: now[0])
    silent = base.SilentEndpoint(limit=10)

    def wait(seconds: float) -> str | None:
        silent.begin()
        now[0] += seconds
        try:
            return silent.timed_out("no answer")
        finally:
            silent.end()

    now[0] += 3600  # idle: not silence
    assert wait(4) is None and wait(4) is None  # 8 s waited in all
    now[0] += 600
    silent.begin()  # two requests waiting at once, 3 s: counted once, 11 s in all
    silent.begin()
    now[0] += 3
    assert silent.timed_out("no answer") == "no answer; nothing came from it for 11 s of waiting: given up"
    silent.end()
    silent.end()
    assert silent.timed_out("again") == "no answer; nothing came from it for 11 s of waiting: given up"  # once given up, given up

    fresh = base.SilentEndpoint(limit=10)
    fresh.begin()
    now[0] += 9
    fresh.heard()  # a byte: the count starts again
    now[0] += 9
    assert fresh.timed_out("no answer") is None
    now[0] += 1
    assert fresh.timed_out("no answer") == "no answer; nothing came from it for 10 s of waiting: given up"


def test_a_directory_remote_moves_small_objects_on_one_thread_and_large_ones_beside(tmp_path: Path) -> None:
    """Copies into a directory remote on this file system are CPU-bound: small objects are moved
    by one worker only (two fight over the GIL at every system call), large ones by the others,
    and the first worker joins them once the small ones are done. Every object still moves."""
    import threading

    from gitdatax.store.exchange import SMALL_IMPORT

    store = ObjectStore(tmp_path / "a")
    small = [store.put_bytes(random_bytes(2000 + i, seed=i)) for i in range(40)]
    large = [store.put_bytes(random_bytes(SMALL_IMPORT + 1 + i, seed=100 + i)) for i in range(4)]
    remote = DirectoryRemote(str(tmp_path / "remote"), {"create": True})
    assert remote.serial_small
    movers: dict[str, str] = {}
    real = remote.upload

    def recording(stub: Stub, st: ObjectStore) -> None:
        movers[stub.oid] = threading.current_thread().name
        real(stub, st)

    remote.upload = recording  # type: ignore[method-assign]
    result = transfer.upload_missing(remote, store, small + large, jobs=3, quiet=True)
    assert result.ok and len(result.moved) == 44
    assert {movers[s.oid] for s in small} == {"datax-transfer-0"}
    assert {movers[s.oid] for s in large} <= {"datax-transfer-0", "datax-transfer-1", "datax-transfer-2"}
    for s in small + large:
        assert (tmp_path / "remote/objects" / s.oid[:2] / s.oid[2:4] / s.oid).read_bytes() == \
            store.object_path(s.oid).read_bytes()
    other = ObjectStore(tmp_path / "b")
    got = transfer.download_missing(remote, other, small + large, jobs=3, quiet=True)
    assert got.ok and len(got.moved) == 44
    assert b"".join(other.iter_content(large[2])) == random_bytes(SMALL_IMPORT + 3, seed=102)
