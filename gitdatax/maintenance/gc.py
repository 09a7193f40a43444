"""Freeing local space without losing anything that is not safe elsewhere.

An object may be deleted only when nothing that could be checked out without a network needs it
and the default remote holds a copy. Kept, whatever their age:
  - the work tree's stub files, the index of every worktree, the HEAD of every worktree;
  - every local branch tip; every stash entry (refs/stash and its reflog);
  - every commit newer than --keep-days (committer date), reachable from any ref;
  - every commit not reachable from a remote-tracking ref (not pushed), and its whole tree;
and then only objects the remote confirms it has (has_many) are deleted.
"""
from __future__ import annotations

import os
import time
from typing import Callable, NamedTuple

from gitdatax import git

from gitdatax.scan import reachable

from gitdatax.sync import transfer
from gitdatax.remotes.base import Remote
from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store import tmpfiles
from gitdatax.store.chunk_maintenance import PrunedChunks
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub

# Why an object is kept, in the order the checks run (the first reason found is reported).
STALE_TMP_SECONDS = 3600  # a tmp/ file with no pid in its name, unchanged this long, is left over
REASONS = ("work tree", "index", "HEAD", "branch tip", "stash", "recent commit", "unpushed commit",
           "written recently")
# An object written less than this long ago stays whatever references it, as git's
# gc.pruneExpire keeps young loose objects: a `git add` under way has written objects that are in
# no index yet (issue 11, item 10).
DEFAULT_GRACE_HOURS = 1.0


class GcPlan(NamedTuple):
    local: list[str]  # every object in the store
    needed: dict[str, str]  # oid -> why it is kept (one of REASONS)
    unneeded: list[Stub]  # not needed by anything local
    deletable: list[Stub]  # unneeded and confirmed on the remote
    remote_url: str | None
    paths: dict[str, str]  # oid -> a path that held it in history, for messages
    mtimes: dict[str, int] = {}  # oid -> st_mtime_ns of each unneeded object's file when planned
    cutoff: float = 0.0  # what was written after this (time.time()) is in its grace period


def _commits_by_reason(keep_days: float, now: float, cwd: str | os.PathLike[str] | None) -> dict[str, list[str]]:
    heads = reachable.worktree_heads(cwd)
    tips = git.output(["for-each-ref", "--format=%(objectname)", "refs/heads/"], cwd=cwd).split()
    cutoff = now - keep_days * 86400
    recent = []
    for line in git.output(["rev-list", "--all", "--timestamp"], cwd=cwd).splitlines():
        stamp, _, commit = line.partition(" ")
        if int(stamp) >= cutoff:
            recent.append(commit)
    unpushed = git.output(["rev-list", "--all", "--not", "--remotes"], cwd=cwd).split()
    return {"HEAD": heads, "branch tip": tips, "stash": reachable.stash_commits(cwd),
            "recent commit": recent, "unpushed commit": unpushed}


def needed_objects(keep_days: float, *, now: float | None = None,
                   cwd: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """oid -> the first reason it must stay."""
    needed: dict[str, str] = {}

    def add(refs: dict[str, reachable.StubRef], reason: str) -> None:
        for oid in refs:
            needed.setdefault(oid, reason)

    add(reachable.in_work_tree(cwd), "work tree")
    for index in reachable.index_files(cwd):
        add(reachable.in_index(index, "index", cwd), "index")
    seen: set[str] = set()
    for reason, commits in _commits_by_reason(keep_days, time.time() if now is None else now, cwd).items():
        todo = [c for c in dict.fromkeys(commits) if c not in seen]
        seen.update(todo)
        if todo:
            add(reachable.in_commits(["--no-walk"], reason, stdin_revs=todo, cwd=cwd), reason)
    return needed


def content_size(store: ObjectStore, oid: str) -> int | None:
    """The content size of an object no stub names; None when unreadable (fsck's business,
    never a reason to delete)."""
    try:
        return store.content_size(oid)
    except (ObjectMissing, CorruptObject):
        return None


def plan(store: ObjectStore, keep_days: float, open_remote: Callable[[], Remote], *,
         cwd: str | os.PathLike[str] | None = None, grace_hours: float = DEFAULT_GRACE_HOURS,
         now: float | None = None) -> GcPlan:
    """What gc would delete. Opens the remote only when something could be deleted."""
    local = list(store.iter_oids())
    now = time.time() if now is None else now
    needed = needed_objects(keep_days, now=now, cwd=cwd)
    cutoff = now - grace_hours * 3600
    mtimes: dict[str, int] = {}
    for oid in local:
        if oid not in needed:
            mtime = _mtime_if_older(store, oid, cutoff)
            if mtime is None:
                needed[oid] = "written recently"
            else:
                mtimes[oid] = mtime
    candidates = [oid for oid in local if oid not in needed]
    if not candidates:
        return GcPlan(local, needed, [], [], None, {}, {}, cutoff)
    # Remotes want the size with the oid (the LFS batch API does): the stubs in history have it.
    known = reachable.in_commits(["--all"], "history", cwd=cwd)
    paths = {oid: ref.path for oid, ref in known.items()}
    unneeded = []
    for oid in candidates:
        size = known[oid].stub.size if oid in known else content_size(store, oid)
        if size is not None:
            unneeded.append(Stub(oid, size))
    remote = open_remote()
    try:
        on_remote = transfer.remote_has(remote, unneeded) if unneeded else set()
    finally:
        remote.close()
    deletable = [s for s in unneeded if s.oid in on_remote]
    return GcPlan(local, needed, unneeded, deletable, remote.url, paths, mtimes, cutoff)


def _mtime_if_older(store: ObjectStore, oid: str, cutoff: float) -> int | None:
    """The object file's st_mtime_ns, or None when it was written, linked in or used after
    `cutoff`: its mtime (set by a write, and by a clean that found it stored: keep_present), or
    its ctime, which a hard link or a rename into place also sets. -1 when it is unreadable."""
    try:
        st = os.stat(store.object_path(oid))
    except OSError:
        return -1
    return None if max(st.st_mtime, st.st_ctime) > cutoff else st.st_mtime_ns


def execute(store: ObjectStore, gc_plan: GcPlan) -> int:
    """Delete the deletable objects, then the chunk packs no remaining object needs (a pack
    mostly unneeded is rewritten with what is); the compressed bytes freed. An object a `git
    add` found stored since the plan was made (and so did not write: it touched it) stays."""
    freed = sum(store.delete(stub.oid, planned_mtime=gc_plan.mtimes.get(stub.oid, -1)) for stub in gc_plan.deletable)
    return freed + store.prune_chunks(written_before=gc_plan.cutoff).bytes_freed


def chunks_to_prune(store: ObjectStore, gc_plan: GcPlan) -> PrunedChunks:
    """What execute would do to the chunk packs once the deletable objects are gone (dry run)."""
    return store.prune_chunks(dry_run=True, ignoring={stub.oid for stub in gc_plan.deletable},
                              written_before=gc_plan.cutoff)


class Leftover(NamedTuple):
    name: str  # in tmp/
    size: int
    why: str  # "left by process 123, no longer running" or "unchanged for over an hour"


def remove_stale_tmp(store: ObjectStore, *, dry_run: bool = False, now: float | None = None) -> list[Leftover]:
    """Remove what interrupted writes left in tmp/ (a filter or a download killed half way):
    files whose writer, named by the pid in the file name, is gone; files without a pid that
    have not changed for an hour (as git-lfs does with its tmp/). Returns what went (or, with
    dry_run, would go)."""
    from gitdatax.filter.background_writer import _alive

    cutoff = (time.time() if now is None else now) - STALE_TMP_SECONDS
    found = []
    try:
        entries = list(os.scandir(store.tmp_dir))
    except OSError:
        return []
    for entry in sorted(entries, key=lambda e: e.name):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        pid = tmpfiles.writer_pid(entry.name)
        if pid is not None:
            if pid == os.getpid() or _alive(pid):
                continue
            why = f"left by process {pid}, no longer running"
        elif max(st.st_mtime, st.st_ctime) > cutoff:
            continue
        else:
            why = "unchanged for over an hour"
        if not dry_run:
            try:
                os.unlink(entry.path)
            except OSError:  # a folder, or gone already: not ours to force
                continue
        found.append(Leftover(entry.name, st.st_size, why))
    return found


def stored_bytes(store: ObjectStore, oids: list[str]) -> int:
    """What `oids` take in the store, compressed (what deleting them frees)."""
    return sum(store.stored_bytes(oid) for oid in oids)
