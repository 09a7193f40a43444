"""Downloads for the filter process: objects a checkout needs that the local store lacks.

The remote (the default one, see remote_config) is opened on the first missing object only, so a
checkout that finds everything locally never reads remote settings or imports a backend. Git
offers `delay` during clone and checkout: then downloads run in a thread pool while git carries on
(`submit`); elsewhere (merge, reset, checkout-index) one object is fetched at a time (`__call__`).
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from gitdatax.errors import FatalError, NoRemoteConfigured
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub

if TYPE_CHECKING:  # concurrent.futures imports logging: keep it off the filter's start-up
    from concurrent.futures import Future, ThreadPoolExecutor

    from gitdatax.remotes.base import Remote

CHEAP_FETCH_MAX = 4 << 20  # larger objects are worth a background fetch even from a local store


class RemoteFetcher:
    def __init__(self, store: ObjectStore, remote_name: str | None = None) -> None:
        self.store = store
        self.remote_name = remote_name
        self._remote: Remote | None = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[str, Future[None]] = {}
        self._told: set[str] = set()  # the causes of slow retries already shown

    def remote(self) -> Remote | None:
        """The opened remote, or None when there is none (the reason is in `error`)."""
        with self._lock:
            if self._remote is None and self._error is None:
                from gitdatax.remotes.fallback import open_for_download

                try:
                    self._remote = open_for_download(self.remote_name)
                except NoRemoteConfigured as exc:  # nothing configured: each file's message says enough
                    self._error = str(exc)
                    return None
                except FatalError as exc:  # settings refused, a remote unusable: say why, once
                    self._error = str(exc)
                    from gitdatax import output

                    output.warn(f"cannot fetch missing objects: {exc}")
            return self._remote

    @property
    def error(self) -> str | None:
        return self._error

    def _download(self, stub: Stub, remote: Remote, *, known_missing: bool = False) -> None:
        if known_missing or not self.store.has(stub.oid):
            remote.retry.run(lambda: remote.download(stub, self.store), self._slow_retry)

    def _slow_retry(self, error: Exception, attempt: int) -> None:
        """A checkout waiting on a stalled remote says so, once per cause (as transfers do)."""
        import os

        from gitdatax import output

        with self._lock:
            if str(error) in self._told or os.environ.get("GIT_DATAX_QUIET"):
                return
            self._told.add(str(error))
        assert self._remote is not None
        output.warn(f"{error}; trying again (try {attempt} of {self._remote.retry.tries})")

    def __call__(self, pathname: str, stub: Stub) -> bool:
        """Fetch now (the filter's `fetch_missing`). True when the object is in the store, False
        when there is no remote; raises with the reason when the download fails, so the filter
        can name file and oid."""
        remote = self.remote()
        if remote is None:
            return False
        self._download(stub, remote, known_missing=True)  # the filter looked just before
        return self.store.has(stub.oid)

    def fetches_cheaply(self, stub: Stub) -> bool:
        """Whether fetching this object now costs less than delaying it: a small object from a
        store on this file system (a link and a re-hash), where the round trip through git's
        `delay` (answer, list, ask again) would cost more than the fetch itself."""
        if stub.size > CHEAP_FETCH_MAX:
            return False
        remote = self.remote()
        return remote is not None and remote.cheap_fetches

    def submit(self, pathname: str, stub: Stub) -> Future[None] | None:
        """Start fetching in the background (the filter's `fetch_later`); one download per oid
        however many paths share it. The future raises with the reason when it fails. None when
        there is no remote to fetch from."""
        remote = self.remote()
        if remote is None:
            return None
        with self._lock:
            if stub.oid in self._inflight:
                return self._inflight[stub.oid]
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                from gitdatax.sync.transfer import jobs_for

                try:
                    jobs = jobs_for(remote)
                except FatalError:
                    jobs = 8
                self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="datax-fetch")
            future = self._pool.submit(self._download, stub, remote)
            self._inflight[stub.oid] = future
            return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._remote is not None:
            try:
                self._remote.close()
            except Exception:  # noqa: BLE001 - closing must not fail the checkout
                pass
