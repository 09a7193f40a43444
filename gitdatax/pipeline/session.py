"""What every pipeline command works with: the work tree's top, its pipeline, the store, the
stat cache, and the lock that keeps two `repro` in one work tree from running at once."""
from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gitdatax import git
from gitdatax.errors import FatalError
from gitdatax.pipeline.hashing import CACHE_NAME, StatCache, WorkTreeHasher
from gitdatax.pipeline.index_oids import IndexOids
from gitdatax.pipeline.lock import LockEntry, read_lock
from gitdatax.pipeline.model import DATAX_FILE, DVC_FILE, Pipeline
from gitdatax.pipeline.parsed_cache import ParsedCache
from gitdatax.pipeline.spec import find_pipeline_file, parse_pipeline

if TYPE_CHECKING:
    from gitdatax.store.objectstore import ObjectStore

REPRO_LOCK = "repro.lock"
PARSED_CACHE = "pipeline-parsed"


class Session:
    def __init__(self, cwd: str | os.PathLike[str] | None = None, pipeline: Pipeline | None = None) -> None:
        paths = git.repo_paths(cwd)
        if paths.toplevel is None:
            raise FatalError("repro needs a work tree (this is a bare repository)")
        self.top = paths.toplevel
        self.git_dir = paths.git_dir
        self.store_root = paths.common_dir / "datax"
        # Per work tree (git dir, not common dir): linked worktrees have files of their own.
        self.private = self.git_dir / "datax"
        self.parsed = ParsedCache(self.private / PARSED_CACHE)
        loaded = pipeline or self._load_pipeline()
        if loaded is None:
            raise FatalError("no datax.yaml (nor dvc.yaml) at the top of the work tree: "
                             "`git datax stage add -n NAME ... COMMAND` creates one")
        self.pipeline = loaded
        self.hasher = WorkTreeHasher(self.top, StatCache(self.private / CACHE_NAME),
                                     IndexOids(self.top, self.store_root))

    def _load_pipeline(self) -> Pipeline | None:
        if find_pipeline_file(self.top) is None:
            return None

        def build(note: Callable[[str], None]) -> Pipeline:
            note(DATAX_FILE)
            note(DVC_FILE)  # a datax.yaml appearing beside a dvc.yaml changes which is read

            def read_file(rel: str) -> bytes | None:
                note(rel)
                try:
                    return (self.top / rel).read_bytes()
                except OSError:
                    return None

            found = find_pipeline_file(self.top)
            assert found is not None
            return parse_pipeline(found.read_bytes(), found.name, read_file)

        return self.parsed.cached("pipeline", self.top, build)

    def read_lock(self) -> dict[str, LockEntry]:
        name = self.pipeline.lock_path

        def build(note: Callable[[str], None]) -> dict[str, LockEntry]:
            note(name)
            return read_lock(self.top, name)

        return dict(self.parsed.cached("lock", self.top, build))

    @cached_property
    def store(self) -> ObjectStore:
        from gitdatax.store.objectstore import ObjectStore

        return ObjectStore(self.store_root)

    def scratch_root(self) -> Path:
        """Where outs wait while their stage runs: in the git dir, on the work tree's file
        system (os.replace cannot cross file systems)."""
        folder = self.private / "aside"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One repro per work tree; the second says who holds the lock. flock is released by
        the kernel when the holder dies, so a crash leaves no stale lock."""
        self.private.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.private / REPRO_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise FatalError(f"another `git datax repro` (pid {holder}) holds the lock on this work tree; "
                                 "wait for it to finish") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)
