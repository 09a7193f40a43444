"""The Git LFS batch answer (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md) for
`git datax serve`."""
from __future__ import annotations

from typing import Any, Protocol

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.remotes.pack_stream import TRANSFER
from gitdatax.server.http_auth import TOKEN_SECONDS, User
from gitdatax.server.http_chunks import complete
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import is_valid_oid


class BatchServer(Protocol):
    """What a batch answer needs of the server (http_handler.DataxServer)."""

    store: ObjectStore
    auth: Any  # an http_auth.Authenticator, or None when serving anonymously
    max_body: int

MAX_OBJECTS = 10_000  # per batch request; git-lfs sends 100
CHUNKS = TRANSFER  # "datax-chunks": the transfer adapter of gitdatax ends (http_chunks.py)


def content_size(store: ObjectStore, oid: str) -> int | None:
    """The content size of a stored object for an LFS answer: None when absent, -1 when the
    object does not record it (objects cleaned while streaming): never a decompression per
    object of a batch request."""
    try:
        size = store.content_size(oid, count=False)
    except ObjectMissing:
        return None
    except CorruptObject:
        return -1
    if not complete(store, oid):
        return None  # a manifest with a chunk gone: not there (what pre-receive asks through us)
    return -1 if size is None else size


def _error(oid: Any, size: Any, code: int, message: str) -> dict[str, Any]:
    return {"oid": oid, "size": size, "error": {"code": code, "message": message}}


def answer_batch(server: BatchServer, request: dict, user: User, base: str) -> tuple[int, dict]:
    """(HTTP status, JSON answer) for a batch request whose operation was checked already."""
    operation = request["operation"]
    objects = request.get("objects")
    if not isinstance(objects, list) or len(objects) > MAX_OBJECTS:
        return 422, {"message": f"objects must be a list of at most {MAX_OBJECTS}"}
    transfers = request.get("transfers", ["basic"])
    if not isinstance(transfers, list) or ("basic" not in transfers and CHUNKS not in transfers):
        return 422, {"message": f"the transfer adapters offered are basic and {CHUNKS}"}
    if request.get("hash_algo", "sha256") != "sha256":
        return 409, {"message": "only sha256 object ids are supported"}
    # datax-chunks whenever a client lists it: only gitdatax does (git-lfs sends basic and its own)
    transfer = CHUNKS if CHUNKS in transfers else "basic"
    answers = [_answer(server, operation, obj, user, base, transfer) for obj in objects]
    return 200, {"transfer": transfer, "objects": answers, "hash_algo": "sha256"}


def _answer(server: BatchServer, operation: str, obj: Any, user: User, base: str,
            transfer: str = "basic") -> dict[str, Any]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not is_valid_oid(oid):
        shown = oid[:80] if isinstance(oid, str) else oid if isinstance(oid, (int, type(None))) else "?"
        return _error(shown, size, 422, "invalid object id: expected 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return _error(oid, None, 422, "invalid size: expected a whole number of bytes")
    stored = content_size(server.store, oid)
    if stored is not None and stored not in (size, -1):
        return _error(oid, size, 422, f"object is stored with size {stored}")
    result: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
    href = f"{base}/objects/{oid}"
    if transfer == CHUNKS:
        return _chunks_answer(server, operation, result, user, href, stored is not None)
    if operation == "download":
        if stored is None:
            return _error(oid, size, 404, "object not found")
        result["actions"] = {"download": _action(server, user, "download", oid, href)}
    elif stored is None:  # upload of an object the store lacks; a stored one needs no action
        if size > server.max_body:
            return _error(oid, size, 413, f"object is over this server's limit of {server.max_body} bytes")
        result["actions"] = {
            "upload": _action(server, user, "upload", oid, f"{href}?size={size}"),
            "verify": _action(server, user, "upload", oid, f"{base}/objects/verify"),
        }
    return result


def _chunks_answer(server: BatchServer, operation: str, result: dict[str, Any], user: User, href: str,
                   stored: bool) -> dict[str, Any]:
    """The actions of the datax-chunks transfer (server/http_chunks.py): object files as stored,
    and the chunk endpoints of the object, all under one token for the operation on this oid.
    No object-size limit: each request body is bounded on its own (--max-body, packs of 16 MiB)."""
    oid, size = result["oid"], result["size"]
    if operation == "download":
        if not stored:
            return _error(oid, size, 404, "object not found")
        names = {"download": f"{href}/stored", "fetch-chunks": f"{href}/fetch-chunks"}
    elif stored:
        return result
    else:
        names = {"upload": f"{href}/stored?size={size}", "missing-chunks": f"{href}/missing-chunks",
                 "send-chunks": f"{href}/chunks"}
    action = _action(server, user, operation, oid, href)
    result["actions"] = {name: {**action, "href": url} for name, url in names.items()}
    return result


def _action(server: BatchServer, user: User, operation: str, oid: str, href: str) -> dict[str, Any]:
    action: dict[str, Any] = {"href": href, "expires_in": TOKEN_SECONDS}
    if server.auth is not None:
        action["header"] = {"Authorization": f"Bearer {server.auth.token(user, operation, oid)}"}
    return action
