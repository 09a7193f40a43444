"""Finding stubs: in the index, in a commit's tree, and which work tree files are still stubs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple

from gitdatax import git, stub as stubs
from gitdatax.scan.blobs import stubs_in


class TrackedFile(NamedTuple):
    path: str
    blob: str
    mode: str
    stub: stubs.Stub | None  # None: the blob is raw content, not a stub


def index_files(cwd: str | os.PathLike[str] | None = None) -> list[TrackedFile]:
    """Index entries (stage 0) whose path has filter=datax, with their stubs."""
    return scan_index(cwd).tracked


class IndexScan(NamedTuple):
    tracked: list[TrackedFile]
    # Entries outside gitdatax's patterns whose work tree file is the very stub the index holds:
    # committed without their .gitattributes line (issue 11, item 2). Only with look_outside.
    stubs_outside: list[TrackedFile]


def scan_index(cwd: str | os.PathLike[str] | None = None, *, look_outside: bool = False) -> IndexScan:
    entries = [e for e in git.index_entries(cwd=cwd) if e.stage == 0 and e.mode in ("100644", "100755")]
    filters = git.check_attr("filter", (e.path for e in entries), cwd=cwd)
    tracked = [e for e in entries if filters.get(e.path) == "datax"]
    found = stubs_in((e.blob for e in tracked), cwd=cwd)
    files = [TrackedFile(e.path, e.blob, e.mode, found.get(e.blob)) for e in tracked]
    outside = []
    top = git.repo_paths(cwd).toplevel if look_outside else None
    if top is not None:
        from gitdatax.scan.stub_journal import format_of, git_blob_id

        for e in entries:
            if filters.get(e.path) != "datax" and (stub := worktree_stub(top, e.path)) is not None:
                if git_blob_id(stub.encode(), format_of(e.blob)) == e.blob:  # what the commit holds
                    outside.append(TrackedFile(e.path, e.blob, e.mode, stub))
    return IndexScan(files, outside)


def tree_stubs(rev: str, cwd: str | os.PathLike[str] | None = None) -> list[tuple[str, stubs.Stub]]:
    """Every (path, stub) in the tree of `rev`: any blob that is a valid stub, whatever the
    attributes say, since that is what a checkout will smudge."""
    candidates = [(e.path, e.blob) for e in git.ls_tree(rev, cwd=cwd)
                  if e.kind == "blob" and e.size is not None and 0 < e.size <= stubs.MAX_STUB_SIZE]
    return list(_parse_blobs(candidates, cwd))


def _parse_blobs(candidates: Iterable[tuple[str, str]], cwd: str | os.PathLike[str] | None) -> Iterable[tuple[str, stubs.Stub]]:
    candidates = list(candidates)
    found = stubs_in((blob for _, blob in candidates), cwd=cwd, sizes_known=True)  # ls-tree -l said
    for path, blob in candidates:
        if blob in found:
            yield path, found[blob]


def worktree_stub(top: Path, path: str) -> stubs.Stub | None:
    """The stub a work tree file holds instead of its content, if it does."""
    try:
        full = top / path
        if full.is_symlink() or not 0 < full.stat().st_size <= stubs.MAX_STUB_SIZE:
            return None
        return stubs.parse(full.read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
