"""The SSH remote against Debian's sshd on a loopback port, and the stdio server's protocol checks."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from giftless_server import free_port
from helpers import SILENT_OPTIONS, datax, git, is_stub, object_path, random_bytes, transfer_against_silence, write
from sshd_server import Sshd, sshd
from synchelpers import FILES, assert_files, fresh_home

from gitdatax.remotes import frames
from gitdatax.remotes import RemoteError, RemoteObjectMissing, open_remote
from gitdatax.remotes.ssh import SshRemote, parse_ssh_url, ssh_argv
from gitdatax.server.stdio import StdioServer
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def ssh_env(ssh_server: Sshd, monkeypatch: pytest.MonkeyPatch) -> Sshd:
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_server.ssh_command)
    return ssh_server


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_url_forms() -> None:
    assert parse_ssh_url("ssh://git@example.org:2222/srv/data.git") == ("git", "example.org", 2222, "/srv/data.git")
    assert parse_ssh_url("ssh://example.org/~/data") == (None, "example.org", None, "~/data")
    assert parse_ssh_url("alice@example.org:proj/data.git") == ("alice", "example.org", None, "proj/data.git")
    with pytest.raises(RemoteError, match="bad host"):
        parse_ssh_url("ssh://-oProxyCommand=evil/x")


def test_ssh_command_follows_git(monkeypatch: pytest.MonkeyPatch, isolated_git: Path) -> None:
    target = parse_ssh_url("ssh://u@h:2200/p a")
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.delenv("GIT_SSH", raising=False)
    assert ssh_argv(target, {}) == ["ssh", "-p", "2200", "u@h", "git-datax serve --stdio '/p a'"]
    monkeypatch.setenv("GIT_SSH", "/opt/myssh")
    assert ssh_argv(target, {})[0] == "/opt/myssh"
    git("config", "--global", "datax.sshcommand", "ssh -i key")
    assert ssh_argv(target, {})[:4] == ["sh", "-c", 'ssh -i key "$@"', "ssh -i key"]
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -v")
    assert ssh_argv(target, {})[2] == 'ssh -v "$@"'


def test_roundtrip_into_a_bare_repository_store(ssh_env: Sshd, tmp_path: Path) -> None:
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    store = ObjectStore(tmp_path / "local")
    big = random_bytes(3 << 20, seed=11)
    stubs = [store.put_bytes(b) for b in (big, b"small\n", b"\x00" * 5000)]
    absent = Stub(hashlib.sha256(b"nope").hexdigest(), 4)
    url = f"ssh://{ssh_env.user}@127.0.0.1:{ssh_env.port}{bare}"
    remote = open_remote(url)
    assert isinstance(remote, SshRemote)
    try:
        assert remote.has_many(stubs + [absent]) == set()
        for stub in stubs:
            remote.upload(stub, store)
        remote.upload(stubs[0], store)  # already there: answered "have", nothing sent
        assert remote.has_many(stubs + [absent]) == {s.oid for s in stubs}
        # Same layout, same bytes: the object files were copied as they are.
        for stub in stubs:
            served = bare / "datax" / "objects" / stub.oid[:2] / stub.oid[2:4] / stub.oid
            assert served.read_bytes() == store.object_path(stub.oid).read_bytes()
        fresh = ObjectStore(tmp_path / "fresh")
        for stub in stubs:
            remote.download(stub, fresh)
        assert b"".join(fresh.read_verified(stubs[0])) == big
        with pytest.raises(RemoteObjectMissing, match=absent.oid):
            remote.download(absent, fresh)
        remote.download(stubs[1], ObjectStore(tmp_path / "again"))  # session still in step
    finally:
        remote.close()
    assert not (bare / "datax" / "tmp").exists() or files_under(bare / "datax" / "tmp") == []


def test_scp_like_url_relative_to_home(ssh_env: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", f"{ssh_env.ssh_command} -p {ssh_env.port}")  # no port in host:path
    home = Path(os.path.expanduser(f"~{ssh_env.user}"))
    store_dir = Path(tmp_path / "plainstore")
    rel = os.path.relpath(store_dir, home)
    store = ObjectStore(tmp_path / "local")
    stub = store.put_bytes(b"scp-like")
    remote = open_remote(f"127.0.0.1:{rel}")
    try:
        remote.upload(stub, store)
    finally:
        remote.close()
    assert ObjectStore(store_dir).has(stub.oid)  # a plain directory store, created on first put


def test_corrupt_object_on_the_server_is_refused(ssh_env: Sshd, tmp_path: Path) -> None:
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    store = ObjectStore(tmp_path / "local")
    stub = store.put_bytes(random_bytes(100_000, seed=2))
    served = ObjectStore(bare / "datax")
    path = served.object_path(stub.oid)
    path.parent.mkdir(parents=True)
    # Another object's bytes under this oid: valid zstd, wrong content.
    path.write_bytes(store.object_path(store.put_bytes(b"impostor").oid).read_bytes())
    fresh = ObjectStore(tmp_path / "fresh")
    remote = open_remote(f"ssh://127.0.0.1:{ssh_env.port}{bare}")
    try:
        with pytest.raises(RemoteError, match=f"object {stub.oid} failed verification"):
            remote.download(stub, fresh)
        assert not fresh.has(stub.oid) and files_under(fresh.root / "tmp") == []
    finally:
        remote.close()


def test_remote_that_does_not_exist_is_one_clear_line(ssh_env: Sshd, tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "local")
    stub = store.put_bytes(b"x")
    missing = f"ssh://127.0.0.1:{ssh_env.port}/no/such/dir/repo.git"
    with pytest.raises(RemoteError) as info:
        open_remote(missing).has_many([stub])
    assert str(info.value) == (f"remote {missing}: the server refused: not-found no repository or "
                               "store directory at /no/such/dir/repo.git")
    closed = f"ssh://127.0.0.1:{free_port()}/srv/x.git"
    with pytest.raises(RemoteError) as info:
        open_remote(closed).upload(stub, store)
    message = str(info.value)
    assert message.startswith(f"remote {closed}: ssh exited 255: ") and "Connection refused" in message
    assert "\n" not in message


# -- the server end, driven through its frames directly ----------------------------------------


def converse(store: ObjectStore, *request_frames: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    inp = io.BytesIO()
    for kind, payload in request_frames:
        frames.write_frame(inp, kind, payload)
    inp.seek(0)
    out = io.BytesIO()
    StdioServer(store, inp, out).run()
    out.seek(0)
    replies = []
    while out.tell() < len(out.getvalue()):
        replies.append(frames.read_frame(out))
    return replies


def test_server_refuses_bad_oids_and_bad_uploads(tmp_path: Path) -> None:
    served = ObjectStore(tmp_path / "served")
    local = ObjectStore(tmp_path / "local")
    good = local.put_bytes(b"good bytes")
    other = local.put_bytes(b"other bytes")
    with open(local.object_path(other.oid), "rb") as f:
        other_file = f.read()
    replies = converse(
        served,
        (b"C", b"version 1"),
        (b"C", b"get ../../../etc/passwd 1"),
        (b"C", b"has-many\n" + b"A" * 64),
        (b"C", f"put {good.oid} {good.size}".encode()),  # the bytes of another object
        (b"D", other_file), (b"D", b""),
        (b"C", f"put {good.oid} {good.size}".encode()),  # more than any honest object file
        (b"D", b"\x00" * (frames.compressed_bound(good.size) + 1)), (b"D", b""),
        (b"C", b"frobnicate"),
        (b"C", b"has-many\n" + good.oid.encode()),
    )
    texts = [(k, p.decode()) for k, p in replies]
    assert texts[0] == (b"C", "gitdatax-stdio 1") and texts[1] == (b"C", "ok")
    assert texts[2][0] == b"E" and texts[2][1].startswith("invalid-oid")
    assert texts[3][0] == b"E" and texts[3][1].startswith("invalid-oid")
    assert texts[4] == (b"C", "send")
    assert texts[5][0] == b"E" and texts[5][1].startswith(f"corrupt {good.oid}")
    assert texts[6] == (b"C", "send")
    assert texts[7][0] == b"E" and texts[7][1].startswith(f"corrupt {good.oid} more than")
    assert texts[8][0] == b"E" and texts[8][1].startswith("unknown-command")
    assert texts[9] == (b"C", "ok")  # still in step, and nothing was published
    assert files_under(served.root) == []


def test_server_ends_cleanly_on_garbage(tmp_path: Path) -> None:
    proc = subprocess.run(["git-datax", "serve", "--stdio", str(tmp_path)], input=b"GET / HTTP/1.1\r\n\r\n",
                          capture_output=True, timeout=30)
    assert proc.returncode == 1
    out = io.BytesIO(proc.stdout)
    assert frames.read_frame(out) == (b"C", b"gitdatax-stdio 1")
    kind, payload = frames.read_frame(out)
    assert kind == b"E" and payload.startswith(b"protocol not a frame")
    assert b"Traceback" not in proc.stderr


HOSTILE_SERVER = r'''
import signal, struct, sys
signal.alarm(20)  # ends by itself even if the test process is killed mid-flood
mode = sys.argv[1]
out, inp = sys.stdout.buffer, sys.stdin.buffer
def send(kind, payload=b""):
    out.write(struct.pack(">cI", kind, len(payload)) + payload); out.flush()
def read():
    kind, n = struct.unpack(">cI", inp.read(5)); return kind, inp.read(n)
if mode == "garbage":
    out.write(b"Welcome to the server!\n"); out.flush(); sys.exit(0)
send(b"C", b"gitdatax-stdio 1"); read(); send(b"C", b"ok")
kind, payload = read()
if payload == b"pack-list":  # a client's probe for chunk packs: play a server from before them
    send(b"E", b"unknown-command 'pack-list'")
    kind, payload = read()
if mode == "has":
    send(b"C", b"ok\n../../../../etc/passwd")
elif mode == "length":
    send(b"C", b"ok 99999999999")
elif mode == "flood":
    send(b"C", b"ok 100")
    for _ in range(64):
        send(b"D", b"\0" * (1 << 20))
    send(b"D")
read()
'''


@pytest.mark.parametrize("mode, message", [
    ("has", "has-many: answered for objects it was not asked about"),
    ("length", "bad answer 'ok 99999999999'"),
    ("flood", "the server sends more than"),
    ("garbage", "ssh exited 0"),
])
def test_hostile_server_answers_write_nothing(ssh_env: Sshd, tmp_path: Path, mode: str, message: str) -> None:
    import sys

    script = tmp_path / "hostile.py"
    script.write_text(HOSTILE_SERVER)
    store = ObjectStore(tmp_path / "local")
    stub = Stub(hashlib.sha256(b"wanted").hexdigest(), 6)
    remote = open_remote(f"ssh://127.0.0.1:{ssh_env.port}/srv/x.git",
                         {"server_command": f"{sys.executable} {script} {mode}"})
    try:
        with pytest.raises(RemoteError, match=message):
            if mode == "has":
                remote.has_many([stub])
            else:
                remote.download(stub, store)
    finally:
        remote.close()
    assert files_under(store.root) == []
    assert not Path("/etc/passwd.tmp").exists()


STALLING_SERVER = r'''
import signal, struct, sys, time
signal.alarm(30)  # ends by itself, whatever the test does
mode, log = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write("session\n")  # one line per session opened: the tries the client made
out, inp = sys.stdout.buffer, sys.stdin.buffer
def send(kind, payload=b""):
    out.write(struct.pack(">cI", kind, len(payload)) + payload); out.flush()
def read():
    kind, n = struct.unpack(">cI", inp.read(5)); return kind, inp.read(n)
if mode != "before the handshake":
    send(b"C", b"gitdatax-stdio 1"); read(); send(b"C", b"ok")
    kind, payload = read()
    if payload == b"pack-list":  # play a server from before chunk packs
        send(b"E", b"unknown-command 'pack-list'")
        kind, payload = read()
    if mode == "in the middle of an object":
        send(b"C", b"ok 1000")
        out.write(struct.pack(">cI", b"D", 1000) + b"x" * 300); out.flush()
time.sleep(60)  # alive, the session open, and silent
'''


@pytest.mark.parametrize("mode", ["before answering", "in the middle of an object"])
def test_a_server_that_stops_answering_is_given_up_after_the_timeout(ssh_env: Sshd, tmp_path: Path,
                                                                       mode: str) -> None:
    """A server stuck without closing the session (a hung disk, a half-open path under ssh)
    would hold a checkout or a push for ever: each read waits `timeout` for the server's next
    byte, then the session is killed and the transfer layer tries again, as for HTTP and S3."""
    import sys

    script, log = tmp_path / "stalling.py", tmp_path / "sessions.log"
    script.write_text(STALLING_SERVER)
    store = ObjectStore(tmp_path / "local")
    stub = Stub(hashlib.sha256(b"wanted").hexdigest(), 6)
    url = f"ssh://127.0.0.1:{ssh_env.port}/srv/x.git"
    remote = open_remote(url, {"server_command": f"{sys.executable} {script} '{mode}' {log}",
                               "timeout": 1, "retries": 1, "backoff": 0})
    start = time.monotonic()
    try:
        with pytest.raises(RemoteError) as caught:
            remote.retry.run(lambda: remote.download(stub, store))  # as the transfer layer does
        elapsed = time.monotonic() - start
    finally:
        remote.close()
    if mode == "before answering":  # two tries of nothing at all: the server is given up on
        assert str(caught.value) == (f"remote {url}: the server sent nothing for 1 s; nothing came from it for "
                                     "2 s of waiting: given up")
        assert not caught.value.transient
    else:  # it did answer, then stopped: tried again, as one slow answer may be cured
        assert str(caught.value) == f"remote {url}: the server sent nothing for 1 s"
        assert caught.value.transient
    assert log.read_text() == "session\n" * 2  # the first try and one retry, each its own session
    assert elapsed < 12, f"{elapsed:.1f} s"
    assert files_under(store.root) == []


def test_a_server_that_answers_nothing_is_given_up_for_every_object_once_one_object_s_tries_are_spent(
        ssh_env: Sshd, tmp_path: Path) -> None:
    """Sessions open, every request hangs: after requests have waited tries x timeout in all,
    the transfer stops waiting on it; the objects still to come fail at once with that reason
    instead of each waiting out its own tries (2,000 objects on 4 sessions: hours)."""
    import sys

    script, log = tmp_path / "stalling.py", tmp_path / "sessions.log"
    script.write_text(STALLING_SERVER)
    url = f"ssh://127.0.0.1:{ssh_env.port}/srv/x.git"
    remote = open_remote(url, {"server_command": f"{sys.executable} {script} 'before answering' {log}",
                               "connections": 2, **SILENT_OPTIONS})
    store = ObjectStore(tmp_path / "local")
    stubs = [Stub(hashlib.sha256(bytes([n])).hexdigest(), 1) for n in range(12)]
    failed, elapsed = transfer_against_silence(remote, store, stubs)
    given_up = f"remote {url}: the server sent nothing for 1 s; nothing came from it for"
    assert sum(why.startswith(given_up) for why in failed.values()) >= 10, failed
    assert log.read_text().count("session") <= 4, log.read_text()  # 24 tries without the rule
    assert elapsed < 8, f"{elapsed:.1f} s"  # 12 s without it
    assert files_under(store.root) == []


def test_a_server_silent_from_the_start_is_given_up_without_a_terminal(ssh_env: Sshd, tmp_path: Path) -> None:
    """With no terminal (CI, a cron job, a server), the handshake has the same limit; in a new
    session (setsid), /dev/tty cannot be opened, as for such a job."""
    import sys

    script, log = tmp_path / "stalling.py", tmp_path / "sessions.log"
    script.write_text(STALLING_SERVER)
    url = f"ssh://127.0.0.1:{ssh_env.port}/srv/x.git"
    client = f"""
import hashlib
from gitdatax.remotes import RemoteError, open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub
remote = open_remote({url!r}, {{"server_command": {f"{sys.executable} {script} 'before the handshake' {log}"!r},
                               "timeout": 1, "retries": 0}})
try:
    remote.download(Stub(hashlib.sha256(b"x").hexdigest(), 1), ObjectStore({str(tmp_path / "local")!r}))
except RemoteError as exc:
    print(exc)
"""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", client], capture_output=True, text=True, timeout=30,
                          start_new_session=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"remote {url}: the server sent nothing for 1 s\n"
    assert time.monotonic() - start < 10
    assert log.read_text() == "session\n"


def test_a_fetch_from_a_stalled_server_says_why_it_waits_then_names_each_file(ssh_env: Sshd, tmp_path: Path) -> None:
    """What the user sees: a bar that does not move, then one line per cause saying that the
    server stopped answering and that gitdatax tries again (not one per object), then the
    transfer's failure, every object named."""
    import sys

    script, log = tmp_path / "stalling.py", tmp_path / "sessions.log"
    script.write_text(STALLING_SERVER)
    work = tmp_path / "work"
    git("init", "-q", str(work))
    assert datax("install", "--local", cwd=work).returncode == 0
    assert datax("track", "*.bin", cwd=work).returncode == 0
    url = f"ssh://127.0.0.1:{ssh_env.port}/srv/x.git"
    added = datax("remote", "add", "--local", "box", url, "--default", "-o",
                  f"server_command={sys.executable} {script} 'in the middle of an object' {log}",
                  "-o", "timeout=1", "-o", "retries=1", "-o", "backoff=0", cwd=work)
    assert added.returncode == 0, added.stderr
    for name in ("a.bin", "b.bin"):
        write(work / name, random_bytes(5000, seed=len(name) + ord(name[0])))
    git("add", "-A", cwd=work)
    git("commit", "-qm", "data", "--no-verify", cwd=work)
    shutil.rmtree(work / ".git" / "datax" / "objects")

    start = time.monotonic()
    fetched = datax("fetch", cwd=work)
    assert fetched.returncode == 1
    assert time.monotonic() - start < 20
    lines = fetched.stderr.splitlines()
    notice = f"git-datax: warning: remote {url}: the server sent nothing for 1 s; trying again (try 2 of 2)"
    assert lines.count(notice) == 1, fetched.stderr
    assert "a.bin" in fetched.stderr and "b.bin" in fetched.stderr, fetched.stderr
    assert log.read_text().count("session") >= 4  # each object: a try and a retry, each a session
    quiet = datax("fetch", "-q", cwd=work)
    assert quiet.returncode == 1 and "trying again" not in quiet.stderr, quiet.stderr
    # A checkout fetching what it lacks says the same, once, and leaves the stubs in place; its
    # post-checkout hook does not spend the remote's tries on them a second time.
    (work / "a.bin").unlink()
    (work / "b.bin").unlink()
    before = log.read_text().count("session")
    checkout = git("checkout", "--", ".", cwd=work, check=False)
    assert checkout.stderr.splitlines().count(notice) == 1, checkout.stderr
    assert log.read_text().count("session") - before == 4  # two objects, two tries each: the filter's
    assert (f"warning: 2 file(s) are still stubs (remote {url}: the server sent nothing for 1 s); "
            "`git datax pull` tries again") in checkout.stderr, checkout.stderr
    assert "a.bin: cannot fetch object" in checkout.stderr and "the stub was checked out instead" in checkout.stderr
    assert is_stub((work / "a.bin").read_bytes()) and is_stub((work / "b.bin").read_bytes())
    pulled = datax("pull", cwd=work)  # asked for by the user: tried again, at once
    assert pulled.returncode == 1 and log.read_text().count("session") - before == 8, pulled.stderr


def test_parallel_transfers_and_concurrent_puts_of_one_object(ssh_env: Sshd, tmp_path: Path) -> None:
    import threading

    from gitdatax.sync.transfer import download_missing, upload_missing

    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    url = f"ssh://127.0.0.1:{ssh_env.port}{bare}"
    store = ObjectStore(tmp_path / "local")
    stubs = [store.put_bytes(random_bytes(20_000 + i, seed=i)) for i in range(24)]
    remote = open_remote(url, {"connections": 3})
    try:
        result = upload_missing(remote, store, stubs, jobs=8, quiet=True)
        assert result.ok and len(result.moved) == 24
        fresh = ObjectStore(tmp_path / "fresh")
        result = download_missing(remote, fresh, stubs, jobs=8, quiet=True)
        assert result.ok and sorted(fresh.iter_oids()) == sorted(s.oid for s in stubs)
    finally:
        remote.close()
    # Two clients putting the same new object at the same moment: both succeed, one intact copy.
    shared = store.put_bytes(random_bytes(2 << 20, seed=99))
    errors: list[BaseException] = []

    def push() -> None:
        other = open_remote(url)
        try:
            other.upload(shared, store)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=push) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    served = ObjectStore(bare / "datax")
    assert served.verify(shared.oid) is None
    assert files_under(bare / "datax" / "tmp") == []


# -- end to end: git push over ssh, plain git clone over ssh in a fresh HOME, git datax pull ------


def test_push_clone_pull_over_ssh(ssh_env: Sshd, tmp_path: Path) -> None:
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server))
    origin = f"ssh://{ssh_env.user}@127.0.0.1:{ssh_env.port}{server}"
    work = tmp_path / "work"
    git("init", "-q", str(work))
    git("remote", "add", "origin", origin, cwd=work)
    assert datax("install", "--local", cwd=work).returncode == 0
    assert datax("track", "*.csv", "*.bin", cwd=work).returncode == 0
    for path, data in FILES.items():
        write(work / path, data)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "data v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)  # git itself goes through the same sshd
    stubs = [Stub(hashlib.sha256(d).hexdigest(), len(d)) for d in FILES.values()]
    served = ObjectStore(server / "datax")  # the default for an ssh origin: <bare>/datax over ssh
    for stub in stubs:
        assert served.verify(stub.oid) is None

    env = fresh_home(tmp_path, "teammate")
    clone = tmp_path / "clone"
    git("clone", "-q", origin, str(clone), env=env)
    assert_files(clone, env=env)

    shutil.rmtree(clone / ".git" / "datax")
    pulled = datax("pull", cwd=clone, env=env)
    assert pulled.returncode == 0, pulled.stderr
    for stub in stubs:
        assert object_path(clone, stub.oid).is_file()
    assert_files(clone, env=env)


def test_a_corrupt_local_object_is_not_sent_and_the_session_stays_usable(ssh_env: Sshd, tmp_path: Path) -> None:
    """issue 11 item 6 over ssh: the server gets an error frame instead of the last bytes."""
    from gitdatax.store.objectfile import CorruptUpload

    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    store = ObjectStore(tmp_path / "local")
    bad, good = store.put_bytes(b"flip me " * 40_000), store.put_bytes(b"keep me " * 40_000)
    path = store.object_path(bad.oid)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x01  # in the checksum: only a full check finds it
    path.write_bytes(bytes(data))
    remote = open_remote(f"ssh://{ssh_env.user}@127.0.0.1:{ssh_env.port}{bare}")
    try:
        with pytest.raises(CorruptUpload, match=f"{bad.oid}.*git datax fsck"):
            remote.upload(bad, store)
        remote.upload(good, store)
        assert remote.has_many([bad, good]) == {good.oid}
    finally:
        remote.close()
    assert not [p for p in files_under(bare / "datax") if bad.oid in p.name]


@pytest.mark.parametrize("size", [3 << 20, 32 << 20], ids=["whole-file put", "chunk pack-put"])
@pytest.mark.parametrize("server", ["exits", "session stays open"])
def test_a_server_that_cannot_write_stops_an_upload_at_once_with_its_reason(ssh_env: Sshd, tmp_path: Path,
                                                                             size: int, server: str) -> None:
    """A full disk on the server half-way through an upload: `ulimit -f` (1 MiB) on the server,
    whose writes then fail with EFBIG (Python ignores SIGXFSZ); root ignores a read-only folder.
    The server stopped reading after its error (pack-put) or read the whole upload first (put),
    and the client kept writing: it saw a broken pipe ("ssh exited 1", tried 4 times) or, when
    something on the server kept the session open, blocked on the full pipe until that ended."""
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    store = ObjectStore(tmp_path / "local")
    with open(tmp_path / "big", "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    stub = store.put_file(tmp_path / "big")
    small = store.put_bytes(b"fits under the limit\n")
    # A session outliving git-datax: a process of the server's holding the channel (a helper a
    # wrapper script started, say); it ends by itself, so a hang is bounded for this test.
    held = "(sleep 40 &); " if server == "session stays open" else ""
    url = f"ssh://{ssh_env.user}@127.0.0.1:{ssh_env.port}{bare}"
    remote = open_remote(url, {"server_command": f"ulimit -f 1024; {held}git-datax"})
    outcome: list[BaseException | None] = []

    def upload() -> None:
        try:
            remote.retry.run(lambda: remote.upload(stub, store))  # as the transfer layer does
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome.append(exc)

    start = time.monotonic()
    worker = threading.Thread(target=upload, daemon=True)
    worker.start()
    worker.join(30)
    elapsed = time.monotonic() - start
    try:
        assert outcome, f"the upload still runs after {elapsed:.0f} s"
        assert isinstance(outcome[0], RemoteError), outcome[0]
        assert str(outcome[0]) == f"remote {url}: the server refused: failed [Errno 27] File too large"
        assert elapsed < 15, f"{elapsed:.1f} s"
        remote.upload(small, store)  # a new session: the broken one was not given back
    finally:
        remote.close()
    assert ObjectStore(bare / "datax").has(small.oid) and not ObjectStore(bare / "datax").has(stub.oid)
