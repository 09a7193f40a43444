"""Downloads that look for a missing object on every remote this clone knows before giving up
(issue 11, item 4): the default first, then the other configured remotes, the remotes learned
from earlier team files (remotes/learned.py) and the store that goes with origin. Uploads,
listings and everything else go to the default remote only."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Iterable

from gitdatax.errors import FatalError, ObjectMissing
from gitdatax.remotes.base import Remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub

if TYPE_CHECKING:
    from gitdatax.remotes.remote_config import ConfiguredRemote


class FallbackRemote:
    """A Remote: the primary's, but for downloads of objects it lacks."""

    def __init__(self, primary: Remote, others: list[ConfiguredRemote]) -> None:
        self.primary = primary
        self.url = primary.url
        self.max_parallel = primary.max_parallel
        self.cheap_fetches = primary.cheap_fetches
        self.serial_small = primary.serial_small
        self.retry = primary.retry  # one download, whichever remote it comes from, is one unit of work
        self._others = others  # opened on first need
        self._opened: dict[str, Remote | None] = {}
        self._lock = threading.Lock()

    def has_many(self, stubs: Iterable[Stub]) -> set[str]:
        return self.primary.has_many(stubs)

    def upload(self, stub: Stub, store: ObjectStore) -> None:
        self.primary.upload(stub, store)

    def _open(self, configured: ConfiguredRemote) -> Remote | None:
        from gitdatax.remotes import open_remote

        with self._lock:
            if configured.url not in self._opened:
                try:
                    self._opened[configured.url] = open_remote(configured.url, configured.options)
                except FatalError:
                    self._opened[configured.url] = None  # unusable here: the others may do
            return self._opened[configured.url]

    def download(self, stub: Stub, store: ObjectStore) -> None:
        try:
            self.primary.download(stub, store)
            return
        except ObjectMissing as missing:
            first = missing
        for configured in self._others:
            remote = self._open(configured)
            if remote is None:
                continue
            try:
                remote.download(stub, store)
                return
            except (ObjectMissing, FatalError):
                continue  # not there, or that remote cannot be reached now: the next one
        raise first

    def close(self) -> None:
        self.primary.close()
        for remote in self._opened.values():
            if remote is not None:
                remote.close()


def open_for_download(name: str | None, cwd: str | os.PathLike[str] | None = None) -> Remote:
    """The remote called `name`; for None, the default with every other remote this clone knows
    behind it for the objects it lacks (a remote named by the user is asked alone)."""
    from gitdatax import git
    from gitdatax.remotes import learned, open_remote
    from gitdatax.remotes.remote_config import ConfiguredRemote, derive_from_git_remote, load, resolve

    primary = resolve(name, cwd)
    opened = open_remote(primary.url, primary.options)
    if name is not None:
        return opened
    table = load(cwd)
    others: dict[str, ConfiguredRemote] = {}
    for remote in table.remotes.values():
        others.setdefault(remote.url, remote)
    for remote in learned.read(git.repo_paths(cwd).common_dir):
        others.setdefault(remote.url, ConfiguredRemote(remote.name, remote.url, remote.options, "learned"))
    origin_url = table.entries.get("remote.origin.url")
    if origin_url:
        try:
            derived = derive_from_git_remote(origin_url, table.entries, "origin", cwd)
            others.setdefault(derived.url, derived)
        except FatalError:
            pass
    others.pop(primary.url, None)
    return FallbackRemote(opened, list(others.values())) if others else opened
