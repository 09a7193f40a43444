"""The `datax-chunks` transfer of `git datax serve` (docs/http-chunks.md): between gitdatax ends,
object files move as stored and the chunks of large objects move only where the other side lacks
them, packed. A batch request that lists `datax-chunks` among its transfers gets these hrefs in
its actions (http_batch.py); git-lfs never lists it, so it only ever sees `basic`.

    GET  <root>/objects/<oid>/stored           the object file as stored: a manifest or a zstd frame
    PUT  <root>/objects/<oid>/stored?size=N    an object file; published only once it decompresses
                                               (a manifest: reassembles, from chunks all present
                                               here) to the oid and size (ObjectStore.import_object)
    POST <root>/objects/<oid>/missing-chunks   chunk ids -> those this store lacks
    POST <root>/objects/<oid>/chunks           a pack body (remotes/pack_stream.py): every entry
                                               checked against its id, kept in a pack of ours
    POST <root>/objects/<oid>/fetch-chunks     chunk ids of that object's manifest -> a pack body

Every route names an object, so the batch answer's tokens (one operation on one object) cover
them as they cover the basic hrefs; a fetch is limited to the chunks of that object's manifest.
The oid is checked before it names a file and pack names never come from a client, so no
request reaches outside the store.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any, Iterator

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.remotes import pack_stream
from gitdatax.store.objectfile import object_file_bound
from gitdatax.server.http_errors import HttpError
from gitdatax.store.objectstore import CHUNK, ObjectStore
from gitdatax.store.packs import ENTRY, PACK_MAGIC, Location
from gitdatax.stub import Stub, is_valid_oid

ROUTE = re.compile(r"(?P<prefix>(?:/[^/]+)*?)/objects/(?P<oid>[^/]+)/(?P<what>stored|missing-chunks|chunks|fetch-chunks)")
IDS_LIMIT = 32 << 10  # chunk ids per request (1 MiB of them): clients ask 4096 to 16384 at once
PACK_BODY_LIMIT = 80 << 20  # per pack body: clients send packs of 16 MiB
_METHODS = {"stored": ("GET", "PUT"), "missing-chunks": ("POST",), "chunks": ("POST",), "fetch-chunks": ("POST",)}


def route(path: str) -> tuple[str, str, str] | None:
    """(prefix, oid, endpoint) of a datax-chunks URL path, or None for any other path."""
    match = ROUTE.fullmatch(path)
    return (match["prefix"], match["oid"], match["what"]) if match else None


def handle(h: Any, path: str, query: dict[str, list[str]]) -> bool:
    """Answer the request if it is one of ours (`h`: the http_handler.Handler); False if not."""
    found = route(path)
    if found is None:
        return False
    _, oid, what = found
    writes = h.command != "GET"
    if h.command not in _METHODS[what]:
        raise HttpError(405, f"{'/'.join(_METHODS[what])} only at .../objects/OID/{what}", close=writes)
    if not is_valid_oid(oid):
        raise HttpError(422, f"invalid object id {oid[:80]!r}: expected 64 lowercase hex digits", close=writes)
    store: ObjectStore = h.server.store
    if what == "stored" and h.command == "GET":
        _get_stored(h, store, oid)
    elif what == "stored":
        _put_stored(h, store, oid, query)
    elif what == "missing-chunks":
        h._authenticate("upload", oid)
        ids = _ids(h)
        missing = store.missing_chunks(list(dict.fromkeys(ids)))
        _send_bytes(h, pack_stream.encode_ids(missing), pack_stream.IDS_TYPE)
    elif what == "chunks":
        _receive(h, store, oid)
    else:
        _fetch(h, store, oid)
    return True


def complete(store: ObjectStore, oid: str) -> bool:
    """Whether the store holds all of object `oid`: for a chunked one, every chunk it names in a
    pack still on disk (what the server's pre-receive asks through the batch API). A pack that
    fsck or gc removed while this server runs is noticed here, and its index forgotten."""
    try:
        manifest = store.read_manifest(oid)
    except (ObjectMissing, CorruptObject):
        return False
    if manifest is None:
        return True
    ids = manifest.ids()
    for _ in range(2):
        if store.missing_chunks(ids):
            return False
        index = store.chunk_index
        packs = {loc.pack for loc in map(index.get, ids) if loc is not None}
        gone = [pack for pack in packs if not (store.chunks_dir / f"{pack}.pack").is_file()]
        if not gone:
            return True
        index.forget(gone[0])  # reads every index again: the chunks may live on in another pack
    return False


def _ids(h: Any) -> list[bytes]:
    data = b"".join(h._body(min(IDS_LIMIT * pack_stream.ID, h.server.max_body)))
    try:
        return pack_stream.decode_ids(data)
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None


def _send_bytes(h: Any, data: bytes, content_type: str) -> None:
    h._start(200, len(data), content_type)
    h.wfile.write(data)
    h._sent = len(data)


def _get_stored(h: Any, store: ObjectStore, oid: str) -> None:
    h._authenticate("download", oid)
    if not complete(store, oid):  # a manifest with a chunk gone is not an object to give
        raise HttpError(404, f"object {oid} is not stored")
    try:
        f = open(store._object_str(oid), "rb")
    except FileNotFoundError:
        raise HttpError(404, f"object {oid} is not stored") from None
    with f:
        h._start(200, os.fstat(f.fileno()).st_size, "application/octet-stream")
        while block := f.read(CHUNK):
            h.wfile.write(block)
            h._sent += len(block)


def _put_stored(h: Any, store: ObjectStore, oid: str, query: dict[str, list[str]]) -> None:
    h._authenticate("upload", oid)
    sizes = query.get("size", [])
    if len(sizes) != 1 or not sizes[0].isdigit() or len(sizes[0]) > 19:
        raise HttpError(422, "an object file needs ?size=BYTES (the batch answer's href has it)", close=True)
    stub = Stub(oid, int(sizes[0]))
    limit = min(object_file_bound(stub.size), h.server.max_body)
    body = pack_stream.Pieces(h._body(limit))
    try:
        store.import_object(body, stub)  # type: ignore[arg-type]
    except CorruptObject as exc:
        raise HttpError(422, f"object {oid} refused ({exc.why}); nothing stored", close=True) from None
    h._send_json(200, {})


def _receive(h: Any, store: ObjectStore, oid: str) -> None:
    """A pack body: its entries checked against their ids and kept in one new pack, or nothing
    kept at all (a bad entry, a short body)."""
    h._authenticate("upload", oid)
    body = pack_stream.Pieces(h._body(min(PACK_BODY_LIMIT, h.server.max_body)))
    try:
        records = pack_stream.read_index(body.read)
        index = store.chunk_index

        def new_ones() -> Iterator[tuple[bytes, Location, bytes]]:
            for cid, loc, entry in pack_stream.entries(body.read, records):
                if not index.has(cid):  # another push brought it meanwhile: read, not kept twice
                    yield cid, loc, entry
        store.receive_chunks(new_ones())
    except CorruptObject as exc:
        raise HttpError(422, f"pack refused ({exc.oid[:16]}: {exc.why}); nothing kept from it", close=True) from None
    if body.read(1):
        raise HttpError(422, "bytes after the pack's last entry; nothing kept from it", close=True)
    h._send_json(200, {"received": len(records)})


def _fetch(h: Any, store: ObjectStore, oid: str) -> None:
    """The asked chunks of object `oid`, as one pack body streamed from this store's packs."""
    h._authenticate("download", oid)
    ids = list(dict.fromkeys(_ids(h)))
    try:
        manifest = store.read_manifest(oid)
    except ObjectMissing:
        raise HttpError(404, f"object {oid} is not stored") from None
    except CorruptObject as exc:
        raise HttpError(422, f"object {oid} is corrupt here ({exc.why})") from None
    if manifest is None:
        raise HttpError(422, f"object {oid} is not chunked here: GET .../stored has all of it")
    if not set(ids) <= set(manifest.ids()):
        raise HttpError(403, f"chunks asked that object {oid} does not have")
    index = store.chunk_index
    located = [(cid, index.get(cid)) for cid in ids]
    if any(loc is None for _, loc in located):
        index.refresh()  # published by another process since this one looked
        located = [(cid, index.get(cid)) for cid in ids]
    lost = sum(loc is None for _, loc in located)
    if lost:
        raise HttpError(404, f"{lost} chunks of object {oid} are not in this store")
    pairs: list[tuple[bytes, Location]] = located  # type: ignore[assignment]
    idx, pack_length = pack_stream.index_for(pairs)
    head = pack_stream.head(idx)
    h._start(200, len(head) + pack_length, pack_stream.CONTENT_TYPE)
    h.wfile.write(head + PACK_MAGIC)
    h._sent = len(head) + len(PACK_MAGIC)
    for cid, loc in pairs:
        try:
            entry = index.read_entry(loc)
        except OSError:
            entry = b""
        if len(entry) != ENTRY.size + loc.stored:
            # The headers are out: cutting the connection is the only way left to say it (the
            # client would refuse the entry anyway).
            h.close_connection = True
            with h.server.log_lock:
                sys.stderr.write(f"git-datax serve: chunk {cid.hex()[:16]} of {oid} cannot be read "
                                 "from its pack; connection closed mid-answer\n")
            return
        h.wfile.write(entry)
        h._sent += len(entry)
