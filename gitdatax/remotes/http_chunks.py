"""The client of the `datax-chunks` transfer (docs/http-chunks.md; the server is
server/http_chunks.py): what LfsHttpRemote does once `git datax serve` picked that adapter in a
batch answer. Object files move as stored (compressed, or a chunk manifest); a chunked object's
chunks move only where the other side lacks them: asked in batches, sent in packs of at most
PACK_LIMIT, fetched FETCH_BATCH at a time, each pack one request.

Upload order: the chunks the server lacks, then the manifest; the server publishes a manifest
only when every chunk it names is in its packs, so a push cut short leaves finished packs and no
manifest, and the next run sends only the packs that did not arrive. Downloads go through
ObjectStore.import_object, which checks each chunk against its id and the whole against the oid
and size before the manifest is published here.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from gitdatax.errors import CorruptObject
from gitdatax.remotes import meter, pack_stream
from gitdatax.remotes.base import RemoteError
from gitdatax.remotes.chunkreader import Joined
from gitdatax.remotes.limits import BoundedReader
from gitdatax.store.objectfile import object_file_bound
from gitdatax.store.chunked import CDC_MIN
from gitdatax.store.manifest import MAGIC as MANIFEST_MAGIC, is_manifest, max_manifest_size
from gitdatax.store.objectstore import CHUNK, ObjectStore
from gitdatax.store.pack_exchange import send_in_packs
from gitdatax.store.packs import ENTRY, Location, PackWriter
from gitdatax.stub import Stub

PACK_LIMIT = 16 << 20  # per pack sent: one POST, and the unit a rerun does not send again
MISSING_BATCH = 16384  # chunk ids per missing-chunks request (512 KiB)
FETCH_BATCH = 4096  # chunk ids per fetch-chunks request (about 256 MiB of chunks)


def _transient_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def _body_of(response: Any) -> pack_stream.Pieces:
    """A streamed response body as a file."""
    return pack_stream.Pieces(response.iter_content(CHUNK))


class _Body:
    """A request body made of bytes and then a file, with a length (requests sends it with
    Content-Length, without holding the file in memory), reporting what leaves."""

    def __init__(self, head: bytes, path: Path | None, progress: meter.ObjectMeter) -> None:
        self._head = head
        self._file = open(path, "rb") if path is not None else None
        self._length = len(head) + (os.fstat(self._file.fileno()).st_size if self._file else 0)
        self._progress = progress

    def __len__(self) -> int:
        return self._length

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data, self._head = (self._head, b"") if n < 0 or n >= len(self._head) else (self._head[:n], self._head[n:])
        elif self._file is not None:
            data = self._file.read(n)
            if not data:
                self._file.close()
        else:
            data = b""
        self._progress.moved(len(data))
        return data


def _send(remote: Any, method: str, action: dict, what: str, **kwargs: Any) -> Any:
    headers = {**(action.get("header") or {}), **kwargs.pop("headers", {})}
    response = remote.http.send(method, action["href"], api=False, headers=headers, what=what, **kwargs)
    if not 200 <= response.status_code < 300:
        raise remote.http.error(response, what)
    return response


def _needed(remote: Any, obj: dict, name: str) -> dict:
    action = remote._action(obj, name)
    if action is None:
        raise RemoteError(f"remote {remote.url}: object {obj.get('oid')}: no {name} action in the answer")
    return action


class _Sink:
    """ChunkSink for one object: the server's missing-chunks and send-chunks actions."""

    def __init__(self, remote: Any, store: ObjectStore, stub: Stub, obj: dict) -> None:
        self.remote, self.store, self.stub = remote, store, stub
        self.missing_action = _needed(remote, obj, "missing-chunks")
        self.send_action = _needed(remote, obj, "send-chunks")
        self.progress = meter.current()

    def missing_chunks(self, cids: list[bytes]) -> list[bytes]:
        unique = list(dict.fromkeys(cids))
        lacking: list[bytes] = []
        for start in range(0, len(unique), MISSING_BATCH):
            asked = unique[start:start + MISSING_BATCH]
            response = _send(self.remote, "POST", self.missing_action, f"ask which chunks of {self.stub.oid} it lacks",
                             headers={"Content-Type": pack_stream.IDS_TYPE}, stream=True,
                             body=lambda: pack_stream.encode_ids(asked))
            try:
                answer = pack_stream.decode_ids(_body_of(response).read_upto(len(asked) * pack_stream.ID + 1))
            except ValueError:
                answer = [b""]
            except _transient_errors():
                raise RemoteError(f"remote {self.remote.url}: missing-chunks: connection lost", transient=True) from None
            finally:
                response.close()
            if not set(answer) <= set(asked):
                raise RemoteError(f"remote {self.remote.url}: missing-chunks: answered for chunks it was not asked about")
            lacking += answer
        index = self.store.chunk_index  # what will travel, for the progress bar
        wire = sum(ENTRY.size + loc.stored for loc in map(index.get, lacking) if loc is not None)
        self.progress.expect(wire + os.stat(self.store._object_str(self.stub.oid)).st_size)
        return lacking

    def receive_chunks(self, entries: Iterable[tuple[bytes, Location, bytes]]) -> None:
        send_in_packs(entries, self.store.tmp_dir, self.store.level, PACK_LIMIT, self._post)

    def _post(self, writer: PackWriter, staging: Path) -> None:
        published = writer.finish()
        if published is None:
            return
        name = published[0]
        head = pack_stream.head((staging / f"{name}.idx").read_bytes())
        _send(self.remote, "POST", self.send_action, f"upload of chunks of {self.stub.oid}",
              headers={"Content-Type": pack_stream.CONTENT_TYPE},
              body=lambda: _Body(head, staging / f"{name}.pack", self.progress)).close()


class _Source:
    """ChunkSource for one object: the server's fetch-chunks action."""

    def __init__(self, remote: Any, stub: Stub, obj: dict) -> None:
        self.remote, self.stub = remote, stub
        self.action = _needed(remote, obj, "fetch-chunks")
        self.progress = meter.current()

    def fetch_chunks(self, cids: list[bytes]) -> Iterator[tuple[bytes, Location, bytes]]:
        for start in range(0, len(cids), FETCH_BATCH):
            asked = list(dict.fromkeys(cids[start:start + FETCH_BATCH]))
            yield from self._fetch(asked)

    def _fetch(self, asked: list[bytes]) -> Iterator[tuple[bytes, Location, bytes]]:
        what = f"download of chunks of {self.stub.oid}"
        response = _send(self.remote, "POST", self.action, what, stream=True,
                         headers={"Content-Type": pack_stream.IDS_TYPE}, body=lambda: pack_stream.encode_ids(asked))
        body = _body_of(response)
        try:
            records = pack_stream.read_index(body.read)
            if {cid for cid, _ in records} != set(asked) or len(records) != len(asked):
                raise CorruptObject(self.stub.oid, "the server sent other chunks than those asked")
            self.progress.expect(pack_stream.body_length(records))
            for cid, loc, entry in pack_stream.entries(body.read, records):
                self.progress.moved(len(entry))
                yield cid, loc, entry
        except _transient_errors():
            raise RemoteError(f"remote {self.remote.url}: {what}: connection lost", transient=True) from None
        finally:
            response.close()


def download(remote: Any, stub: Stub, store: ObjectStore, obj: dict) -> None:
    """Bring object `stub` from the server's `download` and `fetch-chunks` actions, verified."""
    what = f"download of {stub.oid}"
    response = _send(remote, "GET", _needed(remote, obj, "download"), what, stream=True)
    limit = object_file_bound(stub.size)
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        response.close()
        raise RemoteError(f"remote {remote.url}: {what}: the server sends {length} bytes, more than an "
                          f"object file of {stub.size} bytes can be; nothing was stored")
    progress = meter.current()
    progress.expect(int(length) if length.isdigit() else None)
    body = _body_of(response)
    try:
        try:
            head = body.read_upto(len(MANIFEST_MAGIC))
            if is_manifest(head):
                data = head + body.read_upto(max_manifest_size(stub.size, CDC_MIN) + 1 - len(head))
                response.close()  # the chunks come on other requests
                store.import_object(io.BytesIO(data), stub, chunks=_Source(remote, stub, obj))
            else:
                source = Joined(head, BoundedReader(body, stub, limit - len(head)))  # type: ignore[arg-type]
                store.import_object(meter.MeteredReader(source, progress), stub)  # type: ignore[arg-type]
        except _transient_errors():
            raise RemoteError(f"remote {remote.url}: {what}: connection lost", transient=True) from None
        finally:
            response.close()
    except CorruptObject as exc:
        raise RemoteError(f"remote {remote.url}: object {stub.oid} failed verification after download "
                          f"({exc.why}); nothing was stored") from None


def upload(remote: Any, stub: Stub, store: ObjectStore, obj: dict) -> None:
    """Send object `stub` through the server's `upload` action, a chunked one's missing chunks first."""
    upload_action = _needed(remote, obj, "upload")
    progress = meter.current()
    progress.expect(store.stored_bytes(stub.oid))
    if store.read_manifest(stub.oid, stub.size) is not None:
        store.send_chunks(stub.oid, _Sink(remote, store, stub, obj))

    def body() -> Any:
        return _Checked(store, stub, progress)

    _send(remote, "PUT", upload_action, f"upload of {stub.oid}",
          headers={"Content-Type": "application/octet-stream"}, body=body).close()


class _Checked:
    """The object file as it is sent, checked as it is read (ObjectStore.open_upload), with its
    length for Content-Length."""

    def __init__(self, store: ObjectStore, stub: Stub, progress: meter.ObjectMeter) -> None:
        self._length = os.stat(store._object_str(stub.oid)).st_size
        self._reader = store.open_upload(stub)
        self._progress = progress

    def __len__(self) -> int:
        return self._length

    def read(self, n: int = -1) -> bytes:
        data = self._reader.read(n)
        self._progress.moved(len(data))
        if not data:
            self._reader.close()
        return data

