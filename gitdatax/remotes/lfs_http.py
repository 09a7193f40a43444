"""A Git LFS server as a remote: the batch API and the basic transfer adapter over HTTP(S).

URL: a URL whose path ends in `/info/lfs` is the LFS endpoint itself. Any other http(s) URL is a
Git repository URL and gets `.git/info/lfs` appended (`/info/lfs` when it already ends in `.git`),
as git-lfs's server discovery does: `https://host/team/proj` -> `https://host/team/proj.git/info/lfs`.

Git LFS servers hold raw bytes, so uploads stream the decompressed content (Content-Length = the
stub's size) and downloads stream into ObjectStore.import_raw, which re-hashes before publishing.

Retries are the transfer layer's (remotes.base.RetryPolicy, from the options `retries`, `backoff`
and `timeout`): a connection error, 5xx, 429 or 503 (with its Retry-After, capped) is a transient
RemoteError, and the whole object is tried again. A download that loses its connection resumes
with a Range request (or restarts and skips what it had when the server ignores Range), spending
a try of the same budget.

Transfers: `datax-chunks` (http_chunks.py) is offered before `basic`, unless the option `chunks`
is false (`git config datax.remote.NAME.chunks false`), or, when the remote does not set it, when
Git LFS's own `lfs.basictransfersonly` is true in git config: then only `basic` is offered, for a
proxy that lets through nothing but the standard LFS requests.

Credentials: none are sent until the server answers 401; then Git's credential helpers are asked
(see credentials.py), approved on success and rejected on a second 401. Redirects are never
followed automatically: the batch endpoint may redirect only within its own origin, and an action
href redirected to another origin is followed without any credential or action header.
"""
from __future__ import annotations

import threading
import time
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from gitdatax.remotes import http_chunks
from gitdatax.remotes.chunkreader import ChunkReader
from gitdatax.errors import CorruptObject, InvalidOid, ObjectMissing
from gitdatax.remotes import credentials, meter
from gitdatax.remotes.base import RemoteError, RemoteObjectMissing, RetryPolicy, switch_option
from gitdatax.remotes.http_session import LFS_JSON, HttpSession
from gitdatax.remotes.pack_stream import TRANSFER as CHUNKS
from gitdatax.store.objectfile import CorruptUpload
from gitdatax.store.objectstore import CHUNK, ObjectStore
from gitdatax.stub import Stub, is_valid_oid

BATCH_SIZE = 100  # objects per batch request, as git-lfs sends them
EXPIRY_MARGIN = 5.0  # seconds: an action this close to expiring is requested again


def lfs_endpoint(url: str, exact: bool = False) -> str:
    """The batch API endpoint for `url`: the URL itself when it is one (git-lfs's `lfs.url`, a
    path ending in /info/lfs, or a server root), else `<repo>.git/info/lfs` as git-lfs derives."""
    path = urlsplit(url).path.rstrip("/")
    base = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if exact or not path or path.endswith("/info/lfs"):
        return base
    if path.endswith(".git"):
        return base + "/info/lfs"
    return base + ".git/info/lfs"


def _is_http_url(url: str) -> bool:
    """Whether requests can send to `url`: http(s), a host, a port in range (a server's href is
    checked here, so that a malformed one is the server's error, never our crash)."""
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError when out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class _ContentReader(ChunkReader):
    """The decompressed content of one object as a file with a length, so that requests sends it
    with Content-Length (a generator body would be sent chunked) without holding it in memory."""

    def __init__(self, store: ObjectStore, stub: Stub) -> None:
        super().__init__()
        progress = meter.current()
        progress.expect(stub.size)  # each try of the request reads afresh
        self._chunks = meter.metered_chunks(store.iter_content(stub), progress)
        self._size = stub.size

    def __len__(self) -> int:
        return self._size

    def _next_chunk(self) -> bytes:
        try:
            return next(self._chunks, b"")
        except CorruptObject as exc:  # the server re-hashes too; the user needs the way out
            raise CorruptUpload(exc.oid, exc.why) from None


def _basic_transfers_only(url: str) -> bool:
    """Git LFS's `lfs.basictransfersonly` in git config: set for a proxy that passes only the
    standard requests, it is meant for every LFS client of this user or repository."""
    from gitdatax import git
    from gitdatax.errors import FatalError

    key = "lfs.basictransfersonly"
    try:
        value = git.config_get(key)
    except FatalError:  # not in a repository, or git could not read its config: as unset
        return False
    return value is not None and switch_option(url, {key: value}, key, False)


class LfsHttpRemote:
    max_parallel: int | None = None  # the Remote protocol's: no cap of its own
    cheap_fetches = False
    serial_small = False

    def __init__(self, url: str, options: dict | None = None) -> None:
        options = options or {}
        self.url = credentials.redact(url)
        if not urlsplit(url).hostname:
            raise RemoteError(f"remote {self.url}: no host in the URL")
        self.endpoint = lfs_endpoint(self.url, exact=bool(options.get("exact_endpoint")))
        self.retry = RetryPolicy.from_options(self.url, options)
        # The adapters offered, in order of preference; `chunks = false` leaves only basic, and so
        # does Git LFS's own switch for such a proxy, when the remote does not say.
        if "chunks" in options:
            chunked = switch_option(self.url, options, "chunks", True)
        else:
            chunked = not _basic_transfers_only(self.url)
        self.transfers = [CHUNKS, "basic"] if chunked else ["basic"]
        self.http = HttpSession(self.url, self.endpoint, credentials.userinfo(url), self.retry)
        self._lock = threading.Lock()
        self._actions: dict[str, tuple[str, dict, float]] = {}  # oid -> (transfer, answer, deadline)


    def _batch(self, operation: str, stubs: list[Stub], what: str | None = None) -> tuple[str, dict[str, dict]] | None:
        """The transfer adapter the server picked and its answer per oid; None when the server
        answers 404 to a download batch (giftless does that when it has none of the objects).
        `datax-chunks` is offered first (unless `chunks` is off): only `git datax serve` knows it
        (http_chunks.py), and a server picks one adapter of those listed, so any other gets basic
        as it always did."""
        for stub in stubs:
            if not is_valid_oid(stub.oid):
                raise InvalidOid(stub.oid)
        request = {"operation": operation, "transfers": self.transfers, "hash_algo": "sha256",
                   "objects": [{"oid": s.oid, "size": s.size} for s in stubs]}
        what = what or f"batch {operation}"
        response = self.http.send("POST", self.endpoint + "/objects/batch", api=True, json=request, what=what)
        if response.status_code == 404 and operation == "download":
            response.close()
            return None
        if response.status_code != 200:
            raise self.http.error(response, what)
        try:
            payload = response.json()
        except ValueError:
            raise RemoteError(f"remote {self.url}: {what}: the answer is not JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("objects"), list):
            raise RemoteError(f"remote {self.url}: {what}: the answer has no object list")
        transfer = payload.get("transfer", "basic")
        if transfer not in self.transfers:
            raise RemoteError(f"remote {self.url}: {what}: unsupported transfer {payload.get('transfer')!r}")
        asked = {s.oid: s.size for s in stubs}
        answers: dict[str, dict] = {}
        for obj in payload["objects"]:
            oid = obj.get("oid") if isinstance(obj, dict) else None
            if not is_valid_oid(oid) or oid not in asked:
                shown = repr(oid)[:80]
                raise RemoteError(f"remote {self.url}: {what}: answered for object {shown}, which was not asked for")
            if obj.get("size") != asked[oid]:
                raise RemoteError(f"remote {self.url}: {what}: object {oid} has size "
                                  f"{str(obj.get('size'))[:20]} in the answer, expected {asked[oid]}")
            answers[oid] = obj
        return transfer, answers

    def _action(self, obj: dict, name: str) -> dict | None:
        actions = obj.get("actions") or {}
        action = actions.get(name) if isinstance(actions, dict) else None
        if action is None:
            return None
        href = action.get("href") if isinstance(action, dict) else None
        if not isinstance(href, str) or not _is_http_url(href):
            raise RemoteError(f"remote {self.url}: object {obj.get('oid')}: {name} action has no valid http(s) href")
        header = action.get("header") or {}
        if not isinstance(header, dict) or not all(isinstance(v, str) for v in header.values()):
            raise RemoteError(f"remote {self.url}: object {obj.get('oid')}: {name} action has a bad header")
        return action

    @staticmethod
    def _deadline(action: dict) -> float:
        expires_in = action.get("expires_in")
        if isinstance(expires_in, (int, float)) and expires_in > 0:
            return time.monotonic() + float(expires_in) - EXPIRY_MARGIN
        expires_at = action.get("expires_at")
        if isinstance(expires_at, str):
            from datetime import datetime

            try:
                at = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
                return time.monotonic() + (at - time.time()) - EXPIRY_MARGIN
            except ValueError:
                pass
        return float("inf")

    def _object_error(self, oid: str, obj: dict) -> None:
        error = obj.get("error")
        if not error:
            return
        code = error.get("code") if isinstance(error, dict) else None
        if code in (404, 410):
            raise RemoteObjectMissing(oid, self.url)
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        raise RemoteError(f"remote {self.url}: object {oid}: error {code}: {' '.join(message.split())[:200]}")

    # -- Remote protocol -------------------------------------------------------------------

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        unique = list({s.oid: s for s in stubs}.values())
        present: set[str] = set()
        for start in range(0, len(unique), BATCH_SIZE):
            # Asked with a download batch, but for a push too: say what it is for, not "download".
            transfer, answers = self._batch("download", unique[start:start + BATCH_SIZE],
                                            what="ask which objects it has") or ("basic", {})
            for oid, obj in answers.items():
                if obj.get("error"):
                    continue
                action = self._action(obj, "download")
                if action is not None:
                    present.add(oid)
                    with self._lock:
                        self._actions[oid] = (transfer, obj, self._deadline(action))
        return present

    def _download_answer(self, stub: Stub) -> tuple[str, dict]:
        """The transfer and the server's answer for downloading `stub`, with a download action."""
        with self._lock:
            cached = self._actions.pop(stub.oid, None)
        if cached is not None and cached[2] > time.monotonic():
            return cached[0], cached[1]
        transfer, answers = self._batch("download", [stub]) or ("basic", {})
        obj = answers.get(stub.oid)
        if obj is None:
            raise RemoteObjectMissing(stub.oid, self.url)
        self._object_error(stub.oid, obj)
        if self._action(obj, "download") is None:
            raise RemoteError(f"remote {self.url}: object {stub.oid}: no download action in the answer")
        return transfer, obj

    def download(self, stub: Stub, store: ObjectStore) -> None:
        if not is_valid_oid(stub.oid):
            raise InvalidOid(stub.oid)
        transfer, obj = self._download_answer(stub)
        if transfer == CHUNKS:  # git datax serve: the object file as stored, chunks it lacks
            http_chunks.download(self, stub, store, obj)
            return
        action = obj["actions"]["download"]
        progress = meter.current()
        progress.expect(stub.size)  # raw bytes: the content itself
        try:
            store.import_raw(meter.metered_chunks(self._content(action, stub), progress), stub)
        except CorruptObject as exc:
            raise RemoteError(f"remote {self.url}: object {stub.oid} failed verification after "
                              f"download ({str(exc).rsplit('(', 1)[-1].rstrip(')')}); nothing was stored") from None

    def _content(self, action: dict, stub: Stub) -> Iterator[bytes]:
        """The object's bytes, resuming with Range after a dropped connection."""
        import requests

        what = f"download of {stub.oid}"
        received = 0
        restarts = 0
        tries = self.retry.tries_now()
        headers = dict(action.get("header") or {})
        while True:
            range_headers = dict(headers)
            if received:
                range_headers["Range"] = f"bytes={received}-"
            response = self.http.send("GET", action["href"], api=False, headers=range_headers, stream=True, what=what)
            skip = 0
            if received and response.status_code == 206:
                content_range = response.headers.get("Content-Range", "")
                if not content_range.startswith(f"bytes {received}-"):
                    response.close()
                    raise RemoteError(f"remote {self.url}: {what}: bad Content-Range {content_range[:60]!r}")
            elif response.status_code == 200:
                skip = received  # the server ignored Range: read from the start, drop what we have
            else:
                raise self.http.error(response, what)
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) + (received - skip) > stub.size:
                response.close()
                raise RemoteError(f"remote {self.url}: {what}: the server sends {length} bytes, "
                                  f"more than the object's {stub.size}; nothing was stored")
            answered = 0  # bytes of this response, skipped ones included
            try:
                for chunk in response.iter_content(CHUNK):
                    answered += len(chunk)
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if chunk:
                        received += len(chunk)
                        yield chunk
                if received >= stub.size:
                    return
                if length and length.isdigit() and answered >= int(length):
                    # The server's whole answer, and it is short: asking again gets the same
                    raise RemoteError(f"remote {self.url}: {what}: the server's answer has {received} bytes, "
                                      f"the object {stub.size}; nothing was stored")
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                pass
            finally:
                response.close()
            restarts += 1
            if not tries.spend():
                raise RemoteError(f"remote {self.url}: {what}: connection lost {restarts} times")

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        if not is_valid_oid(stub.oid):
            raise InvalidOid(stub.oid)
        if not store.has(stub.oid):
            raise ObjectMissing(stub.oid)
        transfer, answers = self._batch("upload", [stub]) or ("basic", {})
        obj = answers.get(stub.oid)
        if obj is None:
            raise RemoteError(f"remote {self.url}: batch upload: no answer for object {stub.oid}")
        self._object_error(stub.oid, obj)
        if transfer == CHUNKS:
            if obj.get("actions"):  # none: the server has all of it already
                http_chunks.upload(self, stub, store, obj)
            return
        upload = self._action(obj, "upload")
        if upload is None:
            return  # the server already has it
        verify = self._action(obj, "verify")
        what = f"upload of {stub.oid}"
        headers = {"Content-Type": "application/octet-stream", **(upload.get("header") or {})}
        response = self.http.send("PUT", upload["href"], api=False, headers=headers,
                              body=lambda: _ContentReader(store, stub), what=what)
        if not 200 <= response.status_code < 300:
            raise self.http.error(response, what)
        response.close()
        if verify is not None:
            headers = {"Accept": LFS_JSON, "Content-Type": LFS_JSON, **(verify.get("header") or {})}
            response = self.http.send("POST", verify["href"], api=False, headers=headers,
                                  json={"oid": stub.oid, "size": stub.size}, what=f"verify of {stub.oid}")
            if not 200 <= response.status_code < 300:
                raise self.http.error(response, f"verify of {stub.oid}")
            response.close()

    def close(self) -> None:
        self.http.close()
