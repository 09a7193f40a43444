"""Checking that the data is intact: every local object re-hashed, every referenced object present.

A corrupt object is moved to datax/bad/ (kept for inspection, out of the way of checkouts, so a
later pull can bring a good copy). References are looked for where a checkout would need them:
the work tree (files still holding a stub), the index, HEAD, or every reachable commit.
"""
from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, NamedTuple

from gitdatax import git, output

from gitdatax.scan import reachable

from gitdatax.sync import transfer
from gitdatax.remotes.base import Remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


class Corrupt(NamedTuple):
    oid: str
    why: str
    moved_to: Path


class FsckResult(NamedTuple):
    verified: int
    verified_bytes: int
    corrupt: list[Corrupt]
    referenced: dict[str, reachable.StubRef]
    missing_local: list[reachable.StubRef]  # referenced, not in the local store (nor on the remote, if asked)
    missing_remote: list[reachable.StubRef]  # referenced, not on the remote (only with a remote)
    corrupt_remote: tuple[tuple[reachable.StubRef, str], ...] = ()  # remote copies that failed re-hashing


    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing_local or self.missing_remote or self.corrupt_remote)


def _workers() -> int:
    # zstd and hashlib release the GIL on large buffers: threads use every core.
    return max(1, min(4, os.cpu_count() or 1))


def verify_store(store: ObjectStore) -> tuple[int, int, list[Corrupt]]:
    """Re-hash every object; quarantine the corrupt ones. (count, compressed bytes, corrupt)."""
    oids = list(store.iter_oids())
    sizes = {oid: store.stored_bytes(oid) for oid in oids}
    corrupt = []
    bar = output.progress(sum(sizes.values()), "fsck: verifying objects")
    with bar, ThreadPoolExecutor(_workers()) as pool:
        for oid, why in zip(oids, pool.map(store.verify, oids)):
            bar.update(sizes[oid])
            if why is not None:
                try:
                    corrupt.append(Corrupt(oid, why, store.quarantine(oid)))
                except FileNotFoundError:
                    pass  # deleted since it was listed (a gc at the same time): nothing to move
    return len(oids), sum(sizes.values()), corrupt


def referenced_stubs(all_history: bool, cwd: str | os.PathLike[str] | None = None) -> dict[str, reachable.StubRef]:
    """oid -> where it is needed: the work tree, this worktree's index, and HEAD (or, with
    all_history, every commit reachable from any ref)."""
    found: dict[str, reachable.StubRef] = {}

    def add(refs: dict[str, reachable.StubRef]) -> None:
        for oid, ref in refs.items():
            found.setdefault(oid, ref)

    add(reachable.in_work_tree(cwd))
    index = Path(git.output(["rev-parse", "--path-format=absolute", "--git-path", "index"], cwd=cwd))
    if index.is_file():
        add(reachable.in_index(index, "index", cwd))
    if all_history:
        add(reachable.in_commits(["--all"], "history", cwd=cwd))
    elif git.commit_exists("HEAD", cwd=cwd):
        add(reachable.in_commits(["--no-walk", "HEAD"], "HEAD", cwd=cwd))
    return found


def fsck(store: ObjectStore, *, all_history: bool = False, remote: Remote | None = None,
         verify_remote: bool = False, cwd: str | os.PathLike[str] | None = None) -> FsckResult:
    count, nbytes, corrupt = verify_store(store)
    referenced = referenced_stubs(all_history, cwd)
    absent = [ref for oid, ref in referenced.items() if not store.has(oid)]
    missing_remote: list[reachable.StubRef] = []
    if remote is not None:
        stubs = [ref.stub for ref in referenced.values()]
        on_remote = transfer.remote_has(remote, stubs) if stubs else set()
        missing_remote = [ref for oid, ref in referenced.items() if oid not in on_remote]
        # Missing here but safe on the remote is what gc leaves behind: a pull brings it back.
        absent = [ref for ref in absent if ref.stub.oid not in on_remote]
        if verify_remote:
            refs = [ref for oid, ref in referenced.items() if oid in on_remote]
            bad = verify_remote_copies(store, remote, [ref.stub for ref in refs])
            corrupt_remote = tuple((ref, bad[ref.stub.oid]) for ref in sorted(refs, key=_order) if ref.stub.oid in bad)
            return FsckResult(count, nbytes, corrupt, referenced, sorted(absent, key=_order),
                              sorted(missing_remote, key=_order), corrupt_remote)
    return FsckResult(count, nbytes, corrupt, referenced, sorted(absent, key=_order),
                      sorted(missing_remote, key=_order))


VERIFY_BATCH = 64  # remote copies downloaded into the scratch store before it is emptied


def verify_remote_copies(store: ObjectStore, remote: Remote, stubs: list[Stub]) -> dict[str, str]:
    """Download every remote copy of `stubs` into a scratch store beside the local one, where
    the download re-hashes it as any download does; oid -> why, for the copies that fail. The
    local store is not touched, and the scratch store is emptied batch after batch."""
    bad: dict[str, str] = {}
    scratch_dir = store.tmp_dir / f"{os.getpid()}.fsck-remote"
    try:
        for start in range(0, len(stubs), VERIFY_BATCH):
            scratch = ObjectStore(scratch_dir, store.level)
            result = transfer.download_missing(remote, scratch, stubs[start:start + VERIFY_BATCH], quiet=True)
            bad.update(result.failed)
            shutil.rmtree(scratch_dir, ignore_errors=True)
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
    return bad


def _order(ref: reachable.StubRef) -> tuple[str, str]:
    return ref.path, ref.stub.oid


def report_lines(result: FsckResult, store: ObjectStore, remote: Remote | None) -> Iterator[str]:
    for bad in result.corrupt:
        yield f"corrupt: object {bad.oid} {bad.why}; moved to {bad.moved_to}"
    quarantined = {bad.oid for bad in result.corrupt}
    for ref in result.missing_local:
        why = "quarantined as corrupt" if ref.stub.oid in quarantined else "not in the local store"
        yield f"missing: {ref.path} ({ref.where}) object {ref.stub.oid}: {why}"
    for ref in result.missing_remote:
        local = "present locally: `git datax push` sends it" if store.has(ref.stub.oid) else "and not local either"
        yield f"not on remote {remote.url if remote else ''}: {ref.path} ({ref.where}) object {ref.stub.oid}, {local}"
    for ref, why in result.corrupt_remote:
        yield f"corrupt on remote {remote.url if remote else ''}: {ref.path} ({ref.where}): {why}"


def summary(result: FsckResult, remote: Remote | None) -> str:
    parts = [
        f"{result.verified} object(s) verified ({output.human_size(result.verified_bytes)})",
        f"{len(result.corrupt)} corrupt" + (" (quarantined in datax/bad/)" if result.corrupt else ""),
        f"{len(result.referenced)} referenced, {len(result.missing_local)} missing",
    ]
    if remote is not None:
        parts.append(f"{len(result.missing_remote)} not on remote {remote.url}")
        if result.corrupt_remote:
            parts.append(f"{len(result.corrupt_remote)} corrupt there")
    verdict = "ok" if result.ok else "PROBLEMS FOUND"
    return f"fsck: {verdict}: " + ", ".join(parts)
