"""Which revisions a comparison covers, and the names its rows carry.

A row is named as DVC and `git log --decorate` would have a person read it: by its tag, else its
branch, else its short id; the work tree is `workspace`. Three git processes at most, however
many commits: for-each-ref for the names, rev-list for `-A`/`-n`, git.CatFile for the
revisions given.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

from gitdatax import git
from gitdatax.errors import FatalError

WORKSPACE = "workspace"


class Revision(NamedTuple):
    name: str  # what a row shows: tag, branch, short id or "workspace"
    commit: str | None  # the full commit id; None for the work tree
    key: str  # the JSON key: as given on the command line, the full id under -A, or "workspace"


def refs(top: Path) -> list[tuple[str, str, str]]:
    """(kind "tag" or "branch", short name, commit id) of every tag and branch, in refname order."""
    out = git.run(["for-each-ref", "--format=%(objectname) %(*objectname) %(refname)",
                   "refs/tags", "refs/heads"], cwd=top).stdout.decode("utf-8", "surrogateescape")
    found = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) != 3:
            continue
        direct, peeled, ref = parts
        commit = peeled or direct  # an annotated tag names its tag object; peeled is the commit
        if ref.startswith("refs/tags/"):
            found.append(("tag", ref[len("refs/tags/"):], commit))
        else:
            found.append(("branch", ref[len("refs/heads/"):], commit))
    return found


def ref_names(top: Path, found: Sequence[tuple[str, str, str]] | None = None) -> dict[str, str]:
    """commit id -> the best name for it: a tag (the first by refname order), else a branch."""
    found = refs(top) if found is None else found
    names: dict[str, str] = {}
    for kind in ("tag", "branch"):
        for ref_kind, name, commit in found:
            if ref_kind == kind:
                names.setdefault(commit, name)
    return names


def resolve(top: Path, revs: Sequence[str]) -> list[str]:
    """The commit id of each revision given; one line and exit 1 for the first that is none."""
    if not revs:
        return []
    for rev in revs:
        if rev.startswith("-") or "\n" in rev:
            raise FatalError(f"{rev!r} is not a revision")
    commits = []
    with git.CatFile(top) as cat:
        for rev, (_, info) in zip(revs, cat.infos(f"{rev}^{{commit}}" for rev in revs)):
            if info is None or info.kind != "commit":
                raise FatalError(f"unknown revision {rev!r}: not a commit, branch or tag of this repository")
            commits.append(info.oid)
    return commits


def history(top: Path, *, all_commits: bool, limit: int | None) -> list[str]:
    """Commits newest first: every ref's history with -A, else HEAD's; at most `limit`."""
    args = ["rev-list", "--date-order"]
    if limit is not None:
        args.append(f"--max-count={limit}")
    if all_commits:
        # Every branch, tag and remote-tracking ref; not `git stash`'s commits, which are no
        # iteration of anything (a stash holds two or three commits of a work in progress).
        args += ["--exclude=refs/stash", "--all"]
    else:
        if not git.commit_exists("HEAD", cwd=top):
            return []  # no commit yet
        args.append("HEAD")
    return git.run(args, cwd=top).stdout.decode().split()


def named(top: Path, commits: Sequence[str], keys: Sequence[str] | None = None,
          names: dict[str, str] | None = None) -> list[Revision]:
    """Revisions for these commits, named for rows; `keys` as given on the command line."""
    names = ref_names(top) if names is None else names
    result = []
    for i, commit in enumerate(commits):
        given = keys[i] if keys is not None else None
        result.append(Revision(names.get(commit) or given or commit[:7], commit, given or commit))
    return result


def select(top: Path, revs: Sequence[str], *, all_commits: bool = False, limit: int | None = None,
           all_branches: bool = False, all_tags: bool = False, workspace: bool = True) -> list[Revision]:
    """The rows of `metrics show`: the work tree first (as DVC), then the revisions given, each
    branch's tip (-a) and each tag (-T) under its name, or with -A / -n the history newest first."""
    chosen: list[Revision] = [Revision(WORKSPACE, None, WORKSPACE)] if workspace else []
    found = refs(top)
    names = ref_names(top, found)
    if revs:
        chosen += named(top, resolve(top, revs), list(revs), names)
    for kind, wanted in (("branch", all_branches), ("tag", all_tags)):
        if wanted:
            chosen += [Revision(name, commit, name) for ref_kind, name, commit in found if ref_kind == kind]
    if all_commits or limit is not None:
        seen = {r.commit for r in chosen}
        chosen += [r for r in named(top, history(top, all_commits=all_commits, limit=limit), None, names)
                   if r.commit not in seen]
    return chosen


def pair(top: Path, a: str | None, b: str | None) -> tuple[Revision, Revision]:
    """The two sides of a diff: A defaults to HEAD, B to the work tree (DVC's `metrics diff`)."""
    a = a or "HEAD"
    if a == WORKSPACE:
        old = Revision(WORKSPACE, None, WORKSPACE)
    elif a == "HEAD" and not git.commit_exists("HEAD", cwd=top):
        raise FatalError("this repository has no commit yet: nothing to compare the work tree with")
    else:
        old = named(top, resolve(top, [a]), [a])[0]
    if b is None or b == WORKSPACE:
        return old, Revision(WORKSPACE, None, WORKSPACE)
    return old, named(top, resolve(top, [b]), [b])[0]


def for_plots(top: Path, revs: Sequence[str]) -> list[Revision]:
    """The revisions of `plots diff`: those given (`workspace` among them the work tree), in
    order, or HEAD and the work tree, as DVC."""
    if not revs:
        if not git.commit_exists("HEAD", cwd=top):
            return [Revision(WORKSPACE, None, WORKSPACE)]
        return [*named(top, resolve(top, ["HEAD"]), ["HEAD"]), Revision(WORKSPACE, None, WORKSPACE)]
    given = [r for r in revs if r != WORKSPACE]
    commits = iter(named(top, resolve(top, given), given))
    chosen = [Revision(WORKSPACE, None, WORKSPACE) if r == WORKSPACE else next(commits) for r in revs]
    return list({r.key: r for r in chosen}.values())
