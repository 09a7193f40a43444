"""The pre-commit hook's local checks: no raw content for a tracked path, no huge untracked file."""
from __future__ import annotations

import shlex
from typing import NamedTuple

from gitdatax import config, git, stub as stubs
from gitdatax.output import human_size


class StagedFile(NamedTuple):
    path: str
    blob: str
    size: int


def staged_files() -> list[StagedFile]:
    """Regular files added or changed in the index relative to HEAD (or to nothing)."""
    base = "HEAD" if git.run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], check=False).returncode == 0 else git.EMPTY_TREE
    raw = git.run(["diff", "--cached", "--raw", "--no-abbrev", "-z", "--no-renames", "--diff-filter=ACMRT", base]).stdout
    fields = raw.split(b"\0")
    entries: list[tuple[str, str]] = []
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].decode().split()
        if len(meta) < 4 or meta[1] not in ("100644", "100755"):
            continue  # symlinks and submodules carry no data
        entries.append((fields[i + 1].decode("utf-8", "surrogateescape"), meta[3]))
    if not entries:
        return []
    check = git.run(
        ["cat-file", "--batch-check=%(objectsize)"], input="".join(f"{blob}\n" for _, blob in entries).encode()
    ).stdout.split()
    return [StagedFile(path, blob, int(size)) for (path, blob), size in zip(entries, check)]


def inspect_staged() -> tuple[list[str], list[stubs.Stub]]:
    """(one line per file the commit must not take, with what to do about it; the staged stubs)."""
    files = staged_files()
    if not files:
        return [], []
    filters = git.check_attr("filter", (f.path for f in files), cached=True)
    limit = config.max_git_size()
    # staged_files knows the sizes already: read the small blobs without asking git again
    small = git.read_small_blobs((f.blob for f in files if 0 < f.size <= stubs.MAX_STUB_SIZE), listed_small=True)
    staged = {blob: stub for blob, data in small.items() if (stub := stubs.parse(data)) is not None}
    problems = []
    for f in files:
        quoted = shlex.quote(f.path)
        # `git add --renormalize`, not `git add`: the file's stat still matches the index entry,
        # so a plain `git add` would keep the raw blob staged without running the filter.
        if filters.get(f.path) == "datax":
            if f.size > 0 and f.blob not in staged:
                problems.append(
                    f"{f.path}: staged as raw content, but .gitattributes says gitdatax tracks it "
                    f"(the datax filter was not installed when it was added): run `git datax install` "
                    f"and then `git add --renormalize -- {quoted}`"
                )
        elif f.size > limit:
            problems.append(
                f"{f.path}: {human_size(f.size)} is over datax.maxgitsize ({human_size(limit)}): "
                f"run `git datax track {quoted}`, then `git add .gitattributes` and "
                f"`git add --renormalize -- {quoted}`"
            )
    return problems, list(staged.values())


def pre_commit_problems() -> list[str]:
    """One line per file the commit must not take, with what to do about it."""
    return inspect_staged()[0]
