"""The Git LFS HTTP remote against giftless (a server we did not write), git-lfs as a second client,
and a fault-injecting server of our own for retries, corruption, dropped connections, hostile
answers, redirects and credentials."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from giftless_server import giftless
from helpers import SILENT_OPTIONS, SilentServer, datax, git, object_path, random_bytes, transfer_against_silence, write
from lfs_fault_server import FaultServer
from synchelpers import FILES, assert_files, fresh_home

from gitdatax.remotes import RemoteError, RemoteObjectMissing, open_remote
from gitdatax.remotes.lfs_http import LfsHttpRemote, lfs_endpoint
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub

FAST = {"backoff": 0.01}


@pytest.fixture(scope="module")
def giftless_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with giftless(tmp_path_factory.mktemp("giftless")) as url:
        yield url


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def store_with(tmp_path: Path, name: str, *blobs: bytes) -> tuple[ObjectStore, list[Stub]]:
    store = ObjectStore(tmp_path / name)
    return store, [store.put_bytes(b) for b in blobs]


def files_under(path: Path) -> list[Path]:
    """Files written under `path`, leaving out the test's HOME (conftest's git config)."""
    home = path / "home"
    return sorted(p for p in path.rglob("*") if p.is_file() and home not in p.parents) if path.exists() else []


def test_endpoint_follows_git_lfs_server_discovery() -> None:
    assert lfs_endpoint("https://h/team/proj") == "https://h/team/proj.git/info/lfs"
    assert lfs_endpoint("https://h/team/proj.git") == "https://h/team/proj.git/info/lfs"
    assert lfs_endpoint("https://h/team/proj.git/info/lfs/") == "https://h/team/proj.git/info/lfs"
    remote = open_remote("https://alice:tok3n@h.example/team/proj")
    assert isinstance(remote, LfsHttpRemote)
    assert remote.url == "https://h.example/team/proj"  # userinfo never shown
    assert "tok3n" not in remote.url and "tok3n" not in remote.endpoint


# -- giftless ---------------------------------------------------------------------------------


def test_giftless_upload_has_many_download(giftless_url: str, tmp_path: Path) -> None:
    big = random_bytes(3 << 20, seed=1)  # several chunks each way
    store, stubs = store_with(tmp_path, "a", b"alpha\n" * 100, big, b"\x00" * 10)
    absent = Stub(hashlib.sha256(b"never uploaded").hexdigest(), 14)
    remote = open_remote(f"{giftless_url}/team/roundtrip")
    try:
        assert remote.has_many(stubs + [absent]) == set()  # giftless answers 404 to the batch
        for stub in stubs:
            remote.upload(stub, store)
        remote.upload(stubs[0], store)  # already there: the server sends no action, nothing moves
        assert remote.has_many(stubs + [absent]) == {s.oid for s in stubs}
        fresh = ObjectStore(tmp_path / "b")
        for stub in stubs:
            remote.download(stub, fresh)
        assert b"".join(fresh.read_verified(stubs[1])) == big
        assert b"".join(fresh.read_verified(stubs[0])) == b"alpha\n" * 100
        with pytest.raises(RemoteObjectMissing, match=absent.oid):
            remote.download(absent, fresh)
        assert not fresh.has(absent.oid)
    finally:
        remote.close()


def test_giftless_parallel_transfers(giftless_url: str, tmp_path: Path) -> None:
    from gitdatax.sync.transfer import download_missing, upload_missing

    store = ObjectStore(tmp_path / "a")
    stubs = [store.put_bytes(random_bytes(30_000 + i, seed=100 + i)) for i in range(24)]
    remote = open_remote(f"{giftless_url}/team/parallel")
    try:
        result = upload_missing(remote, store, stubs, jobs=8, quiet=True)
        assert result.ok and len(result.moved) == 24
        assert upload_missing(remote, store, stubs, jobs=8, quiet=True).present == stubs
        fresh = ObjectStore(tmp_path / "b")
        result = download_missing(remote, fresh, stubs, jobs=8, quiet=True)
        assert result.ok and sorted(fresh.iter_oids()) == sorted(s.oid for s in stubs)
    finally:
        remote.close()


def test_git_lfs_and_gitdatax_exchange_objects_through_giftless(giftless_url: str, tmp_path: Path) -> None:
    assert shutil.which("git-lfs"), "git-lfs is needed: ./install.sh --dev installs Debian's git-lfs"
    data = random_bytes(300_000, seed=7)
    store, (stub,) = store_with(tmp_path, "s", data)
    endpoint = f"{giftless_url}/team/interop.git/info/lfs"
    remote = open_remote(endpoint)
    remote.upload(stub, store)
    # A repository whose commit holds the Git LFS pointer; git-lfs fetches it from the same server.
    repo = tmp_path / "lfsrepo"
    git("init", "-q", str(repo))
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (repo / "model.bin").write_bytes(stub.to_lfs_pointer())
    git("add", ".", cwd=repo)
    git("commit", "-qm", "pointer", cwd=repo)
    git("config", "lfs.url", endpoint, cwd=repo)
    fetched = git("lfs", "fetch", cwd=repo, check=False)
    assert fetched.returncode == 0, fetched.stderr
    lfs_object = repo / ".git" / "lfs" / "objects" / stub.oid[:2] / stub.oid[2:4] / stub.oid
    assert lfs_object.stat().st_size == stub.size
    assert hashlib.sha256(lfs_object.read_bytes()).hexdigest() == stub.oid
    # The other way: git-lfs uploads an object, gitdatax downloads and verifies it.
    theirs = random_bytes(120_000, seed=8)
    their_stub = Stub(hashlib.sha256(theirs).hexdigest(), len(theirs))
    git("remote", "add", "origin", str(tmp_path / "unused.git"), cwd=repo)
    cleaned = subprocess.run(["git", "lfs", "clean", "other.bin"], cwd=repo, input=theirs, capture_output=True)
    assert cleaned.returncode == 0 and cleaned.stdout == their_stub.to_lfs_pointer()
    git("lfs", "push", "--object-id", "origin", their_stub.oid, cwd=repo)
    fresh = ObjectStore(tmp_path / "fresh")
    remote.download(their_stub, fresh)
    remote.close()
    assert b"".join(fresh.read_verified(their_stub)) == theirs


# -- faults -----------------------------------------------------------------------------------


def test_batch_of_150_is_sent_as_100_plus_50_with_lfs_accept(fault: FaultServer, tmp_path: Path) -> None:
    stubs = [Stub(hashlib.sha256(b"%d" % i).hexdigest(), len(b"%d" % i)) for i in range(150)]
    fault.objects[stubs[3].oid] = b"3"
    remote = LfsHttpRemote(fault.endpoint, FAST)
    assert remote.has_many(stubs) == {stubs[3].oid}
    batches = [r for r in fault.requests if r[1] == "/team/proj.git/info/lfs/objects/batch"]
    assert len(batches) == 2
    assert all(h["Accept"] == "application/vnd.git-lfs+json" for _, _, h in batches)
    assert all("Authorization" not in h for _, _, h in batches)  # anonymous until a 401


def test_500_twice_then_success_is_retried(fault: FaultServer, tmp_path: Path) -> None:
    store, (stub,) = store_with(tmp_path, "a", b"payload" * 1000)
    remote = LfsHttpRemote(fault.endpoint, FAST)
    fault.faults["batch_500"] = 2
    remote.retry.run(lambda: remote.upload(stub, store))  # as the transfer layer runs it
    assert fault.objects[stub.oid] == b"payload" * 1000
    assert fault.count("POST", "/team/proj.git/info/lfs/objects/batch") == 3
    put = [h for m, p, h in fault.requests if m == "PUT"][0]
    assert put["Content-Length"] == str(stub.size) and "Transfer-Encoding" not in put
    assert fault.count("POST", "/verify") == 1
    fault.faults["get_500"] = 2
    fresh = ObjectStore(tmp_path / "b")
    remote.retry.run(lambda: remote.download(stub, fresh))
    assert b"".join(fresh.read_verified(stub)) == b"payload" * 1000
    assert fault.count("GET", "/obj/") == 3


def test_retry_after_is_honoured(fault: FaultServer, tmp_path: Path) -> None:
    fault.objects[hashlib.sha256(b"x").hexdigest()] = b"x"
    fault.faults.update(batch_429=1, retry_after=1)
    remote = LfsHttpRemote(fault.endpoint, FAST)
    started = time.monotonic()
    assert remote.retry.run(lambda: remote.has_many([Stub(hashlib.sha256(b"x").hexdigest(), 1)]))
    assert time.monotonic() - started >= 1.0  # the 0.01 s backoff alone would be far quicker


def test_persistent_500_is_a_transient_error_naming_the_remote(fault: FaultServer, tmp_path: Path) -> None:
    fault.faults["batch_500"] = 100
    remote = LfsHttpRemote(fault.endpoint, {"backoff": 0.01, "retries": 2})
    with pytest.raises(RemoteError) as info:
        remote.has_many([Stub("a" * 64, 1)])
    assert info.value.transient and fault.count("POST", "/team/proj.git/info/lfs/objects/batch") == 1  # sent once
    with pytest.raises(RemoteError) as info:
        remote.retry.run(lambda: remote.has_many([Stub("a" * 64, 1)]))
    assert str(info.value) == f"remote {fault.endpoint}: ask which objects it has: server error (HTTP 500)"
    assert fault.count("POST", "/team/proj.git/info/lfs/objects/batch") == 1 + 3


def test_corrupt_bytes_are_refused_and_nothing_published(fault: FaultServer, tmp_path: Path) -> None:
    data = random_bytes(50_000, seed=3)
    stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
    fault.objects[stub.oid] = data
    fault.faults["corrupt"] = True
    store = ObjectStore(tmp_path / "s")
    with pytest.raises(RemoteError, match=f"object {stub.oid} failed verification"):
        LfsHttpRemote(fault.endpoint, FAST).download(stub, store)
    assert not store.has(stub.oid)
    assert files_under(store.root) == []  # no tmp file left either


def test_connection_dropped_mid_download_resumes_with_range(fault: FaultServer, tmp_path: Path) -> None:
    data = random_bytes(2 << 20, seed=4)
    stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
    fault.objects[stub.oid] = data
    fault.faults["drop_mid_get"] = 1
    store = ObjectStore(tmp_path / "s")
    LfsHttpRemote(fault.endpoint, FAST).download(stub, store)
    assert b"".join(store.read_verified(stub)) == data
    gets = [h for m, p, h in fault.requests if m == "GET"]
    assert len(gets) == 2 and gets[1]["Range"] == f"bytes={len(data) // 2}-"


def test_dropped_download_restarts_when_server_ignores_range(fault: FaultServer, tmp_path: Path) -> None:
    data = random_bytes(1 << 20, seed=5)
    stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
    fault.objects[stub.oid] = data
    fault.faults.update(drop_mid_get=1, ignore_range=True)
    store = ObjectStore(tmp_path / "s")
    LfsHttpRemote(fault.endpoint, FAST).download(stub, store)
    assert b"".join(store.read_verified(stub)) == data


@pytest.mark.parametrize("answer", [
    {"answer_oid": "b" * 64},  # an object we did not ask for
    {"answer_oid": "../../../../tmp/evil"},  # not an oid: a path
    {"answer_size": 10 ** 12},  # a size other than the one asked
])
def test_hostile_batch_answers_write_nothing(fault: FaultServer, tmp_path: Path, answer: dict) -> None:
    data = b"genuine content"
    stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
    fault.objects[stub.oid] = data
    fault.faults.update(answer)
    store = ObjectStore(tmp_path / "s")
    remote = LfsHttpRemote(fault.endpoint, FAST)
    with pytest.raises(RemoteError, match="not asked for|has size"):
        remote.download(stub, store)
    with pytest.raises(RemoteError):
        remote.has_many([stub])
    assert files_under(tmp_path) == []


def test_oversized_download_is_refused(fault: FaultServer, tmp_path: Path) -> None:
    data = b"small object"
    stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
    fault.objects[stub.oid] = data
    fault.faults["extra_bytes"] = 5 << 20
    store = ObjectStore(tmp_path / "s")
    with pytest.raises(RemoteError, match=f"download of {stub.oid}: the server sends .* more than"):
        LfsHttpRemote(fault.endpoint, FAST).download(stub, store)
    assert files_under(tmp_path) == []


def test_redirect_to_another_host_never_carries_credentials(tmp_path: Path) -> None:
    data = b"redirected content"
    stub = Stub(hashlib.sha256(data).hexdigest(), len(data))
    with FaultServer() as origin, FaultServer() as other:
        origin.objects[stub.oid] = data
        origin.faults["redirect_to"] = other.base  # the object is not there: 404
        store = ObjectStore(tmp_path / "s")
        remote = LfsHttpRemote(origin.endpoint.replace("http://", "http://alice:pw@"), FAST)
        with pytest.raises(RemoteError, match=f"download of {stub.oid}"):
            remote.download(stub, store)
        assert other.requests, "the redirect was not followed"
        for _, _, headers in other.requests:
            assert "Authorization" not in headers and "action-token" not in str(headers)
        # The batch endpoint itself redirecting elsewhere is refused outright.
        origin.faults["batch_redirect"] = other.endpoint + "/objects/batch"
        with pytest.raises(RemoteError, match="redirected to another host .*refusing to send credentials"):
            remote.has_many([stub])
        assert other.count("POST", "/") == 0
    assert files_under(tmp_path) == []


def test_credentials_come_from_git_credential_helpers(fault: FaultServer, tmp_path: Path,
                                                     isolated_git: Path) -> None:
    log = tmp_path / "helper.log"
    helper = f'!f() {{ echo "$1" >> {log}; test "$1" = get && printf "username=alice\\npassword=s3cret\\n"; }}; f'
    git("config", "--global", "credential.helper", helper)
    store, (stub,) = store_with(tmp_path, "a", b"secret data")
    fault.faults["basic_auth"] = "alice:s3cret"
    remote = LfsHttpRemote(fault.endpoint, FAST)
    remote.upload(stub, store)
    assert fault.objects[stub.oid] == b"secret data"
    assert log.read_text().split() == ["get", "store"]
    assert "s3cret" not in repr(remote.http.__dict__) and "alice" in repr(remote.http.__dict__)  # Credential's repr hides the password
    # A wrong password: rejected (erase), and one clear error.
    fault.faults["basic_auth"] = "alice:other"
    log.unlink()
    remote = LfsHttpRemote(fault.endpoint, FAST)
    with pytest.raises(RemoteError) as info:
        remote.has_many([stub])
    assert "the server rejected the credentials (HTTP 401)" in str(info.value) and "s3cret" not in str(info.value)
    assert log.read_text().split() == ["get", "erase"]


def test_a_wrong_password_in_the_url_says_the_credentials_were_rejected(fault: FaultServer, tmp_path: Path) -> None:
    # Issue 16 item 6: it said "no credentials came from git's credential helpers".
    fault.faults["basic_auth"] = "alice:s3cret"
    url = fault.endpoint.replace("http://", "http://alice:wrong@")
    with pytest.raises(RemoteError) as info:
        LfsHttpRemote(url, FAST).has_many([Stub("c" * 64, 3)])
    assert str(info.value) == (f"remote {fault.endpoint}: the server rejected the credentials (HTTP 401) for user "
                               "'alice', and git's credential helpers have no others")


def test_no_credentials_available_is_one_clear_line(fault: FaultServer, tmp_path: Path) -> None:
    fault.faults["basic_auth"] = "alice:s3cret"
    with pytest.raises(RemoteError) as info:
        LfsHttpRemote(fault.endpoint, FAST).has_many([Stub("c" * 64, 3)])
    assert str(info.value) == (f"remote {fault.endpoint}: the server requires authentication and "
                               "no credentials came from git's credential helpers")


def test_remote_that_does_not_exist_is_one_clear_line(tmp_path: Path) -> None:
    from giftless_server import free_port

    url = f"http://127.0.0.1:{free_port()}/team/nothing-here"
    store, (stub,) = store_with(tmp_path, "a", b"data")
    with pytest.raises(RemoteError) as info:
        open_remote(url, {"backoff": 0.01, "retries": 1}).upload(stub, store)
    assert str(info.value) == f"remote {url}: batch upload: cannot connect (connection refused)"


def test_unknown_repository_on_a_real_server_names_the_remote(fault: FaultServer, tmp_path: Path) -> None:
    url = f"{fault.base}/no/such"  # our server only knows /team/proj.git/info/lfs
    store, (stub,) = store_with(tmp_path, "a", b"data")
    with pytest.raises(RemoteError) as info:
        LfsHttpRemote(url, FAST).upload(stub, store)
    assert str(info.value).startswith(f"remote {url}: batch upload: not found (HTTP 404)")
    assert "\n" not in str(info.value)


# -- end to end: git push, plain git clone in a fresh HOME, git datax pull -----------------------


def test_push_clone_pull_through_giftless(giftless_url: str, tmp_path: Path) -> None:
    url = f"{giftless_url}/team/e2e"
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server))
    work = tmp_path / "work"
    git("clone", "-q", str(server), str(work))
    assert datax("install", "--local", cwd=work).returncode == 0
    assert datax("track", "*.csv", "*.bin", cwd=work).returncode == 0
    write(work / ".datax.toml", f'[remote.lfs]\nurl = "{url}"\ndefault = true\n'.encode())
    for path, data in FILES.items():
        write(work / path, data)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "data v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    stubs = [Stub(hashlib.sha256(d).hexdigest(), len(d)) for d in FILES.values()]
    remote = open_remote(url)
    assert remote.has_many(stubs) == {s.oid for s in stubs}  # pre-push put them on the LFS server
    remote.close()
    assert not (server / "datax").exists()  # and not in the Git server's store

    env = fresh_home(tmp_path, "teammate")
    clone = tmp_path / "clone"
    git("clone", "-q", str(server), str(clone), env=env)
    assert_files(clone, env=env)

    shutil.rmtree(clone / ".git" / "datax")
    pulled = datax("pull", cwd=clone, env=env)
    assert pulled.returncode == 0, pulled.stderr
    for stub in stubs:
        assert object_path(clone, stub.oid).is_file()
        assert ObjectStore(clone / ".git" / "datax").verify(stub.oid) is None
    assert_files(clone, env=env)


def test_a_server_that_answers_no_request_is_given_up_on_for_the_whole_transfer(tmp_path: Path) -> None:
    """Connections accepted, no answer ever: once requests have waited one object's tries in all
    (tries x timeout), every object still to come fails at once with that reason, instead of
    each waiting out its own tries. One slow answer is retried (the fault server's tests)."""
    server = SilentServer()
    url = f"http://127.0.0.1:{server.port}/repo.git/info/lfs"
    stubs = [Stub(hashlib.sha256(bytes([n])).hexdigest(), 1) for n in range(12)]
    try:
        failed, elapsed = transfer_against_silence(open_remote(url, SILENT_OPTIONS), ObjectStore(tmp_path / "a"), stubs)
    finally:
        server.close()
    assert sum("no answer in 1 s; nothing came from it for" in why for why in failed.values()) >= 10, failed
    assert len(server.connections) <= 6, len(server.connections)  # 24 tries without the rule
    assert elapsed < 8, f"{elapsed:.1f} s"  # 12 s without it
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").rglob("*"))
