"""A store on another machine over SSH: `ssh [-p PORT] [user@]host git-datax serve --stdio PATH`.

URLs: `ssh://[user@]host[:port]/abs/path` (`ssh://host/~/path` is relative to the home directory,
as in git) and scp-like `[user@]host:path` (relative to the home directory). PATH may be a Git
repository (the server uses its `datax/` store, `<bare>/datax` for a bare one) or a store directory.

The ssh program is chosen as git chooses it: $GIT_SSH_COMMAND (a shell command), then the
`sshcommand` option of the remote, `git config datax.sshcommand`, `core.sshCommand` (shell
commands too), then $GIT_SSH (a program), then `ssh`.

Object files travel compressed, as they are in both stores; the client verifies every download with
ObjectStore.import_object and the server verifies every upload the same way before publishing.
Up to `connections` ssh sessions (default 4) serve the transfer layer's threads; a session that
fails mid-request is closed rather than reused, since it may be out of step with the server.
"""
from __future__ import annotations

import io
import os
import queue
import shlex
import threading
from typing import Iterable, NamedTuple
from urllib.parse import unquote, urlsplit

from gitdatax.remotes import frames
from gitdatax.errors import CorruptObject, FatalError, InvalidOid, ObjectMissing, ProtocolError
from gitdatax.remotes.frames import DATA, ERROR
from gitdatax.remotes import meter
from gitdatax.remotes.chunkreader import Joined
from gitdatax.remotes.base import (DeadEndpoint, RemoteError, RemoteObjectMissing, RetryPolicy, SilentEndpoint,
                                  number_option)
from gitdatax.store.manifest import MAGIC as MANIFEST_MAGIC, is_manifest
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.pack_exchange import RemotePacks
from gitdatax.remotes.ssh_session import InStep, Session, Stalled
from gitdatax.stub import Stub, is_valid_oid

HAS_MANY_BATCH = 1000  # oids per has-many frame (65 bytes each: well under a frame)


class SshTarget(NamedTuple):
    user: str | None
    host: str
    port: int | None
    path: str


def parse_ssh_url(url: str) -> SshTarget:
    if url.startswith("ssh://"):
        parts = urlsplit(url)
        if not parts.hostname:
            raise RemoteError(f"remote {url}: no host in the URL")
        path = unquote(parts.path)
        if path.startswith("/~"):
            path = path[1:]
        try:
            port = parts.port
        except ValueError:
            raise RemoteError(f"remote {url}: bad port") from None
        user = unquote(parts.username) if parts.username else None
        target = SshTarget(user, parts.hostname, port, path)
    else:
        dest, _, path = url.partition(":")
        user, _, host = dest.rpartition("@")
        target = SshTarget(user or None, host.strip("[]"), None, path)
    # Never let a host, a user or a path be read as an option of ssh or of the server's command.
    if not target.host or target.host.startswith("-"):
        raise RemoteError(f"remote {url}: bad host (a host may not start with '-')")
    if (target.user or "").startswith("-"):
        raise RemoteError(f"remote {url}: bad user (a user name may not start with '-')")
    if not target.path:
        raise RemoteError(f"remote {url}: no path in the URL")
    if target.path.startswith("-"):
        raise RemoteError(f"remote {url}: bad path (a path may not start with '-')")
    return target


def ssh_command(options: dict) -> tuple[str, bool]:
    """(command, is a shell command) as git picks it."""
    env_cmd = os.environ.get("GIT_SSH_COMMAND")
    if env_cmd:
        return env_cmd, True
    if options.get("sshcommand"):
        return str(options["sshcommand"]), True
    from gitdatax import git

    for key in ("datax.sshcommand", "core.sshCommand"):
        try:
            value = git.config_get(key)
        except FatalError:
            value = None
        if value:
            return value, True
    return os.environ.get("GIT_SSH") or "ssh", False


def ssh_argv(target: SshTarget, options: dict) -> list[str]:
    program = options.get("server_command", "git-datax")
    remote_cmd = f"{program} serve --stdio {shlex.quote(target.path)}"
    dest = f"{target.user}@{target.host}" if target.user else target.host
    args = (["-p", str(target.port)] if target.port else []) + [dest, remote_cmd]
    command, shell = ssh_command(options)
    if shell:
        return ["sh", "-c", f'{command} "$@"', command, *args]
    return [command, *args]


class SshRemote:
    max_parallel: int | None = None  # the Remote protocol's: no cap of its own
    cheap_fetches = False
    serial_small = False

    def __init__(self, url: str, options: dict | None = None) -> None:
        self.options = dict(options or {})
        self.target = parse_ssh_url(url)
        password = urlsplit(url).password if url.startswith("ssh://") else None
        self.url = url.replace(f":{password}@", "@", 1) if password else url  # never print secrets
        self.argv = ssh_argv(self.target, self.options)
        self.max_connections = int(number_option(self.url, self.options, "connections", 4, whole=True, minimum=1))
        self.retry = RetryPolicy.from_options(self.url, self.options)
        self._idle: queue.LifoQueue[Session] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()
        self._all: list[Session] = []
        self._dead: DeadEndpoint[RemoteError] = DeadEndpoint(self.retry.tries)  # sessions that failed to open, in a row
        self._silent = SilentEndpoint(self.retry.tries * self.retry.timeout)  # sessions open, nothing comes
        self._packs: RemotePacks | None = None
        self._packs_supported: bool | None = None

    def _acquire(self) -> Session:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            may_open = self._opened < self.max_connections
            if may_open:
                self._opened += 1
        if not may_open:
            return self._idle.get()
        try:
            if self._dead.reason is not None:  # see below: no more waiting on a dead server
                raise RemoteError(str(self._dead.reason))
            conn = Session(self.argv, self.url, self.retry.timeout, self._silent.heard)
        except RemoteError as exc:
            with self._lock:
                self._opened -= 1
                # Once one object has spent the transfer's tries failing to open a session
                # (connection refused, host unknown, no key), the others fail at once instead
                # of each waiting out a round of backoff.
                self._dead.failed(exc)
            raise
        except BaseException:
            with self._lock:
                self._opened -= 1
            raise
        with self._lock:
            self._all.append(conn)
        self._dead.succeeded()
        return conn

    def _release(self, conn: Session, healthy: bool) -> None:
        if healthy:
            self._idle.put(conn)
            return
        conn.close(abort=True)
        with self._lock:
            self._opened -= 1
            self._all.remove(conn)

    def _call(self, work):  # type: ignore[no-untyped-def]
        if self._silent.reason is not None:  # see SilentEndpoint: no more waiting on it
            raise RemoteError(self._silent.reason)
        self._silent.begin()
        try:
            conn = self._acquire()
            healthy = False
            try:
                result = work(conn)
                healthy = True
                return result
            except (RemoteObjectMissing, InStep):
                healthy = True  # the server answered with an E frame: the session is still in step
                raise
            except Stalled as exc:
                if self._silent.timed_out(str(exc)) is not None:
                    raise RemoteError(str(self._silent.reason)) from None  # not transient: no more tries
                raise
            finally:
                self._release(conn, healthy)
        finally:
            self._silent.end()

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        oids = list(dict.fromkeys(s.oid for s in stubs))
        for oid in oids:
            if not is_valid_oid(oid):
                raise InvalidOid(oid)
        present: set[str] = set()
        for start in range(0, len(oids), HAS_MANY_BATCH):
            batch = oids[start:start + HAS_MANY_BATCH]
            reply = self._call(lambda c: c.request("\n".join(["has-many", *batch])))
            lines = reply.split("\n")
            if lines[0] != "ok" or not set(lines[1:]) <= set(batch):
                raise RemoteError(f"remote {self.url}: has-many: answered for objects it was not asked about")
            present.update(lines[1:])
        return present

    def download(self, stub: Stub, store: ObjectStore) -> None:
        if not is_valid_oid(stub.oid):
            raise InvalidOid(stub.oid)
        packs = self.chunk_packs(store)
        manifest = self._call(lambda c: self._get(c, stub, store, packs is not None))
        if manifest is not None:
            # A chunked object: its chunks come on other requests, so the session is given back
            # first (a transfer may hold every session of the pool); the manifest is small.
            try:
                store.import_object(io.BytesIO(manifest), stub, chunks=packs)
            except CorruptObject as exc:
                raise InStep(f"remote {self.url}: object {stub.oid} failed verification after "
                              f"download ({exc.why}); nothing was stored") from None

    def chunk_packs(self, store: ObjectStore) -> RemotePacks | None:
        """The server's chunk packs; None for a server from before chunking (asked once), which
        then gets and gives whole-file objects only."""
        if self._packs_supported is False:
            return None
        if self._packs is not None:
            return self._packs
        from gitdatax.remotes.ssh_packs import SshPackFiles

        files = SshPackFiles(self)
        try:  # not under self._lock: the request takes a session, and opening one takes it
            files.list_pack_indexes()
        except InStep as exc:
            if "unknown-command" not in str(exc):
                raise
            self._packs_supported = False
            return None
        with self._lock:
            if self._packs is None:
                self._packs = RemotePacks.for_store(files, store.root, self.url, store.level)
            self._packs_supported = True
            return self._packs

    def _get(self, conn: Session, stub: Stub, store: ObjectStore, as_stored: bool) -> bytes | None:
        """Import a whole-file object straight from the session; a manifest is returned instead
        (`get-object`: the file as the server keeps it; `get`, to a server from before
        chunking, is always a whole file)."""
        reply = conn.request(f"{'get-object' if as_stored else 'get'} {stub.oid} {stub.size}")
        words = reply.split(" ")
        limit = frames.compressed_bound(stub.size)
        if len(words) != 2 or words[0] != "ok" or not words[1].isdigit() or int(words[1]) > limit:
            raise RemoteError(f"remote {self.url}: get {stub.oid}: bad answer {reply[:80]!r}")
        progress = meter.current()
        progress.expect(int(words[1]))
        reader = frames.DataReader(conn.inp, limit)
        try:
            head = reader.read(len(MANIFEST_MAGIC))
            if is_manifest(head):
                return head + reader.read()
            store.import_object(meter.MeteredReader(Joined(head, reader), progress), stub)  # type: ignore[arg-type]
        except CorruptObject as exc:
            reader.drain()
            why = exc.why
            raise InStep(f"remote {self.url}: object {stub.oid} failed verification after "
                          f"download ({why}); nothing was stored") from None
        except OverflowError:
            raise RemoteError(f"remote {self.url}: get {stub.oid}: the server sends more than "
                              f"{limit} bytes; nothing was stored") from None
        except ProtocolError as exc:
            raise conn.lost(str(exc)) from None

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        if not is_valid_oid(stub.oid):
            raise InvalidOid(stub.oid)
        packs = self.chunk_packs(store)
        if packs is not None:
            store.send_chunks(stub.oid, packs)  # a chunked object: the chunks the server lacks
            source = store.open_upload(stub)  # ObjectMissing names the oid; checked as it is sent
        elif not store.has(stub.oid):
            raise ObjectMissing(stub.oid)
        else:
            source = store.open_as_frame(stub)  # an old server: one zstd frame, made as it goes
        meter.current().expect(store.stored_bytes(stub.oid))
        with source:
            self._call(lambda c: self._put(c, stub, source))

    def _put(self, conn: Session, stub: Stub, source) -> None:  # type: ignore[no-untyped-def]
        if conn.request(f"put {stub.oid} {stub.size}") == "have":
            return
        progress = meter.current()  # told the object file's size by upload()
        while True:
            try:
                chunk = source.read(frames.DATA_CHUNK)
            except OSError as exc:
                conn.send(ERROR, f"local read failed: {exc.strerror}".encode())
                conn.read()  # the server's "aborted" answer keeps us in step
                raise InStep(f"remote {self.url}: cannot read local object {stub.oid}: {exc.strerror}") from None
            except CorruptObject:
                conn.send(ERROR, b"local object is corrupt")
                conn.read()  # as above: the server aborts the put and stays in step
                raise
            conn.send_stream(DATA, chunk)
            progress.moved(len(chunk))
            if not chunk:
                break
        kind, payload = conn.read()
        text = payload.decode("utf-8", "replace")
        if kind == ERROR:
            raise conn.refused(text)
        if text != "ok":
            raise RemoteError(f"remote {self.url}: put {stub.oid}: unexpected answer {text[:80]!r}")

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
            self._opened = 0
        while not self._idle.empty():
            self._idle.get_nowait()
        for conn in conns:
            conn.close()
