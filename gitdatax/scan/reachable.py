"""Which stubs are referenced, and from where: commits, indexes, work trees, stashes.

fsck and gc ask the same question of different sets of commits, through scan.scanner's modes,
and keep one StubRef per object: where it was first seen.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple

from gitdatax import git, stub as stubs
from gitdatax.scan.scanner import GitScanner, PathStub


class StubRef(NamedTuple):
    stub: stubs.Stub
    path: str  # one path that holds it (the first one seen)
    where: str  # "HEAD", "index", "work tree", "history", ...


def _by_oid(found: Iterable[PathStub], where: str) -> dict[str, StubRef]:
    refs: dict[str, StubRef] = {}
    for item in found:
        refs.setdefault(item.stub.oid, StubRef(item.stub, item.path, where))
    return refs


def in_commits(rev_args: list[str], where: str, *, stdin_revs: Iterable[str] | None = None,
               cwd: str | os.PathLike[str] | None = None) -> dict[str, StubRef]:
    """Every stub in the trees of the commits `git rev-list REV_ARGS` names (pass --no-walk for
    just the named commits, not their history)."""
    return _by_oid(GitScanner(cwd).objects(rev_args, stdin_revs=stdin_revs), where)


def index_files(cwd: str | os.PathLike[str] | None = None) -> list[Path]:
    """The index of every worktree (they share the store, so gc must honour all of them)."""
    common = git.repo_paths(cwd).common_dir
    found = [common / "index"] if (common / "index").is_file() else []
    worktrees = common / "worktrees"
    if worktrees.is_dir():
        found += sorted(p / "index" for p in worktrees.iterdir() if (p / "index").is_file())
    return found


def in_index(index_file: Path, where: str = "index", cwd: str | os.PathLike[str] | None = None) -> dict[str, StubRef]:
    """Stubs staged in one index file (any worktree's)."""
    staged = GitScanner(cwd).index(index_file)
    return _by_oid((PathStub(e.path, e.stub) for e in staged if e.stub is not None), where)


def in_work_tree(cwd: str | os.PathLike[str] | None = None) -> dict[str, StubRef]:
    """Files of this work tree that hold a stub instead of their data."""
    return _by_oid(GitScanner(cwd).work_tree(), "work tree")


def worktree_heads(cwd: str | os.PathLike[str] | None = None) -> list[str]:
    """The commit each worktree has checked out (a new repository's unborn HEAD is skipped)."""
    out = git.run(["worktree", "list", "--porcelain"], cwd=cwd).stdout.decode("utf-8", "surrogateescape")
    heads = []
    for line in out.splitlines():
        if line.startswith("HEAD ") and not git.is_zero_oid(line[5:]):
            heads.append(line[5:])
    return heads


def stash_commits(cwd: str | os.PathLike[str] | None = None) -> list[str]:
    """Every stash entry (refs/stash and its reflog) with its index and untracked-files commits;
    not the commit each was made on, whose own protection is decided like any other commit's."""
    if not git.commit_exists("refs/stash", cwd=cwd):
        return []
    out = git.run(["log", "-g", "--format=%H %P", "refs/stash"], cwd=cwd).stdout.decode()
    commits = []
    for line in out.splitlines():
        fields = line.split()
        if fields:
            commits.append(fields[0])
            commits.extend(fields[2:])
    return commits
