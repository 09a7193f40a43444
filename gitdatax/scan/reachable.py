"""Which stubs are referenced, and from where: commits, indexes, work trees, stashes.

fsck and gc ask the same question of different sets of commits. Everything goes through long
batch pipes (`git.rev_list_objects`, then one `git.CatFile` for the small blobs only), never one
process per commit or per file, and only blobs small enough to be a stub are ever read.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple

from gitdatax import git, stub as stubs
from gitdatax.scan.blobs import prefetch_missing_blobs, stubs_in

class StubRef(NamedTuple):
    stub: stubs.Stub
    path: str  # one path that holds it (the first one seen)
    where: str  # "HEAD", "index", "work tree", "history", ...


def small_blobs_in(rev_args: list[str], *, stdin_revs: Iterable[str] | None = None,
                   cwd: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """(blob, path) of every blob small enough to be a stub among `git rev-list --objects ARGS`
    (plus revisions fed on stdin)."""
    args = [f"--filter=blob:limit={stubs.MAX_STUB_SIZE + 1}", *rev_args]
    stdin = None
    if stdin_revs is not None:
        args.append("--stdin")
        stdin = b"".join(rev.encode("utf-8", "surrogateescape") + b"\n" for rev in stdin_revs)
    prefetch_missing_blobs(["rev-list", "--objects", *args], cwd=cwd, stdin=stdin)  # partial clones
    return [(info.oid, path) for info, path in git.rev_list_objects(args, stdin=stdin, cwd=cwd)
            if info.kind == "blob" and 0 < info.size <= stubs.MAX_STUB_SIZE]


def parse_stubs(candidates: list[tuple[str, str]], where: str, cwd: str | os.PathLike[str] | None = None,
                *, sizes_known: bool = True) -> dict[str, StubRef]:
    """oid -> StubRef for the candidate (blob, path) pairs that hold a valid stub."""
    paths: dict[str, str] = {}
    for blob, path in candidates:
        paths.setdefault(blob, path)
    found: dict[str, StubRef] = {}
    for blob, stub in stubs_in(paths, cwd=cwd, sizes_known=sizes_known).items():
        if stub.oid not in found:
            found[stub.oid] = StubRef(stub, paths[blob], where)
    return found


def in_commits(rev_args: list[str], where: str, *, stdin_revs: Iterable[str] | None = None,
               cwd: str | os.PathLike[str] | None = None) -> dict[str, StubRef]:
    """Every stub in the trees of the commits `git rev-list REV_ARGS` names (pass --no-walk for
    just the named commits, not their history)."""
    return parse_stubs(small_blobs_in(rev_args, stdin_revs=stdin_revs, cwd=cwd), where, cwd)


def has_commit(rev: str, cwd: str | os.PathLike[str] | None = None) -> bool:
    return git.run(["rev-parse", "-q", "--verify", f"{rev}^{{commit}}"], cwd=cwd, check=False).returncode == 0


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
    candidates = [(e.blob, e.path) for e in git.index_entries(cwd=cwd, index_file=index_file)
                  if e.mode in ("100644", "100755")]
    return parse_stubs(candidates, where, cwd, sizes_known=False)


def in_work_tree(cwd: str | os.PathLike[str] | None = None) -> dict[str, StubRef]:
    """Files of this work tree that hold a stub instead of their data (a checkout that could not
    fill them in, or GIT_DATAX_SKIP_SMUDGE)."""
    top = git.repo_paths(cwd).toplevel
    if top is None:
        return {}
    found: dict[str, StubRef] = {}
    for path in git.ls_files_z(["--cached"], cwd=top):
        full = top / path
        try:
            st = full.lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not 0 < st.st_size <= stubs.MAX_STUB_SIZE or not full.is_file() or full.is_symlink():
            continue
        stub = stubs.parse(full.read_bytes())
        if stub is not None and stub.oid not in found:
            found[stub.oid] = StubRef(stub, path, "work tree")
    return found


def worktree_heads(cwd: str | os.PathLike[str] | None = None) -> list[str]:
    """The commit each worktree has checked out (a new repository's unborn HEAD is skipped)."""
    out = git.run(["worktree", "list", "--porcelain"], cwd=cwd).stdout.decode("utf-8", "surrogateescape")
    heads = []
    for line in out.splitlines():
        if line.startswith("HEAD ") and line[5:].strip("0"):
            heads.append(line[5:])
    return heads


def stash_commits(cwd: str | os.PathLike[str] | None = None) -> list[str]:
    """Every stash entry (refs/stash and its reflog) with its index and untracked-files commits;
    not the commit each was made on, whose own protection is decided like any other commit's."""
    if not has_commit("refs/stash", cwd):
        return []
    out = git.run(["log", "-g", "--format=%H %P", "refs/stash"], cwd=cwd).stdout.decode()
    commits = []
    for line in out.splitlines():
        fields = line.split()
        if fields:
            commits.append(fields[0])
            commits.extend(fields[2:])
    return commits
