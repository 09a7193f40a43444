"""What every remote store offers, and the registry that picks a backend from a URL's scheme.

A backend moves whole objects between the local ObjectStore and somewhere else, streaming both
ways. Backends of our own layout (directory, S3, SSH) move the compressed object files as they
are; Git LFS servers get the raw bytes. Every download goes through the store's import_* methods,
which re-hash before publishing, so no backend can put an unverified object in the store.
"""
from __future__ import annotations

import contextvars
import errno
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlparse

from gitdatax.errors import CorruptObject, FatalError, ObjectMissing
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


Why = TypeVar("Why")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """One retry policy for every remote (issue 10, item 4): the remote's options `retries`
    (tries after the first, for each unit of work), `backoff` (seconds before the first retry,
    doubled for each further one, with jitter) and `timeout` (seconds a request may wait for an
    answer, where the backend sends requests: HTTP, S3).

    One place runs the loop: `run`, which the transfer layer calls for each unit of work (one
    object's upload or download, one batch of existence checks). Backends never loop on their
    own and botocore's retries are off: a backend says what a retry may cure
    (RemoteError(transient=True): throttling, 5xx, a reset or refused connection, a timeout)
    and what the server asked (`retry_after`). A backend that continues a cut download rather
    than starting over (S3's and HTTP's Range requests) spends a try of the same budget
    (`tries_now`), so a unit of work costs at most `retries + 1` tries whichever layer retries,
    never retries x retries."""

    retries: int = 3
    backoff: float = 0.5
    timeout: float = 60.0

    @classmethod
    def from_options(cls, url: str, options: dict) -> RetryPolicy:
        return cls(retries=int(number_option(url, options, "retries", cls.retries, whole=True)),
                   backoff=number_option(url, options, "backoff", cls.backoff),
                   timeout=number_option(url, options, "timeout", cls.timeout, above=True))

    @property
    def tries(self) -> int:
        return self.retries + 1

    def run(self, call: Callable[[], T], on_slow_retry: Callable[[RemoteError, int], None] | None = None) -> T:
        """`call` (one unit of work), tried again on a transient RemoteError while tries are left.
        `on_slow_retry(error, try about to start)` before a retry after a try that failed only
        after a long wait (a timeout, a stalled server): the user, watching a bar that has not
        moved for that long, is told why and that it goes on."""
        tries = Tries(self)
        token = _TRIES.set(tries)
        try:
            while True:
                started = time.monotonic()
                try:
                    return call()
                except RemoteError as exc:
                    if not exc.transient or tries.used >= self.tries:
                        raise
                    if on_slow_retry is not None and time.monotonic() - started >= self.slow_failure:
                        on_slow_retry(exc, tries.used + 1)
                    if not tries.spend(exc.retry_after):
                        raise
        finally:
            _TRIES.reset(token)

    @property
    def slow_failure(self) -> float:
        """Seconds after which a failed try was a long wait: 5, or nearly `timeout` when shorter."""
        return min(5.0, 0.9 * self.timeout)

    def tries_now(self) -> Tries:
        """The budget of the unit of work this thread runs (a fresh one when a backend is called
        outside `run`)."""
        return _TRIES.get() or Tries(self)


class Tries:
    """The tries one unit of work has used, of its policy's."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.used = 1  # the first try, under way

    def spend(self, asked: float | None = None) -> bool:
        """Wait, then take one more try; False (and no wait) when none is left. `asked`: the
        server's Retry-After, in seconds, instead of the backoff."""
        if self.used >= self.policy.tries:
            return False
        delay = asked if asked is not None else self.policy.backoff * (2 ** (self.used - 1)) * (0.5 + random.random())
        time.sleep(delay)
        self.used += 1
        return True


_TRIES: contextvars.ContextVar[Tries | None] = contextvars.ContextVar("datax_tries", default=None)


class DeadEndpoint(Generic[Why]):
    """Giving up on an endpoint that does not answer, once for every thread of a transfer: after
    `after` connection failures in a row (one unit of work's tries), `reason` is the first
    failure's, and each later call fails at once with it instead of waiting out its own round
    of retries (thousands of objects must not each wait on a dead server). The S3, SSH, fsspec
    and HTTP backends each keep one."""

    def __init__(self, after: int) -> None:
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


class SilentEndpoint:
    """Giving up on a server that accepts requests but sends nothing at all (a hung disk under
    it): once requests have waited `limit` seconds in all (the time one object may spend on its
    tries: tries x timeout) with nothing coming from it, the request that has just timed out,
    and every later one of the transfer, fail at once instead of each object waiting out its
    own tries (2,000 objects on 4 sessions: hours). Only time when some request waits counts;
    any byte from the server starts the count again, so one slow answer, or one stream still
    flowing while other requests wait, never gets there. The SSH, HTTP and S3 backends keep one
    (S3: every request, timed through botocore's events)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.reason: str | None = None
        self._silent = 0.0  # seconds waited, with nothing heard, before the current wait
        self._since = time.monotonic()  # start of the current wait, or of what was heard last
        self._waiting = 0
        self._lock = threading.Lock()

    def heard(self) -> None:
        """Bytes came from the server (each read of an answer; an uncontended lock)."""
        with self._lock:
            self._silent = 0.0
            self._since = time.monotonic()

    def begin(self) -> None:
        with self._lock:
            if not self._waiting:
                self._since = time.monotonic()
            self._waiting += 1

    def end(self) -> None:
        with self._lock:
            self._waiting -= 1
            if not self._waiting:
                self._silent += time.monotonic() - self._since

    def timed_out(self, why: str) -> str | None:
        """After a request timed out: the reason to give up on the server, once requests have
        waited `limit` on it; None while it may still answer."""
        with self._lock:
            silent = self._silent + (time.monotonic() - self._since if self._waiting else 0.0)
            if self.reason is None and silent >= self.limit:
                self.reason = f"{why}; nothing came from it for {silent:.0f} s of waiting: given up"
            return self.reason


class RemoteError(FatalError):
    """A remote could not be reached or refused an operation. Carries whether a retry may help."""

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None) -> None:
        # Not super(): in RemoteObjectMissing the next class is ObjectMissing, whose __init__
        # takes an oid and would wrap this message in "object ... is not in the local store".
        FatalError.__init__(self, message)
        self.transient = transient
        self.retry_after = retry_after  # seconds the server asked us to wait (HTTP Retry-After)


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


def switch_option(url: str, options: dict, key: str, default: bool) -> bool:
    """An on/off option of a remote (git config or .datax.toml), spelled as git reads a boolean;
    a value that is neither is the user's to fix, with one line, never silently the default."""
    raw = options.get(key, default)
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0", ""):  # `key =`, empty: false to git too
        return False
    raise RemoteError(f"remote {url}: bad {key} {str(raw)!r} (expected true or false)")


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
    serial_small: bool  # small objects move fastest one at a time (CPU-bound copies: transfer._run_parallel)
    retry: RetryPolicy  # from the remote's options; the transfer layer runs each unit of work under it

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
