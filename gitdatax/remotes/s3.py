"""S3 and S3-compatible object storage (AWS, MinIO, Ceph, R2) through boto3.

URL `s3://BUCKET/PREFIX`; options `endpoint_url`, `region`, `profile`, `multipart_threshold`
(from .datax.toml or `git config datax.remote.NAME.*`). Credentials come from boto3's standard
chain (environment, profile files, SSO, instance roles) and are never printed: every message
here is built from the URL, the oid and S3's error code only.

Objects are the local store's compressed files under `PREFIX/objects/ab/cd/<oid>`, the same
layout as a directory store; the chunks of large objects are in packs under `PREFIX/chunks/`
(s3_packs.py), sent before the manifest that names them. A PUT is atomic in S3 (a multipart upload too, once completed), so a
reader never sees a partial object; two uploaders of one object write the same bytes.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable
from urllib.parse import urlparse

from gitdatax.config import parse_size
from gitdatax.errors import CorruptObject, FatalError
from gitdatax.remotes import meter
from gitdatax.remotes.base import (DeadEndpoint, RemoteCorruptObject, RemoteError, RemoteObjectMissing, RetryPolicy,
                                  SilentEndpoint, local_store_failure)
from gitdatax.remotes.limits import BoundedReader
from gitdatax.remotes.s3_body import ResumingBody
from gitdatax.store.objectfile import object_file_bound
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.pack_exchange import RemotePacks
from gitdatax.stub import Stub, is_valid_oid

DEFAULT_MULTIPART_THRESHOLD = 64 << 20
MULTIPART_CHUNK = 16 << 20
HEAD_LIMIT = 256  # up to this many oids: HEAD each (in parallel); more: list the key prefixes
_TRANSIENT_CODES = {"500", "502", "503", "504", "InternalError", "SlowDown", "RequestTimeout",
                    "ServiceUnavailable", "RequestTimeTooSkewed", "Throttling", "ThrottlingException"}


class S3Remote:
    max_parallel: int | None = None  # the Remote protocol's: no cap of its own
    cheap_fetches = False
    serial_small = False

    def __init__(self, url: str, options: dict | None = None) -> None:
        options = options or {}
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise FatalError(f"remote {url}: expected s3://BUCKET/PREFIX")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.objects_prefix = f"{self.prefix}/objects/" if self.prefix else "objects/"
        threshold = options.get("multipart_threshold")
        self.multipart_threshold = (
            DEFAULT_MULTIPART_THRESHOLD if threshold is None
            else parse_size(str(threshold), setting=f"multipart_threshold of {url}")
        )
        self.endpoint_url = options.get("endpoint_url") or None
        self.retry = RetryPolicy.from_options(url, options)
        self._checked = False
        # head_bucket calls that could not connect
        self._dead: DeadEndpoint[Exception] = DeadEndpoint(after=self.retry.tries)
        # ... and requests that time out on an endpoint that accepts connections but answers none
        self._silent = SilentEndpoint(self.retry.tries * self.retry.timeout)
        self._lock = threading.Lock()
        self._packs: RemotePacks | None = None
        self._client = self._make_client(options)

    def _make_client(self, options: dict) -> Any:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError:
            raise FatalError(f"remote {self.url}: S3 needs boto3 (pip install 'gitdatax[s3]')") from None
        try:
            session = boto3.session.Session(profile_name=options.get("profile") or None,
                                            region_name=options.get("region") or None)
        except botocore.exceptions.ProfileNotFound:
            raise RemoteError(f"remote {self.url}: AWS profile {options.get('profile')!r} not found") from None
        config = botocore.config.Config(
            max_pool_connections=32, connect_timeout=min(10, self.retry.timeout), read_timeout=self.retry.timeout,
            # The transfer layer retries (RetryPolicy): a retry here too would multiply its tries.
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        client = session.client("s3", endpoint_url=self.endpoint_url, config=config)
        # Every request of every operation (and of s3transfer's threads) is timed for the
        # SilentEndpoint: waiting from its send until its response (or its failure, whose
        # needs-retry event botocore emits either way). Each handler returns None, as botocore
        # asks (a value from before-send would be taken for the response).
        events = client.meta.events
        events.register("before-send.s3", lambda **_: self._silent.begin(), unique_id="datax-silent-begin")
        events.register("before-parse.s3", lambda **_: self._silent.heard(), unique_id="datax-silent-heard")
        events.register("needs-retry.s3", lambda **_: self._silent.end(), unique_id="datax-silent-end")
        return client

    def key(self, oid: str) -> str:
        if not is_valid_oid(oid):  # the key is built from the oid: nothing else may get in
            raise FatalError(f"invalid object id {oid!r}")
        return f"{self.objects_prefix}{oid[0:2]}/{oid[2:4]}/{oid}"

    # -- errors ------------------------------------------------------------------------------

    def _error(self, exc: Exception, what: str, oid: str | None = None) -> Exception:
        """A RemoteError (RemoteObjectMissing for an absent object) for a botocore/boto3 exception; never with secrets."""
        import boto3.exceptions
        import botocore.exceptions as bx

        if isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "")) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in ("NoSuchKey", "404", "NotFound") and oid is not None:
                return RemoteObjectMissing(oid, self.url)  # the bucket's lack, not the local store's
            if code == "NoSuchBucket":
                return RemoteError(f"remote {self.url}: bucket {self.bucket!r} does not exist")
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
                return RemoteError(f"remote {self.url}: access denied ({code}) while trying to {what}; "
                                   "check the credentials or the profile")
            message = str(err.get("Message", "")).strip()
            return RemoteError(f"remote {self.url}: cannot {what}: {code}{': ' + message if message else ''}",
                               transient=code in _TRANSIENT_CODES)
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return RemoteError(f"remote {self.url}: no AWS credentials found (set AWS_PROFILE or "
                               "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the remote's `profile` option)")
        if isinstance(exc, bx.EndpointConnectionError):
            return RemoteError(f"remote {self.url}: cannot connect to {self.endpoint_url or 'S3'}", transient=True)
        if isinstance(exc, bx.ReadTimeoutError):
            why = f"no answer from {self.endpoint_url or 'S3'} in {self.retry.timeout:g} s"
            if self._silent.timed_out(why) is not None:  # not transient: no more tries
                return RemoteError(f"remote {self.url}: {self._silent.reason}")
            return RemoteError(f"remote {self.url}: {why} while trying to {what}", transient=True)
        import http.client

        import urllib3.exceptions

        # A body cut mid-stream surfaces from urllib3 itself, not wrapped by botocore.
        if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError, bx.IncompleteReadError,
                            bx.ResponseStreamingError, bx.ReadTimeoutError, urllib3.exceptions.HTTPError,
                            http.client.HTTPException)):
            return RemoteError(f"remote {self.url}: connection failed while trying to {what} "
                               f"({type(exc).__name__})", transient=True)
        if isinstance(exc, boto3.exceptions.S3UploadFailedError):
            text = str(exc)
            for code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                if code in text:
                    return self._error(bx.ClientError({"Error": {"Code": code}}, "PutObject"), what, oid)
            return RemoteError(f"remote {self.url}: cannot {what}: upload failed", transient=True)
        if isinstance(exc, OSError):
            return RemoteError(f"remote {self.url}: cannot {what}: {exc}", transient=True)
        return exc

    def _check_bucket(self) -> None:
        """Once per remote: a missing bucket is one clear line, not a failure per object."""
        if self._silent.reason is not None:  # see SilentEndpoint: no more waiting on it
            raise RemoteError(f"remote {self.url}: {self._silent.reason}")
        if self._checked:
            return
        with self._lock:
            if self._checked:
                return
            if self._dead.reason is not None:  # see below: no more waiting on a dead endpoint
                raise RemoteError(str(self._dead.reason))
            import botocore.exceptions as bx

            try:
                self._client.head_bucket(Bucket=self.bucket)
            except bx.ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("404", "NoSuchBucket", "NotFound"):
                    raise RemoteError(f"remote {self.url}: bucket {self.bucket!r} does not exist") from None
                if code not in ("403", "AccessDenied"):  # HeadBucket needs ListBucket; objects may not
                    raise self._error(exc, f"reach bucket {self.bucket!r}") from None
            except Exception as exc:  # noqa: BLE001 - mapped, or re-raised as is
                error = self._error(exc, f"reach bucket {self.bucket!r}")
                if isinstance(exc, bx.EndpointConnectionError):
                    # Once one object has spent its tries on a dead endpoint, the others fail
                    # at once: thousands of objects must not each wait out a round.
                    if self._dead.failed(error):
                        error = RemoteError(str(self._dead.reason))
                raise error from None
            self._checked = True

    # -- Remote ------------------------------------------------------------------------------

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        wanted = {s.oid for s in stubs}
        if not wanted:
            return set()
        self._check_bucket()
        if len(wanted) <= HEAD_LIMIT:
            with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
                found = list(pool.map(self._exists, sorted(wanted)))
            return {oid for oid, there in zip(sorted(wanted), found) if there}
        return self._list_present(wanted)

    def _exists(self, oid: str) -> bool:
        import botocore.exceptions as bx

        try:
            self._client.head_object(Bucket=self.bucket, Key=self.key(oid))
            return True
        except bx.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error(exc, f"look for object {oid}") from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"look for object {oid}") from None

    def _list_present(self, wanted: set[str]) -> set[str]:
        found: set[str] = set()
        paginator = self._client.get_paginator("list_objects_v2")
        for first in sorted({oid[:2] for oid in wanted}):
            prefix = f"{self.objects_prefix}{first}/"
            try:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                    for item in page.get("Contents", ()):
                        oid = item["Key"].rsplit("/", 1)[-1]
                        if oid in wanted:
                            found.add(oid)
            except Exception as exc:  # noqa: BLE001
                raise self._error(exc, f"list {prefix}") from None
        return found

    def download(self, stub: Stub, store: ObjectStore) -> None:
        self._check_bucket()
        limit = object_file_bound(stub.size)
        try:
            key = self.key(stub.oid)
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            length = int(response.get("ContentLength") or 0)
            if length > limit:
                response["Body"].close()
                raise CorruptObject(stub.oid, f"the remote offers {length} bytes for a {stub.size}-byte object")

            def rest(start: int, etag: str | None) -> dict:
                extra = {"IfMatch": etag} if etag else {}
                return self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-", **extra)

            # Read to ContentLength ourselves: a cut connection may look like the end (s3_body.py)
            progress = meter.current()
            progress.expect(length or None)
            with ResumingBody(response, rest, lambda exc: self._error(exc, f"download object {stub.oid}", stub.oid),
                              f"remote {self.url}: download of object {stub.oid}", self.retry.tries_now()) as body:
                reader = meter.MeteredReader(body, progress)  # type: ignore[arg-type]
                store.import_object(BoundedReader(reader, stub, limit), stub,  # type: ignore[arg-type]
                                    chunks=self.chunk_packs(store))
        except CorruptObject as exc:
            raise RemoteCorruptObject(self.url, exc) from None
        except FatalError:
            raise
        except OSError as exc:
            if local_store_failure(exc, store):
                raise RemoteError(f"cannot write object {stub.oid} into the local store: {exc}") from None
            raise self._error(exc, f"download object {stub.oid}", stub.oid) from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"download object {stub.oid}", stub.oid) from None

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        from boto3.s3.transfer import TransferConfig

        self._check_bucket()
        config = TransferConfig(multipart_threshold=self.multipart_threshold,
                                multipart_chunksize=MULTIPART_CHUNK, max_concurrency=4)
        progress = meter.current()  # boto3 reports from its own threads: take this thread's now
        try:
            # A chunked object: the chunks the bucket lacks first, in packs (pack_exchange.py)
            store.send_chunks(stub.oid, self.chunk_packs(store))
            with store.open_upload(stub) as source:  # CorruptUpload before a corrupt object is whole there
                progress.expect(store.stored_bytes(stub.oid))
                self._client.upload_fileobj(source, self.bucket, self.key(stub.oid), Config=config,
                                            ExtraArgs={"ContentType": "application/zstd"},
                                            Callback=lambda sent: self._sent(progress, sent))
        except FatalError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"upload object {stub.oid}") from None

    def _sent(self, progress: meter.ObjectMeter, sent: int) -> None:
        """s3transfer's callback as an upload's bytes go: the bar moves, and the endpoint is
        alive (a request's wait includes sending its body, when nothing can come back)."""
        progress.moved(sent)
        self._silent.heard()

    def chunk_packs(self, store: ObjectStore) -> RemotePacks:
        """The bucket's chunk packs, seen through the indexes cached in `store` (made once)."""
        with self._lock:
            if self._packs is None:
                from gitdatax.remotes.s3_packs import S3PackFiles

                self._packs = RemotePacks.for_store(S3PackFiles(self), store.root, self.url, store.level)
            return self._packs

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - older botocore has no close()
            pass
