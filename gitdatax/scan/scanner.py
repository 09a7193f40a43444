"""Where the stubs are, asked one way: a scanner with one named mode per place, as Git LFS's
GitScanner (lfs/gitscanner*.go) scans a tree, the index or a range of history.

    scanner = GitScanner(cwd)
    scanner.work_tree()                 files that hold a stub instead of their data
    scanner.index(tracked_only=True)    index entries gitdatax tracks and the stub each holds, if any
    scanner.tree("v1")                  (path, stub) in the tree of one revision
    scanner.history(tips, exclude)      (path, stub) reachable from tips but not from exclude
    scanner.objects(rev_list_args)      the same for any `git rev-list` arguments

Blobs are read through one `git.CatFile` per mode, and only those small enough to be a stub;
stubs the filter wrote are known by their blob id (stub_journal) and not read at all.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from gitdatax import git, stub as stubs
from gitdatax.scan import stub_journal
from gitdatax.scan.blobs import prefetch_missing_blobs, stubs_in

REGULAR_MODES = ("100644", "100755")  # symlinks (120000) and submodules (160000) carry no data


class PathStub(NamedTuple):
    path: str
    stub: stubs.Stub


class IndexStub(NamedTuple):
    path: str
    blob: str
    mode: str
    stage: int  # 0, or 1-3 for the sides of a conflict
    stub: stubs.Stub | None  # None: the blob is content, not a stub


def stub_in_file(path: Path) -> tuple[stubs.Stub, bytes] | None:
    """The stub a work tree file holds instead of its content, and its bytes; None for anything
    else (larger, a symlink, a directory, gone). A stat per file; only stub-sized files are read."""
    try:
        st = os.lstat(path)
        if not 0 < st.st_size <= stubs.MAX_STUB_SIZE or not os.path.isfile(path) or os.path.islink(path):
            return None
        with open(path, "rb") as f:
            data = f.read(stubs.MAX_STUB_SIZE + 1)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None
    stub = stubs.parse(data)
    return None if stub is None else (stub, data)


class GitScanner:
    def __init__(self, cwd: str | os.PathLike[str] | None = None) -> None:
        self.cwd = cwd
        self._journal: stub_journal.KnownStubs | None = None  # read once, by the first scan that needs it

    def work_tree(self, *, as_staged: bool = False) -> list[PathStub]:
        """Files of the work tree that hold a stub: a checkout that could not fill them in, or
        GIT_DATAX_SKIP_SMUDGE. `as_staged`: only regular stage-0 entries whose file holds exactly
        the stub the index holds (the files `git checkout-index` can fill in); otherwise any
        stub in any indexed path (what gc and fsck must not lose). One `git ls-files`."""
        top = git.repo_paths(self.cwd).toplevel
        if top is None:
            return []
        found: dict[str, PathStub] = {}
        for entry in git.index_entries(cwd=top):
            if entry.path in found or (as_staged and (entry.stage != 0 or entry.mode not in REGULAR_MODES)):
                continue
            held = stub_in_file(top / entry.path)
            if held is None:
                continue
            if as_staged and stub_journal.git_blob_id(held[1], stub_journal.format_of(entry.blob)) != entry.blob:
                continue  # a stub, but not the one staged: the user's change, not ours to fill in
            found[entry.path] = PathStub(entry.path, held[0])
        return list(found.values())

    def index(self, index_file: Path | None = None, *, tracked_only: bool = False) -> list[IndexStub]:
        """Every regular entry of the index (or of another worktree's `index_file`), all stages,
        with the stub its blob holds. `tracked_only`: the stage-0 entries whose path has
        filter=datax (gitattributes), the files gitdatax tracks; only their blobs are read."""
        entries = [e for e in git.index_entries(cwd=self.cwd, index_file=index_file) if e.mode in REGULAR_MODES]
        if tracked_only:
            entries = [e for e in entries if e.stage == 0]
            filters = git.check_attr("filter", (e.path for e in entries), cwd=self.cwd)
            entries = [e for e in entries if filters.get(e.path) == "datax"]
        found = stubs_in((e.blob for e in entries), cwd=self.cwd)
        return [IndexStub(e.path, e.blob, e.mode, e.stage, found.get(e.blob)) for e in entries]

    def tree(self, rev: str) -> list[PathStub]:
        """Every (path, stub) in the tree of `rev`: any blob that is a valid stub, whatever the
        attributes say, since that is what a checkout will smudge."""
        candidates = [(e.path, e.blob) for e in git.ls_tree(rev, cwd=self.cwd)
                      if e.kind == "blob" and e.size is not None and 0 < e.size <= stubs.MAX_STUB_SIZE]
        found = self._known_stubs([blob for _, blob in candidates])
        return [PathStub(path, found[blob]) for path, blob in candidates if blob in found]

    def history(self, tips: Sequence[str], exclude: Sequence[str] = (), *, all_refs: bool = False,
                exclude_remote: str | None = None) -> list[PathStub]:
        """Every (path, stub) among the blobs reachable from `tips` (or all refs) but not from
        `exclude` nor the remote-tracking refs of `exclude_remote`: what a push must upload."""
        if not all_refs and not tips:
            return []
        # --ignore-missing: a pre-push names the remote's old tip, which we may never have fetched.
        args = ["--ignore-missing", *(["--all"] if all_refs else tips)]
        nots = list(exclude) + ([f"--remotes={exclude_remote}"] if exclude_remote else [])
        return self.objects([*args, "--not", *nots] if nots else args)

    def objects(self, rev_args: Sequence[str], *, stdin_revs: Iterable[str] | None = None) -> list[PathStub]:
        """(path, stub) for each stub among the blobs `git rev-list --objects REV_ARGS` lists
        (plus revisions given on its stdin), each blob once, by the first path git saw it at.
        Pass --no-walk for just the named commits' trees."""
        args = [f"--filter=blob:limit={stubs.MAX_STUB_SIZE + 1}", *rev_args]
        stdin = None
        if stdin_revs is not None:
            args.append("--stdin")
            stdin = b"".join(rev.encode("utf-8", "surrogateescape") + b"\n" for rev in stdin_revs)
        prefetch_missing_blobs(["rev-list", "--objects", *args], cwd=self.cwd, stdin=stdin)  # partial clones
        named = [(info.oid, path) for info, path in git.rev_list_objects(args, stdin=stdin, cwd=self.cwd)
                 if info.kind == "blob" and 0 < info.size <= stubs.MAX_STUB_SIZE]
        known = self._known_stubs([blob for blob, _ in named])
        return [PathStub(path, known[blob]) for blob, path in named if blob in known]

    def _known_stubs(self, blobs: list[str]) -> dict[str, stubs.Stub]:
        """blob -> Stub for the blobs among `blobs` (each listed as stub-sized already) that hold
        one: those the filter wrote from the journal, the others read from git. A push's scan of
        its tip's tree read back all 2000 stubs of the standard workload (0.1 s) before."""
        if self._journal is None:
            self._journal = stub_journal.load(git.repo_paths(self.cwd).common_dir / "datax")
        journal = self._journal
        known = {blob: stub for blob in blobs if (stub := journal.get(blob)) is not None}
        known.update(stubs_in((blob for blob in blobs if blob not in known), cwd=self.cwd, sizes_known=True))
        return known
