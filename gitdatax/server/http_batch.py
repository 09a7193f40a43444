"""The Git LFS batch answer (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md) for
`git datax serve`, and reading the store's objects as raw bytes."""
from __future__ import annotations

from typing import Any, Iterator, Protocol

import zstandard

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.server.http_auth import TOKEN_SECONDS, User
from gitdatax.store.objectstore import CHUNK, ObjectStore
from gitdatax.stub import is_valid_oid


class BatchServer(Protocol):
    """What a batch answer needs of the server (http_handler.DataxServer)."""

    store: ObjectStore
    auth: Any  # an http_auth.Authenticator, or None when serving anonymously
    max_body: int

MAX_OBJECTS = 10_000  # per batch request; git-lfs sends 100


def stored_size(store: ObjectStore, oid: str) -> int | None:
    """The content size of a stored object: None when absent, -1 when its zstd frame does not
    record it (objects cleaned while streaming); read from the frame header, not by decompressing."""
    try:
        with store.open_compressed(oid) as f:
            head = f.read(18)  # the longest zstd frame header
    except ObjectMissing:
        return None
    try:
        size = zstandard.frame_content_size(head)
    except zstandard.ZstdError:
        return -1
    return size if size >= 0 else -1


def iter_raw(store: ObjectStore, oid: str) -> Iterator[bytes]:
    """The content, decompressed while it streams; the zstd checksum is checked at the end."""
    with store.open_compressed(oid) as f:
        reader = zstandard.ZstdDecompressor().stream_reader(f, read_size=CHUNK)
        try:
            while chunk := reader.read(CHUNK):
                yield chunk
        except zstandard.ZstdError as exc:
            raise CorruptObject(oid, f"zstd: {exc}") from None


def _error(oid: Any, size: Any, code: int, message: str) -> dict[str, Any]:
    return {"oid": oid, "size": size, "error": {"code": code, "message": message}}


def answer_batch(server: BatchServer, request: dict, user: User, base: str) -> tuple[int, dict]:
    """(HTTP status, JSON answer) for a batch request whose operation was checked already."""
    operation = request["operation"]
    objects = request.get("objects")
    if not isinstance(objects, list) or len(objects) > MAX_OBJECTS:
        return 422, {"message": f"objects must be a list of at most {MAX_OBJECTS}"}
    transfers = request.get("transfers", ["basic"])
    if not isinstance(transfers, list) or "basic" not in transfers:
        return 422, {"message": "only the basic transfer adapter is offered"}
    if request.get("hash_algo", "sha256") != "sha256":
        return 409, {"message": "only sha256 object ids are supported"}
    answers = [_answer(server, operation, obj, user, base) for obj in objects]
    return 200, {"transfer": "basic", "objects": answers, "hash_algo": "sha256"}


def _answer(server: BatchServer, operation: str, obj: Any, user: User, base: str) -> dict[str, Any]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not is_valid_oid(oid):
        shown = oid[:80] if isinstance(oid, str) else oid if isinstance(oid, (int, type(None))) else "?"
        return _error(shown, size, 422, "invalid object id: expected 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return _error(oid, None, 422, "invalid size: expected a whole number of bytes")
    stored = stored_size(server.store, oid)
    if stored is not None and stored not in (size, -1):
        return _error(oid, size, 422, f"object is stored with size {stored}")
    result: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
    href = f"{base}/objects/{oid}"
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


def _action(server: BatchServer, user: User, operation: str, oid: str, href: str) -> dict[str, Any]:
    action: dict[str, Any] = {"href": href, "expires_in": TOKEN_SECONDS}
    if server.auth is not None:
        action["header"] = {"Authorization": f"Bearer {server.auth.token(user, operation, oid)}"}
    return action
