"""Failures of the environment (a lock held by another git, a write limit, a killed process, a
store that cannot be written) through real git and real processes: one clear line, exit 1, and
nothing lost: no stub deleted, no partial file left where a stub was, no partial object published."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from datax_serve import serve, wait_for  # noqa: F401 - the fixture
from gitdatax.output import human_size
from gitdatax.remotes import RemoteError, open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub
from helpers import datax, git, leftovers, make_writable, object_path, oid_of, random_bytes, stub_bytes, write
from lfs_fault_server import FaultServer
from s3server import S3Server, s3  # noqa: F401 - the fixture


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def commit_then_stubs(repo: Path, files: dict[str, bytes]) -> None:
    """Commit `files` (tracked), then leave their stubs in the work tree, objects still local."""
    for path, data in files.items():
        write(repo / path, data)
    git("add", "-A")
    git("commit", "-qm", "data")
    for path in files:
        (repo / path).unlink()
    git("checkout", "--", *files, env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    for path, data in files.items():
        assert (repo / path).read_bytes() == stub_bytes(data)


def test_a_held_index_lock_leaves_every_stub_in_place(data_repo: Path) -> None:
    files = {"a.bin": random_bytes(3000, seed=1), "sub/b.bin": random_bytes(5000, seed=2)}
    commit_then_stubs(data_repo, files)
    (data_repo / ".git/index.lock").write_bytes(b"")  # another git is running
    proc = datax("checkout")
    assert proc.returncode == 1
    assert "Unable to create" in proc.stderr and "index.lock" in proc.stderr  # git's own words
    assert proc.stderr.splitlines()[-1] == (
        "git-datax: error: filling in 2 file(s) failed: `git checkout-index --force --index -z --stdin` "
        "exited 128 (git said why above); the files not filled in are still stubs (`git datax pull` fills them in)"
    )
    for path, data in files.items():  # not deleted
        assert (data_repo / path).read_bytes() == stub_bytes(data), path
    (data_repo / ".git/index.lock").unlink()
    assert git("status", "--porcelain").stdout == ""
    proc = datax("checkout")
    assert proc.returncode == 0, proc.stderr
    for path, data in files.items():
        assert (data_repo / path).read_bytes() == data, path
    assert git("status", "--porcelain").stdout == ""


def test_the_post_checkout_fill_in_under_a_held_index_lock_keeps_the_stub_and_the_pending_mark(
        data_repo: Path, tmp_path: Path) -> None:
    data = random_bytes(3000, seed=50)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("remote", "add", "--local", "--default", "nas", str(nas)).returncode == 0
    commit_then_stubs(data_repo, {"a.bin": data})
    assert datax("push").returncode == 0
    path = object_path(data_repo, oid_of(data))
    make_writable(path)
    path.unlink()  # only on the remote: the hook has something to fetch and fill in
    mark = data_repo / ".git/datax/pending-stubs"
    mark.write_bytes(b"")  # as the filter leaves it when it checks out a stub
    (data_repo / ".git/index.lock").write_bytes(b"")
    proc = datax("hook", "post-checkout", "HEAD", "HEAD", "1")
    assert proc.returncode == 0  # a hook after the fact never fails the checkout
    assert proc.stderr.splitlines()[-1] == (
        "git-datax: warning: cannot fill in the data files: filling in 1 file(s) failed: "
        "`git checkout-index --force --index -z --stdin` exited 128 (git said why above); "
        "the files not filled in are still stubs (`git datax pull` fills them in)")
    assert (data_repo / "a.bin").read_bytes() == stub_bytes(data)
    assert mark.exists()
    (data_repo / ".git/index.lock").unlink()
    proc = datax("pull")  # as the warning says
    assert proc.returncode == 0, proc.stderr
    assert (data_repo / "a.bin").read_bytes() == data
    assert git("status", "--porcelain").stdout == "" and not mark.exists()


def test_git_killed_half_way_through_a_file_leaves_its_stub_not_a_part_of_its_data(data_repo: Path) -> None:
    big = random_bytes(3 << 20, seed=3)
    commit_then_stubs(data_repo, {"big.bin": big})
    # A file size limit: git dies of SIGXFSZ after writing 1 MiB of the 3 MiB file.
    proc = subprocess.run(["prlimit", f"--fsize={1 << 20}", "git", "datax", "checkout"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "git-datax: error: filling in 1 file(s) failed: `git checkout-index --force --index -z --stdin` "
        "was killed by signal SIGXFSZ; the files not filled in are still stubs (`git datax pull` fills them in)"
    )
    assert (data_repo / "big.bin").read_bytes() == stub_bytes(big)
    assert git("status", "--porcelain").stdout == ""
    (data_repo / ".git/index.lock").unlink()  # git died holding it; its next message says so
    proc = datax("checkout")
    assert proc.returncode == 0, proc.stderr
    assert (data_repo / "big.bin").read_bytes() == big


def test_gc_removes_what_a_killed_clean_left_in_tmp_and_nothing_a_live_writer_holds(data_repo: Path) -> None:
    tmp = data_repo / ".git/datax/tmp"
    # Over the in-memory limit: compressed into tmp/ while it streams. Killed half way.
    clean = subprocess.Popen(["git-datax", "clean", "--", "big.bin"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert clean.stdin is not None
    clean.stdin.write(random_bytes(6 << 20, seed=4))
    clean.stdin.flush()
    deadline = time.monotonic() + 20
    while not (tmp.is_dir() and any(p.stat().st_size for p in tmp.iterdir())):
        assert time.monotonic() < deadline, "clean never started writing"
        time.sleep(0.01)
    clean.kill()
    clean.communicate()
    (left,) = tmp.iterdir()
    assert not (data_repo / ".git/datax/objects").exists() or not any((data_repo / ".git/datax/objects").rglob("*.*"))
    live = write(tmp / f"{os.getpid()}.abcdefgh.obj", b"a writer that is still running")
    size = left.stat().st_size

    proc = datax("gc", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    line = f"temporary file(s) left by interrupted writes ({human_size(size)})"
    pid = left.name.split(".")[0]  # issue 11, item 10: the dry run names each leftover
    assert proc.stdout.splitlines()[:2] == [
        f"would remove tmp/{left.name} {human_size(size):>10}  (left by process {pid}, no longer running)",
        f"gc: would remove 1 {line}"]
    assert left.exists()
    proc = datax("gc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"gc: removed 1 {line}"
    assert sorted(tmp.iterdir()) == [live]
    assert datax("gc").stdout.splitlines()[0].startswith("gc: 0 object(s)")  # nothing more to say


@pytest.mark.parametrize("fault_setting, why", [
    ({"href": "http://[::1/obj/x"}, "object {oid}: download action has no valid http(s) href"),  # not a URL
    ({"href": "http://127.0.0.1:99999/obj/x"}, "object {oid}: download action has no valid http(s) href"),
    ({"redirect_to": "http://127.0.0.1:99999"}, "download of {oid}: the server gave a malformed URL"),
])
def test_a_malformed_url_from_an_lfs_server_is_a_remote_error_not_a_crash(
        fault: FaultServer, data_repo: Path, fault_setting: dict, why: str) -> None:
    data = random_bytes(3000, seed=5)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    fault.objects[oid_of(data)] = data
    fault.faults.update(fault_setting)
    path = object_path(data_repo, oid_of(data))
    make_writable(path)
    path.unlink()
    assert datax("remote", "add", "--local", "--default", "lfs", fault.endpoint).returncode == 0
    git("config", "datax.remote.lfs.retries", "0")
    proc = datax("fetch")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [
        f"git-datax: error: 1 object(s) could not be downloaded from {fault.endpoint}:",
        f"  a.bin: remote {fault.endpoint}: " + why.format(oid=oid_of(data)),
    ]
    assert not path.exists()
    if "href" in fault_setting:  # push and gc ask has_many first: the same line, exit 1, not a crash
        proc = datax("fsck", "--remote")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_a_failed_download_is_listed_once_per_file(data_repo: Path, tmp_path: Path) -> None:
    data = random_bytes(3000, seed=6)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")  # in HEAD's tree and in the index: fetch wants it from both
    path = object_path(data_repo, oid_of(data))
    make_writable(path)
    path.unlink()
    (tmp_path / "empty-store").mkdir()
    proc = datax("fetch", str(tmp_path / "empty-store"))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"git-datax: error: 1 object(s) could not be downloaded from {tmp_path / 'empty-store'}:",
        f"  a.bin: object {oid_of(data)} is not on {tmp_path / 'empty-store'}",
    ]


@pytest.mark.parametrize("size", [3000, 5 << 20])  # written whole, and compressed from a spool file
def test_serve_accepts_an_object_again_after_its_folder_was_removed_under_it(serve, tmp_path: Path, size: int) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    local = ObjectStore(tmp_path / "local")
    stub = local.put_bytes(random_bytes(size, seed=7)) if size < 4 << 20 else local.put_file(
        write(tmp_path / "big", random_bytes(size, seed=7)))
    remote = open_remote(server.url + "/info/lfs", {"retries": 0})
    try:
        remote.upload(stub, local)
        # An administrator clears the store (or restores it from a backup) while the server runs.
        for folder in ("objects", "tmp"):  # (a small object is written without tmp/: none made)
            shutil.rmtree(server.store / folder, ignore_errors=folder == "tmp")
        remote.upload(stub, local)  # the same object again: its folders must be made again
    finally:
        remote.close()
    assert ObjectStore(server.store).verify(stub.oid) is None
    assert " 500 " not in server.log


def test_a_write_the_file_system_refuses_is_one_line_exit_1_and_no_crash_log(data_repo: Path) -> None:
    big = random_bytes(6 << 20, seed=8)
    limit = ["prlimit", f"--fsize={1 << 20}"]  # what a full disk does to a write, without filling one
    proc = subprocess.run([*limit, "git-datax", "clean", "--", "big.bin"], input=big, capture_output=True)
    assert (proc.returncode, proc.stderr) == (1, b"git-datax: error: the file system refused: File too large\n")
    write(data_repo / "big.bin", big)
    proc = subprocess.run([*limit, "git", "add", "big.bin"], capture_output=True, text=True)
    assert proc.returncode == 128
    assert proc.stderr.splitlines() == ["git-datax: cannot store big.bin: the file system refused: File too large",
                                        "fatal: big.bin: clean filter 'datax' failed"]
    assert not (data_repo / ".git/datax/logs").exists()  # not a bug: nothing to log
    assert leftovers(data_repo / ".git/datax/tmp") == []
    assert not (data_repo / ".git/datax/objects").exists()
    assert git("add", "big.bin").returncode == 0  # the limit gone, it works


def test_a_local_store_that_cannot_be_written_is_named_as_such_and_not_retried(data_repo: Path, tmp_path: Path) -> None:
    files = {f"{i}.bin": random_bytes(3000, seed=10 + i) for i in range(4)}
    for path, data in files.items():
        write(data_repo / path, data)
    git("add", "-A")
    git("commit", "-qm", "data")
    remote = tmp_path / "nas"
    remote.mkdir()
    assert datax("push", str(remote)).returncode == 0
    store = data_repo / ".git/datax"
    shutil.rmtree(store / "objects")
    (store / "objects").write_bytes(b"")  # the local store is broken, not the remote
    started = time.monotonic()
    proc = datax("fetch", str(remote))
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == f"git-datax: error: 4 object(s) could not be downloaded from {remote}:"
    assert sorted(line.split(": [Errno")[0] for line in lines[1:]) == [
        f"  {path}: cannot write object {oid_of(data)} into the local store" for path, data in sorted(files.items())]
    assert all(f"Not a directory: '{store / 'objects'}/" in line for line in lines[1:]), lines
    assert elapsed < 3  # no retries with backoff (1.75 s or more an object): retrying cannot help


def test_a_download_the_server_answers_short_is_refused_at_once_not_retried_as_a_lost_connection(
        fault: FaultServer, tmp_path: Path) -> None:
    data = random_bytes(5000, seed=20)
    stub = Stub(oid_of(data), len(data))
    fault.objects[stub.oid] = data
    fault.faults["short_bytes"] = 100  # a complete answer (its Content-Length) of 4900 bytes
    store = ObjectStore(tmp_path / "s")
    remote = open_remote(fault.endpoint, {"backoff": 0.01})
    with pytest.raises(RemoteError) as info:
        remote.download(stub, store)
    assert str(info.value) == (f"remote {fault.endpoint}: download of {stub.oid}: the server's answer has "
                               "4900 bytes, the object 5000; nothing was stored")
    assert fault.count("GET", "/obj/") == 1
    assert not store.has(stub.oid) and list((tmp_path / "s").rglob("*.*")) == []


def test_fsck_quarantines_an_object_that_is_a_directory_or_a_dangling_link(data_repo: Path) -> None:
    files = {"dir.bin": random_bytes(3000, seed=30), "link.bin": random_bytes(3000, seed=31),
             "good.bin": random_bytes(3000, seed=32)}
    for path, data in files.items():
        write(data_repo / path, data)
    git("add", "-A")
    git("commit", "-qm", "data")
    as_dir, as_link = object_path(data_repo, oid_of(files["dir.bin"])), object_path(data_repo, oid_of(files["link.bin"]))
    for path in (as_dir, as_link):
        make_writable(path)
        path.unlink()
    as_dir.mkdir()
    as_link.symlink_to(data_repo / "nowhere")
    proc = datax("fsck")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    bad = data_repo / ".git/datax/bad"
    assert sorted(proc.stdout.splitlines()[:2]) == sorted([
        f"corrupt: object {oid_of(files['dir.bin'])} cannot be read (Is a directory); moved to {bad / as_dir.name}",
        f"corrupt: object {oid_of(files['link.bin'])} cannot be read (No such file or directory); "
        f"moved to {bad / as_link.name}",
    ])
    assert proc.stdout.splitlines()[-1].startswith("fsck: PROBLEMS FOUND: 3 object(s) verified")
    assert not as_dir.exists() and not as_link.is_symlink()
    assert object_path(data_repo, oid_of(files["good.bin"])).is_file()


@pytest.mark.parametrize("url, key, value, expected", [
    ("http://127.0.0.1:9/team/proj", "retries", "abc", "a whole number, 0 or more"),
    ("http://127.0.0.1:9/team/proj", "timeout", "soon", "a number of seconds over 0"),
    ("http://127.0.0.1:9/team/proj", "timeout", "0", "a number of seconds over 0"),
    ("http://127.0.0.1:9/team/proj", "backoff", "-1", "a number of seconds, 0 or more"),
    ("ssh://127.0.0.1:9/srv/store", "connections", "0", "a whole number, 1 or more"),  # waited forever
])
def test_a_bad_remote_option_is_one_line_and_exit_1(data_repo: Path, url: str, key: str, value: str,
                                                   expected: str) -> None:
    data = random_bytes(3000, seed=40)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    path = object_path(data_repo, oid_of(data))
    make_writable(path)
    path.unlink()  # so that fetch opens the remote
    assert datax("remote", "add", "--local", "--default", "team", url).returncode == 0
    git("config", f"datax.remote.team.{key}", value)
    proc = subprocess.run(["git", "datax", "fetch"], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stderr) == (
        1, f"git-datax: error: remote {url}: bad {key} {value!r} (expected {expected})\n")


@pytest.mark.parametrize("text, message", [
    (b'[remote.team]\nurl = ["/srv/a", "/srv/b"]\n', ".datax.toml: [remote.team] url must be a string, not a list"),
    (b"[remote.team]\nurl = 5\n", ".datax.toml: [remote.team] url must be a string, not a number"),
    (None, ".datax.toml: cannot read it (Is a directory)"),
])
def test_a_datax_toml_of_the_wrong_shape_is_one_line(data_repo: Path, text: bytes | None, message: str) -> None:
    if text is None:
        (data_repo / ".datax.toml").mkdir()
    else:
        write(data_repo / ".datax.toml", text)
    for command in (["push"], ["remote", "list"]):
        proc = datax(*command)
        assert (proc.returncode, proc.stderr) == (1, f"git-datax: error: {message}\n"), command


def test_push_to_a_directory_store_removes_what_interrupted_pushes_left_in_its_tmp(data_repo: Path, tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    (nas / "tmp").mkdir(parents=True)
    # A push interrupted mid-copy (Ctrl-C, a kill, a crash) leaves its partial copy behind.
    stale = write(nas / "tmp" / f"{'a' * 64}.4242.1.0.obj", b"half of an object")
    hour_ago = time.time() - 3700
    os.utime(stale, (hour_ago, hour_ago))
    live = write(nas / "tmp" / f"{'b' * 64}.4243.1.0.obj", b"being copied right now")  # by another push
    data = random_bytes(3000, seed=60)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    proc = datax("push", str(nas))
    assert proc.returncode == 0, proc.stderr
    assert sorted((nas / "tmp").iterdir()) == [live]
    assert (nas / "objects" / oid_of(data)[:2] / oid_of(data)[2:4] / oid_of(data)).is_file()


def test_a_download_from_s3_that_the_local_disk_refuses_blames_the_local_store_and_is_not_retried(
        s3: S3Server, data_repo: Path) -> None:
    data = random_bytes(2 << 20, seed=70)  # random: its object file is over the limit below
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    assert datax("remote", "add", "--local", "--default", "team", s3.url(), "--endpoint-url", s3.endpoint).returncode == 0
    assert datax("push").returncode == 0
    path = object_path(data_repo, oid_of(data))
    make_writable(path)
    path.unlink()
    started = time.monotonic()
    proc = subprocess.run(["prlimit", f"--fsize={1 << 20}", "git", "datax", "fetch"],
                          capture_output=True, text=True)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1] == (
        f"  a.bin: cannot write object {oid_of(data)} into the local store: [Errno 27] File too large")
    assert elapsed < 4  # not retried with backoff: 1.75 s or more for each of three retries
    assert not path.exists() and leftovers(data_repo / ".git/datax/tmp") == []


@pytest.mark.parametrize("command", ["checkout", "pull"])
def test_a_file_left_a_stub_by_a_corrupt_object_is_not_counted_as_filled_in(data_repo: Path, tmp_path: Path,
                                                                          command: str) -> None:
    files = {"bad.bin": random_bytes(3000, seed=80), "good.bin": random_bytes(3000, seed=81)}
    commit_then_stubs(data_repo, files)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("push", str(nas)).returncode == 0  # for pull: a good copy is on the remote
    assert datax("remote", "add", "--local", "--default", "nas", str(nas)).returncode == 0
    bad = object_path(data_repo, oid_of(files["bad.bin"]))
    raw = bytearray(bad.read_bytes())
    raw[100] ^= 0x40
    bad.unlink()  # not in place: the remote's copy is a hard link to this file
    bad.write_bytes(bytes(raw))
    proc = datax(command)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"git-datax: bad.bin: object {oid_of(files['bad.bin'])} is corrupt in the store")
    assert lines[1:] == [
        "gitdatax: 1 file(s) filled in",
        "git-datax: error: 1 file(s) are still stubs: their objects in the local store cannot be read "
        "(said above); `git datax fsck` moves corrupt ones aside, then `git datax pull` fetches them again",
    ]
    assert (data_repo / "good.bin").read_bytes() == files["good.bin"]
    assert (data_repo / "bad.bin").read_bytes() == stub_bytes(files["bad.bin"])
    assert datax("fsck").returncode == 1  # as the message says: quarantined ...
    assert datax("pull").returncode == 0  # ... and fetched again
    assert (data_repo / "bad.bin").read_bytes() == files["bad.bin"]


def test_an_lfs_server_that_cannot_be_reached_costs_one_round_of_retries_not_one_per_object(tmp_path: Path) -> None:
    from giftless_server import free_port

    from gitdatax.sync.transfer import download_missing

    url = f"http://127.0.0.1:{free_port()}/team/proj"  # nothing listens: connection refused
    store = ObjectStore(tmp_path / "s")
    stubs = [Stub(oid_of(b"%d" % i), len(b"%d" % i)) for i in range(8)]
    remote = open_remote(url, {"backoff": 0.25, "retries": 3})  # 0.25 + 0.5 + 1 s of backoff a round
    started = time.monotonic()
    try:
        result = download_missing(remote, store, stubs, jobs=1, quiet=True)
    finally:
        remote.close()
    elapsed = time.monotonic() - started
    assert set(result.failed) == {s.oid for s in stubs}
    assert set(result.failed.values()) == {f"remote {url}: batch download: cannot connect (connection refused)"}
    assert elapsed < 5, elapsed  # was 8 rounds, 14 s: a clone of 2000 files waited half an hour


def test_an_s3_endpoint_that_cannot_be_reached_costs_one_round_of_retries_not_one_per_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from giftless_server import free_port

    from gitdatax.sync import transfer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    store = ObjectStore(tmp_path / "s")
    stubs = [Stub(oid_of(b"%d" % i), len(b"%d" % i)) for i in range(4)]
    remote = open_remote("s3://bucket/team", {"endpoint_url": endpoint, "region": "us-east-1", "backoff": "0.05"})
    started = time.monotonic()
    try:
        result = transfer.download_missing(remote, store, stubs, jobs=1, quiet=True)
    finally:
        remote.close()
    elapsed = time.monotonic() - started
    assert set(result.failed.values()) == {f"remote s3://bucket/team: cannot connect to {endpoint}"}
    assert len(result.failed) == 4
    # One object's round of tries (botocore retries none of them: the policy's 4 tries in all),
    # then none: was 25 s, and for 2000 objects hours.
    assert elapsed < 8, elapsed


def test_an_ssh_server_that_cannot_be_reached_costs_one_round_of_retries_not_one_per_object(tmp_path: Path) -> None:
    from giftless_server import free_port

    from gitdatax.sync.transfer import download_missing

    url = f"ssh://127.0.0.1:{free_port()}/srv/store"  # nothing listens: ssh says connection refused
    store = ObjectStore(tmp_path / "s")
    stubs = [Stub(oid_of(b"%d" % i), len(b"%d" % i)) for i in range(6)]
    remote = open_remote(url, {"sshcommand": "ssh -o BatchMode=yes -o StrictHostKeyChecking=no"})
    started = time.monotonic()
    try:
        result = download_missing(remote, store, stubs, jobs=1, quiet=True)
    finally:
        remote.close()
    elapsed = time.monotonic() - started
    assert len(result.failed) == 6
    (why,) = set(result.failed.values())
    assert why.startswith(f"remote {url}: ssh exited 255: ") and why.endswith("Connection refused")
    # One object's round of tries (1.75-5.25 s of backoff), then none: was 10.5 s or more
    assert elapsed < 8, elapsed


def _corrupt_copy(path: Path) -> bytes:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    return bytes(raw)


def test_a_corrupt_object_in_a_directory_store_is_named_as_the_remote_s(data_repo: Path, tmp_path: Path) -> None:
    data = random_bytes(3000, seed=90)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("push", str(nas)).returncode == 0
    local = object_path(data_repo, oid_of(data))
    theirs = nas / "objects" / oid_of(data)[:2] / oid_of(data)[2:4] / oid_of(data)
    bad = _corrupt_copy(theirs)
    theirs.unlink()  # (a hard link to ours)
    theirs.write_bytes(bad)
    make_writable(local)
    local.unlink()
    proc = datax("fetch", str(nas))
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1] == (
        f"  a.bin: remote {nas}: its copy of object {oid_of(data)} is corrupt "
        "(zstd: decompression error: Restored data doesn't match checksum); nothing was stored")
    assert not local.exists() and leftovers(data_repo / ".git/datax/tmp") == []


def test_a_corrupt_object_in_s3_is_named_as_the_remote_s(s3: S3Server, data_repo: Path) -> None:
    data = random_bytes(3000, seed=91)
    write(data_repo / "a.bin", data)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    assert datax("remote", "add", "--local", "--default", "team", s3.url(), "--endpoint-url", s3.endpoint).returncode == 0
    local = object_path(data_repo, oid_of(data))
    key = f"team/objects/{oid_of(data)[:2]}/{oid_of(data)[2:4]}/{oid_of(data)}"
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=_corrupt_copy(local))
    make_writable(local)
    local.unlink()
    proc = datax("fetch")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1] == (
        f"  a.bin: remote {s3.url()}: its copy of object {oid_of(data)} is corrupt "
        "(zstd: decompression error: Restored data doesn't match checksum); nothing was stored")
    assert not local.exists()


@pytest.mark.parametrize("cut", ["between packets", "inside a packet"])
def test_git_dying_in_the_middle_of_a_file_it_sends_is_not_a_bug(repo: Path, cut: str) -> None:
    from test_filter_process import FilterClient

    from gitdatax.filter import pktline

    client = FilterClient(repo)
    try:
        client.handshake()
        pktline.write_text_list(client.stdin, ["command=clean", "pathname=big.bin"])
        for _ in range(100):  # 6.5 MiB, over the in-memory limit: compressed into tmp/ as it comes
            pktline.write_packet(client.stdin, random_bytes(65516, seed=100))
        if cut == "inside a packet":
            client.stdin.write(b"fff0" + b"x" * 1000)
        rc, stderr = client.close()  # git is gone: no flush packet, no more requests
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait()
    assert (rc, stderr) == (1, "git-datax: error: filter protocol error: git closed the pipe in the middle of "
                               "big.bin; nothing was stored for it\n")
    assert not (repo / ".git/datax/logs").exists()
    assert leftovers(repo / ".git/datax/tmp") == []


@pytest.mark.parametrize("size, sent_as", [(3 << 20, "/stored"), (5 << 20, "/chunks")])  # one frame; chunked
def test_serve_on_a_full_disk_answers_507_once_and_the_client_does_not_send_the_object_again(
        serve, tmp_path: Path, size: int, sent_as: str) -> None:  # type: ignore[no-untyped-def]
    server = serve(None, command=["prlimit", f"--fsize={1 << 20}", "git-datax", "serve"])
    local = ObjectStore(tmp_path / "local")
    stub = local.put_file(write(tmp_path / "big", random_bytes(size, seed=110)))  # over the limit
    remote = open_remote(server.url + "/info/lfs", {"backoff": 0.01})
    try:
        with pytest.raises(RemoteError) as info:
            remote.upload(stub, local)
    finally:
        remote.close()
    assert str(info.value) == (f"remote {server.url}/info/lfs: upload of {'chunks of ' if sent_as == '/chunks' else ''}{stub.oid}: HTTP 507: the server "
                               "cannot store it: the file system refused: File too large")
    # gitdatax to serve: an object file as stored, a chunked one as packs of its chunks
    # (the datax-chunks transfer, docs/http-chunks.md)
    assert wait_for(lambda: f'/objects/{stub.oid}{sent_as}" 507' in server.log), server.log
    assert server.log.count(f'/objects/{stub.oid}{sent_as}"') == 1  # not sent four times
    assert "git-datax serve: the file system refused: File too large\n" in server.log
    assert "Traceback" not in server.log
    assert not ObjectStore(server.store).has(stub.oid) and leftovers(server.store / "tmp") == []


def test_the_pending_mark_keeps_fresh_download_failures_only(data_repo: Path) -> None:
    """What the filter tells the post-checkout hook: downloads that failed in the last few
    minutes (not tried again), never an old one or a line a crash cut short."""
    from gitdatax.sync.worktree import (FRESH_FAILURE_SECONDS, clear_pending, note_fetch_failure, pending_mark,
                                        recent_fetch_failures)

    store = ObjectStore(data_repo / ".git" / "datax")
    fresh, old, cut = (oid_of(bytes([n])) for n in (1, 2, 3))
    note_fetch_failure(store, fresh, "remote x: the server sent nothing\nfor 60 s")
    with open(pending_mark(store), "a") as f:
        f.write(f"fetch-failed {old} {int(time.time()) - FRESH_FAILURE_SECONDS - 5} remote x: refused\n")
        f.write(f"fetch-failed {cut} {int(time.time())}")  # no reason, no newline: cut short
    assert recent_fetch_failures(store) == {fresh: "remote x: the server sent nothing for 60 s"}
    assert recent_fetch_failures(store, now=time.time() + FRESH_FAILURE_SECONDS + 10) == {}
    clear_pending(store)
    assert recent_fetch_failures(store) == {} and not pending_mark(store).exists()
