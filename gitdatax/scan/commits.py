"""Where the stubs of some commits are: the history half of the old sync.py.

- `stubs_in_history`: the stubs newly reachable from some commits (what a push must upload),
  found with one `git rev-list --objects` and one `git.CatFile`, never a process per
  commit or per file.
- `tree_stubs`, `commit_introducing`, `has_head`: a commit's stubs, and which commit brought one.
- `select` and `split_patterns`: the -I/-X path filters of fetch, pull and checkout.
"""
from __future__ import annotations

import fnmatch
import os
from typing import Iterable, NamedTuple, Sequence

from gitdatax import git, stub as stubs

from gitdatax.scan import stub_journal
from gitdatax.scan.blobs import prefetch_missing_blobs, stubs_in

ZERO_SHA = "0" * 40


class PathStub(NamedTuple):
    path: str
    stub: stubs.Stub


def stubs_in_history(tips: Sequence[str], exclude: Sequence[str] = (), *, all_refs: bool = False,
                     exclude_remote: str | None = None,
                     cwd: str | os.PathLike[str] | None = None) -> list[PathStub]:
    """Every (path, stub) among the blobs reachable from `tips` (or all refs) but not from
    `exclude` nor the remote-tracking refs of `exclude_remote`."""
    # --ignore-missing: a pre-push names the remote's old tip, which we may never have fetched.
    args = ["rev-list", "--objects", "--ignore-missing", "--filter=blob:limit=%d" % (stubs.MAX_STUB_SIZE + 1)]
    args += ["--all"] if all_refs else list(tips)
    nots = list(exclude) + ([f"--remotes={exclude_remote}"] if exclude_remote else [])
    if nots:
        args += ["--not", *nots]
    if not all_refs and not tips:
        return []
    prefetch_missing_blobs(args, cwd=cwd)
    out = git.run(args, cwd=cwd).stdout
    named: list[tuple[str, str]] = []
    for line in out.split(b"\n"):
        sha, sep, path = line.partition(b" ")
        if sep and path:  # commits have no name; trees and blobs do
            named.append((sha.decode(), path.decode("utf-8", "surrogateescape")))
    # Stubs the filter wrote are known by their blob id (stub_journal); read only the rest.
    journal = stub_journal.load(git.repo_paths(cwd).common_dir / "datax")
    known = {sha: stub for sha, _ in named if (stub := journal.get(sha)) is not None}
    known.update(stubs_in((sha for sha, _ in named if sha not in known), cwd=cwd, sizes_known=True))
    return [PathStub(path, known[sha]) for sha, path in named if sha in known]


def tree_stubs(rev: str, cwd: str | os.PathLike[str] | None = None) -> list[PathStub]:
    from gitdatax.scan import tracked

    return [PathStub(p, s) for p, s in tracked.tree_stubs(rev, cwd=cwd)]


def has_head(cwd: str | os.PathLike[str] | None = None) -> bool:
    return git.run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=cwd, check=False).returncode == 0


def commit_introducing(blob: str, tips: Sequence[str], exclude: Sequence[str] = (),
                       cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The newest commit among tips (not exclude) that adds or changes `blob`; for messages."""
    args = ["log", "-n1", "--ignore-missing", "--format=%H", f"--find-object={blob}", *tips]
    if exclude:
        args += ["--not", *exclude]
    proc = git.run(args, cwd=cwd, check=False)
    sha = proc.stdout.decode().strip()
    return sha or None


def git_blob_sha(data: bytes, object_format: str = "sha1") -> str:
    return stub_journal.git_blob_id(data, object_format)


def select(items: Iterable[PathStub], include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[PathStub]:
    """Keep paths matching any include pattern (all when none) and no exclude pattern."""
    return [i for i in items if (not include or _matches(i.path, include)) and not _matches(i.path, exclude)]


def split_patterns(values: Sequence[str] | None) -> list[str]:
    """`-I 'data/*,models/*' -I x` -> ['data/*', 'models/*', 'x'] (comma lists, as git-lfs)."""
    return [p.strip() for v in values or () for p in v.split(",") if p.strip()]


def _matches(path: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        bare = pattern.strip("/")
        if fnmatch.fnmatchcase(path, bare) or path.startswith(bare + "/"):
            return True
        if "/" not in bare and fnmatch.fnmatchcase(os.path.basename(path), bare):
            return True
    return False
