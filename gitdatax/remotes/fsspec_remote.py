"""Any store fsspec reaches: Google Cloud Storage (`gs://`), Azure Blob and ADLS (`az://`,
`abfs://`, `abfss://`), HDFS (`hdfs://`, `webhdfs://`), WebDAV (`webdav://`, `webdavs://`) and any
other fsspec protocol whose package is installed (`memory://` and `local://` too, which the tests
use). Each protocol's package is an extra: `pip install 'gitdatax[gs]'`, `[azure]`, `[webdav]`,
`[hdfs]`.

Objects are the local store's compressed files under `ROOT/objects/ab/cd/<oid>`, the layout of the
directory and S3 stores, so a push copies files and never recompresses. An upload is written to
`ROOT/tmp/` and moved into place: an interrupted write (fsspec commits a buffered file when it is
closed, even by an exception) never appears under an object's name. Every download is re-hashed
by the store before it is published.

Options (git config `datax.remote.NAME.KEY`, or the team file for the inert ones) are passed to
the fsspec file system as its storage options, e.g. `endpoint_url` and `project` for gcsfs,
`account_name` and `connection_string` for adlfs; `user` and `password` are WebDAV's login. The
protocols' own environment variables work as they do with DVC (`GOOGLE_APPLICATION_CREDENTIALS`,
`AZURE_STORAGE_CONNECTION_STRING`, ...). Messages are built from the URL, the oid and the error's
class; a credential in a message from below is cut out.
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

from gitdatax.errors import CorruptObject, FatalError
from gitdatax.remotes import credentials, meter
from gitdatax.remotes.base import (DeadEndpoint, RemoteCorruptObject, RemoteError, RemoteObjectMissing, RetryPolicy,
                                  local_store_failure)
from gitdatax.remotes.limits import BoundedReader
from gitdatax.store.objectfile import CHUNK, object_file_bound
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub, is_valid_oid

# The extra that brings each protocol's package (setup.cfg), for the message when it is missing.
EXTRAS = {"gs": "gs", "gcs": "gs", "az": "azure", "abfs": "azure", "abfss": "azure", "adl": "azure",
          "webdav": "webdav", "webdavs": "webdav", "hdfs": "hdfs", "arrow_hdfs": "hdfs"}
# Object stores: the URL's first component is a bucket (or container) that must exist; a push
# never creates one (gcsfs's makedirs would), as DVC does not.
BUCKET_PROTOCOLS = {"gs", "gcs", "az", "abfs", "abfss", "adl", "s3", "s3a", "oss", "oci", "tos", "tosfs"}
# Settings of gitdatax itself, not the file system's.
OWN_OPTIONS = {"url", "default", "create", "retries", "backoff", "timeout", "connections", "chunks", "profile",
               "region", "multipart_threshold", "sshcommand", "server_command", "exact_endpoint"}
EXISTS_LIMIT = 256  # up to this many oids: ask for each (in parallel); more: list the prefixes
_SECRET = re.compile(r"(?i)((?:sig|signature|token|key|password|secret|accountkey|sharedaccesssignature)=)[^&;\s'\"]+")
_DENIED = re.compile(r"(?i)authorizationfailure|authenticationfailed|forbidden|\b40[13]\b|access ?denied|"
                     r"unauthori[sz]ed|permission|invalid_grant|credentials")
_CONNECTION_WORDS = ("connect", "timeout", "timed out", "serverdisconnected", "servicerequest", "network",
                     "clientoserror", "remoteprotocol", "readerror")


def fsspec_protocols() -> set[str]:
    """Every protocol fsspec knows (its package installed or not): a URL with one of these
    schemes goes to this backend. Empty when fsspec itself is not installed."""
    try:
        from fsspec.registry import known_implementations, registry
    except ImportError:
        return set()
    return set(known_implementations) | set(registry) | {"webdavs"}


def needs_package(scheme: str) -> str:
    extra = EXTRAS.get(scheme, "fsspec")
    return f"pip install 'gitdatax[{extra}]'"


def _option_value(value: Any) -> Any:
    """Git config gives strings: `true`/`false` become booleans, as fsspec's options expect."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def open_filesystem(url: str, options: dict) -> tuple[Any, str]:
    """The fsspec file system and the store's root path inside it for `url`."""
    shown = shown_url(url)
    try:
        import fsspec
    except ImportError:
        raise FatalError(f"remote {shown}: this URL needs fsspec ({needs_package(scheme_of_url(url))})") from None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    storage = {k: _option_value(v) for k, v in options.items() if k not in OWN_OPTIONS}
    if scheme in ("webdav", "webdavs"):
        # As DVC: webdav:// is http, webdavs:// is https; the login comes from the options (or
        # the URL of a --local remote).
        if not parts.hostname:
            raise RemoteError(f"remote {shown}: no host in the URL")
        user = storage.pop("user", None) or (unquote(parts.username) if parts.username else None)
        password = storage.pop("password", None) or (unquote(parts.password) if parts.password else None)
        if user is not None:
            storage["auth"] = (str(user), str(password or ""))
        netloc = parts.netloc.rpartition("@")[2]
        storage["base_url"] = f"{'https' if scheme == 'webdavs' else 'http'}://{netloc}/"
        cls = _filesystem_class(fsspec, "webdav", shown)
        return _instantiate(cls, storage, shown), parts.path.strip("/")
    cls = _filesystem_class(fsspec, scheme, shown)
    try:
        from_url = cls._get_kwargs_from_urls(url)
    except Exception:  # noqa: BLE001 - a URL the implementation cannot read: its own words follow
        from_url = {}
    root = str(cls._strip_protocol(url)).rstrip("/")
    return _instantiate(cls, {**from_url, **storage}, shown), root


def shown_url(url: str) -> str:
    """The URL as the user wrote it, without a password or a query (a token): safe to print."""
    parts = urlsplit(url)
    return credentials.redact(url) if parts.username or parts.password or parts.query or parts.fragment else url


def scheme_of_url(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _filesystem_class(fsspec: Any, protocol: str, url: str) -> Any:
    try:
        return fsspec.get_filesystem_class(protocol)
    except ImportError:
        raise FatalError(f"remote {url}: {protocol}:// needs a package that is not installed "
                         f"({needs_package(protocol)})") from None
    except ValueError:
        raise FatalError(f"remote {url}: fsspec knows no protocol {protocol!r}") from None


def _instantiate(cls: Any, storage: dict, url: str) -> Any:
    try:
        return cls(**storage)
    except TypeError as exc:  # an option this file system does not take
        raise RemoteError(f"remote {url}: {_clean(str(exc))}") from None
    except Exception as exc:  # noqa: BLE001 - bad credentials files, bad connection strings, ...
        raise RemoteError(f"remote {url}: cannot open the store: {_describe(exc)}") from None


def _clean(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _SECRET.sub(r"\1***", first)[:300]


def _describe(exc: BaseException) -> str:
    text = _clean(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    seen: BaseException | None = exc
    for _ in range(5):  # adlfs wraps the SDK's error in a RuntimeError; look down the chain
        if seen is None:
            return False
        name = f"{type(seen).__module__}.{type(seen).__name__} {str(seen)[:200]}".lower()
        if any(word in name for word in _CONNECTION_WORDS) or isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_denied(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, PermissionError):
            return True
        if _DENIED.search(f"{type(seen).__name__} {str(seen)[:400]}"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _quiet_logs(fs: Any) -> None:
    """The implementations log their retries and fallbacks (gcsfs prints a traceback for each);
    with no handler configured Python would write them to stderr. gitdatax says what failed
    itself, in one line."""
    logging.getLogger(type(fs).__module__.split(".")[0]).addHandler(logging.NullHandler())


def _meter_callback_class() -> Any:
    from fsspec.callbacks import Callback

    class MeterCallback(Callback):  # type: ignore[misc]
        """fsspec's progress hook, fed into the object's meter."""

        def __init__(self, progress: meter.ObjectMeter) -> None:
            super().__init__()
            self.progress = progress
            self.reported = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            delta = int(self.value or 0) - self.reported
            if delta > 0:
                self.reported += delta
                self.progress.moved(delta)

    return MeterCallback


def _MeterCallback(progress: meter.ObjectMeter) -> Any:  # noqa: N802 - reads as the class it makes
    return _meter_callback_class()(progress)


class FsspecRemote:
    max_parallel: int | None = None  # the Remote protocol's: no cap of its own
    cheap_fetches = False
    serial_small = False

    def __init__(self, url: str, options: dict | None = None) -> None:
        options = dict(options or {})
        self.url = shown_url(url)
        self.scheme = scheme_of_url(url)
        self.retry = RetryPolicy.from_options(self.url, options)
        self.fs, self.root = open_filesystem(url, options)
        _quiet_logs(self.fs)
        self.objects = f"{self.root}/objects" if self.root else "objects"
        self.tmp = f"{self.root}/tmp" if self.root else "tmp"
        self._lock = threading.Lock()
        self._checked = False
        self._dead: DeadEndpoint[RemoteError] = DeadEndpoint(self.retry.tries)  # connection failures in a row
        self._made_dirs: set[str] = set()

    def path(self, oid: str) -> str:
        if not is_valid_oid(oid):  # the path is built from the oid: nothing else may get in
            raise FatalError(f"invalid object id {oid!r}")
        return f"{self.objects}/{oid[0:2]}/{oid[2:4]}/{oid}"

    # -- errors ------------------------------------------------------------------------------

    def _error(self, exc: BaseException, what: str) -> RemoteError:
        if isinstance(exc, RemoteError):
            return exc
        if _is_denied(exc):
            return RemoteError(f"remote {self.url}: access denied while trying to {what}; the credentials "
                               "were rejected or allow less (check the remote's options and environment)")
        if _is_connection_failure(exc):
            error = RemoteError(f"remote {self.url}: cannot connect while trying to {what} "
                                f"({type(exc).__name__})", transient=True)
            if self._dead.failed(error):  # one object has spent the transfer's tries: no more
                return RemoteError(str(error))
            return error
        return RemoteError(f"remote {self.url}: cannot {what}: {_describe(exc)}",
                           transient=isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError))

    def _succeeded(self) -> None:
        self._dead.succeeded()

    def _check_top(self) -> None:
        """Once per remote: a bucket, container or top folder that does not exist is one line
        for the whole transfer, not a failure per object."""
        if self._dead.reason is not None:
            raise RemoteError(str(self._dead.reason))
        if self._checked:
            return
        top = self.root.lstrip("/").split("/", 1)[0] if self.scheme in BUCKET_PROTOCOLS else ""
        if top:  # file systems with folders (WebDAV, HDFS, local) get theirs made on upload
            try:
                there = self.fs.exists(top)
            except Exception as exc:  # noqa: BLE001
                raise self._error(exc, f"look for {top!r}") from None
            if not there:
                raise RemoteError(f"remote {self.url}: bucket {top!r} does not exist")
        self._succeeded()
        self._checked = True

    # -- Remote ------------------------------------------------------------------------------

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        wanted = sorted({s.oid for s in stubs})
        if not wanted:
            return set()
        self._check_top()
        self.fs.invalidate_cache()  # listings cached by an earlier call may predate an upload
        if len(wanted) <= EXISTS_LIMIT:
            with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
                found = list(pool.map(self._exists, wanted))
            return {oid for oid, there in zip(wanted, found) if there}
        return self._list_present(set(wanted))

    def _exists(self, oid: str) -> bool:
        try:
            return bool(self.fs.exists(self.path(oid)))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"look for object {oid}") from None

    def _list_present(self, wanted: set[str]) -> set[str]:
        found: set[str] = set()
        for first in sorted({oid[:2] for oid in wanted}):
            prefix = f"{self.objects}/{first}"
            try:
                names = self.fs.find(prefix)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001
                raise self._error(exc, f"list {prefix}") from None
            found.update(oid for oid in (str(n).rstrip("/").rsplit("/", 1)[-1] for n in names) if oid in wanted)
        return found

    def download(self, stub: Stub, store: ObjectStore) -> None:
        self._check_top()
        path = self.path(stub.oid)
        limit = object_file_bound(stub.size)
        progress = meter.current()
        try:
            with self.fs.open(path, "rb", block_size=CHUNK * 4) as source:
                length = getattr(source, "size", None)
                if isinstance(length, int) and length > limit:
                    raise CorruptObject(stub.oid, f"the remote offers {length} bytes for a {stub.size}-byte object")
                progress.expect(length if isinstance(length, int) else None)
                reader = meter.MeteredReader(source, progress)
                store.import_object(BoundedReader(reader, stub, limit), stub)  # type: ignore[arg-type]
        except CorruptObject as exc:
            raise RemoteCorruptObject(self.url, exc) from None
        except FatalError:
            raise
        except FileNotFoundError:
            raise RemoteObjectMissing(stub.oid, self.url) from None
        except OSError as exc:
            if local_store_failure(exc, store):  # our disk, not the remote: retrying cannot help
                raise RemoteError(f"cannot write object {stub.oid} into the local store: {exc}") from None
            raise self._error(exc, f"download object {stub.oid}") from None
        except Exception as exc:  # noqa: BLE001 - each implementation raises its own
            raise self._error(exc, f"download object {stub.oid}") from None
        self._succeeded()

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        self._check_top()
        final = self.path(stub.oid)
        tmp = f"{self.tmp}/{stub.oid}.{uuid.uuid4().hex}"
        progress = meter.current()
        if self.scheme in BUCKET_PROTOCOLS:
            self._put_object(stub, store, final, progress)
            return
        with store.open_upload(stub) as source:  # ObjectMissing when it is not local
            try:
                progress.expect(store.stored_bytes(stub.oid))
                self._makedirs(self.tmp)
                with self.fs.open(tmp, "wb") as out:
                    for block in iter(lambda: source.read(CHUNK), b""):
                        out.write(block)
                        progress.moved(len(block))
                self._makedirs(final.rsplit("/", 1)[0])
                self._move(tmp, final)
            except FatalError:  # CorruptUpload: the local copy is bad, nothing is published
                self._remove_quietly(tmp)
                raise
            except Exception as exc:  # noqa: BLE001
                self._remove_quietly(tmp)
                raise self._error(exc, f"upload object {stub.oid}") from None
        self._succeeded()

    def _put_object(self, stub: Stub, store: ObjectStore, final: str, progress: meter.ObjectMeter) -> None:
        """An object store's own upload (one request, or a resumable or block upload for a big
        object), which creates the object only once it is complete. A buffered file of fsspec
        would not do: closing it, even from an exception or the garbage collector, commits what
        was written so far."""
        with store.open_upload(stub) as source:  # ObjectMissing names the oid
            source.check_all()  # CorruptUpload: a damaged local object is never sent
        path = store.object_path(stub.oid)  # fsspec's put_file reads it by path
        progress.expect(store.stored_bytes(stub.oid))
        try:
            self.fs.put_file(str(path), final, callback=_MeterCallback(progress))
        except FatalError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"upload object {stub.oid}") from None
        self._succeeded()

    def _makedirs(self, path: str) -> None:
        """Folders for file systems that have them (WebDAV, HDFS, local); object stores have
        none and take this as nothing to do. Once per folder per remote."""
        if path in self._made_dirs:
            return
        self.fs.makedirs(path, exist_ok=True)
        self._made_dirs.add(path)

    def _move(self, tmp: str, final: str) -> None:
        try:
            self.fs.mv(tmp, final)
        except FileExistsError:  # another uploader was first: same name, same bytes
            self._remove_quietly(tmp)

    def _remove_quietly(self, path: str) -> None:
        try:
            self.fs.rm(path)
        except Exception:  # noqa: BLE001 - best effort: a left-over temp file is only space
            pass

    def close(self) -> None:
        pass
