"""What every remote store offers, and the registry that picks a backend from a URL's scheme.

A backend moves whole objects between the local ObjectStore and somewhere else, streaming both
ways. Backends of our own layout (directory, S3, SSH) move the compressed object files as they
are; Git LFS servers get the raw bytes. Every download goes through the store's import_* methods,
which re-hash before publishing, so no backend can put an unverified object in the store.
"""
from __future__ import annotations

import errno
import os
import threading
from typing import Callable, Generic, Iterable, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlparse

from gitdatax.errors import CorruptObject, FatalError, ObjectMissing
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


# Tries per object on transient errors (transfer.with_retries). A backend that has seen this
# many connection failures in a row has seen one object give up on it: it stops trying.
ATTEMPTS = 4
Why = TypeVar("Why")


class DeadEndpoint(Generic[Why]):
    """Giving up on an endpoint that does not answer, once for every thread of a transfer: after
    `after` connection failures in a row (by default one object's tries), `reason` is the first
    failure's, and each later call fails at once with it instead of waiting out its own round
    of retries (thousands of objects must not each wait on a dead server). The S3, SSH and HTTP
    backends each keep one."""

    def __init__(self, after: int = ATTEMPTS) -> None:
        self.after = after
        self.reason: Why | None = None
        self._failures = 0
        self._lock = threading.Lock()

    def failed(self, why: Why) -> bool:
        """Count one connection failure; True once the endpoint is given up on."""
        with self._lock:
            self._failures += 1
            if self._failures >= self.after and self.reason is None:
                self.reason = why
            return self.reason is not None

    def succeeded(self) -> None:
        if self._failures:  # the common case takes no lock
            with self._lock:
                self._failures = 0


class RemoteError(FatalError):
    """A remote could not be reached or refused an operation. Carries whether a retry may help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        # Not super(): in RemoteObjectMissing the next class is ObjectMissing, whose __init__
        # takes an oid and would wrap this message in "object ... is not in the local store".
        FatalError.__init__(self, message)
        self.transient = transient


class RemoteObjectMissing(RemoteError, ObjectMissing):
    """The remote does not have the object (also an ObjectMissing, as the directory backend raises)."""

    def __init__(self, oid: str, remote: str) -> None:
        RemoteError.__init__(self, f"object {oid} is not on remote {remote}")
        self.oid = oid
        self.remote = remote


def number_option(url: str, options: dict, key: str, default: float, *, whole: bool = False,
                  minimum: float = 0, above: bool = False) -> float:
    """A numeric option of a remote (git config or .datax.toml): one that is not a number in
    range is the user's to fix, with one line, not a crash or (connections = 0) a hang."""
    raw = options.get(key, default)
    try:
        value = float(int(str(raw).strip())) if whole else float(str(raw).strip())
    except ValueError:
        value = None
    if value is None or value != value or value < minimum or (above and value == minimum):
        kind = "a whole number" if whole else "a number of seconds"
        bound = f"over {minimum:g}" if above else f"{minimum:g} or more"
        raise RemoteError(f"remote {url}: bad {key} {str(raw)!r} (expected {kind}{',' if not above else ''} {bound})")
    return value


class RemoteCorruptObject(RemoteError, CorruptObject):
    """A download whose bytes the store refused: the remote's copy is bad, not ours (also a
    CorruptObject, as the store raised it)."""

    def __init__(self, url: str, exc: CorruptObject) -> None:
        RemoteError.__init__(self, f"remote {url}: its copy of object {exc.oid} is corrupt ({exc.why}); "
                                   "nothing was stored")
        self.oid = exc.oid
        self.why = exc.why


def local_store_failure(exc: OSError, store: ObjectStore) -> bool:
    """Whether a failed download failed on our side: a path in the local store, or a write
    refused (reading a remote never runs out of space). Retrying cannot help then, and the
    remote is not at fault."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
        return True
    root = str(store.root) + os.sep
    return any(isinstance(name, (str, os.PathLike)) and str(os.fspath(name)).startswith(root)
               for name in (exc.filename, exc.filename2))


@runtime_checkable
class Remote(Protocol):
    url: str  # as the user wrote it, with any credentials removed (safe to print)
    max_parallel: int | None  # most transfers at once that help (None: datax.concurrency decides)
    cheap_fetches: bool  # one small object costs less to fetch now than through git's `delay`

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        """The oids among `stubs` that the remote holds (asked in batches where it can)."""

    def download(self, stub: Stub, store: ObjectStore) -> None:
        """Bring one object into `store`, verified. Raises RemoteError (or CorruptObject)."""

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        """Send one object from `store`. Must leave no partial object visible on the remote."""

    def close(self) -> None:
        """Release connections and processes."""


# scheme -> factory(url, options). Backends register lazily so that importing this module
# never imports boto3 or requests.
Factory = Callable[[str, dict], Remote]
_REGISTRY: dict[str, Callable[[], Factory]] = {}


def register(scheme: str, loader: Callable[[], Factory]) -> None:
    _REGISTRY[scheme] = loader


def scheme_of(url: str) -> str:
    """'file' for paths and file:// URLs, 'ssh' for ssh:// and scp-like host:path, else the scheme."""
    if url.startswith("/") or url.startswith("./") or url.startswith("../") or url.startswith("~"):
        return "file"
    parsed = urlparse(url)
    if parsed.scheme and "://" in url:
        return parsed.scheme.lower()
    host, sep, _ = url.partition(":")
    if sep and host and "/" not in host and len(host) > 1:  # scp-like user@host:path (not C:\)
        return "ssh"
    return "file"


# Schemes no backend registered by name but one backend may still take (fsspec's protocols):
# (does it take this scheme?, loader). Set by remotes/__init__.py.
_FALLBACK: list[tuple[Callable[[str], bool], Callable[[], Factory]]] = []


def register_fallback(accepts: Callable[[str], bool], loader: Callable[[], Factory]) -> None:
    _FALLBACK.append((accepts, loader))


def backend_loader(scheme: str) -> Callable[[], Factory] | None:
    loader = _REGISTRY.get(scheme)
    if loader is None:
        loader = next((load for accepts, load in _FALLBACK if accepts(scheme)), None)
    return loader


def open_remote(url: str, options: dict | None = None) -> Remote:
    scheme = scheme_of(url)
    loader = backend_loader(scheme)
    if loader is None:
        raise FatalError(f"remote {url!r}: unsupported scheme {scheme!r} (use a path, s3://, http(s)://, ssh://, "
                         "or a protocol of fsspec such as gs://, az://, webdav://)")
    return loader()(url, options or {})
