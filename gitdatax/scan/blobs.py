"""Which of some git blobs are stubs: the one question every scan asks of blob ids.

Only blobs small enough to be a stub are read, through one `git.CatFile`; a large blob (data
committed raw, a model checked in before its path was tracked) is never transferred. In a
partial clone the stubs a scan needs are first fetched in one go (prefetch_missing_blobs).
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, Sequence, TypeVar

from gitdatax import git, stub as stubs

T = TypeVar("T")


def small_blobs(blobs: Iterable[str], *, cwd: str | os.PathLike[str] | None = None, sizes_known: bool = False,
                cat: git.CatFile | None = None) -> dict[str, bytes]:
    """blob -> content for each of `blobs` that is a blob of 1 to MAX_STUB_SIZE bytes.

    `sizes_known`: every id was listed as small already (`rev-list --filter=blob:limit=1024`,
    `diff --raw` sizes), so the sizes are not asked first: that halves the work when the
    objects are loose. `cat`: an open reader to use instead of starting one."""
    wanted = list(dict.fromkeys(blobs))
    if not wanted:
        return {}
    reader = cat or git.CatFile(cwd)
    try:
        found = reader.contents(wanted, limit=None if sizes_known else stubs.MAX_STUB_SIZE)
        return {blob: data for blob, info, data in found
                if info.kind == "blob" and 0 < info.size <= stubs.MAX_STUB_SIZE}
    finally:
        if cat is None:
            reader.close()


def stubs_in(blobs: Iterable[str], *, cwd: str | os.PathLike[str] | None = None, sizes_known: bool = False,
             parse: Callable[[bytes], T | None] = stubs.parse) -> dict[str, T]:  # type: ignore[assignment]
    """blob -> Stub for each of `blobs` that holds a valid stub (`parse`: another small format,
    such as stubs.parse_lfs_pointer)."""
    found = {}
    for blob, data in small_blobs(blobs, cwd=cwd, sizes_known=sizes_known).items():
        parsed = parse(data)
        if parsed is not None:
            found[blob] = parsed
    return found


def prefetch_missing_blobs(rev_list: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
                           stdin: bytes | None = None) -> None:
    """In a partial clone (`git clone --filter=blob:none`), the blobs (stubs) of commits never
    checked out are not local, and `rev-list --filter=blob:limit` fetches each one on its own to
    learn its size: a round trip per blob. List them without fetching and ask the promisor remote
    for all of them at once, as git's own checkout does (promisor-remote.c)."""
    pack_dir = git.repo_paths(cwd).common_dir / "objects" / "pack"
    try:
        if not any(name.endswith(".promisor") for name in os.listdir(pack_dir)):
            return  # not a partial clone: nothing can be missing on purpose
    except OSError:
        return
    promisor = git.run(["config", "--get-regexp", r"^remote\..*\.promisor$"], cwd=cwd, check=False).stdout
    remotes = [line.split()[0][len("remote."):-len(".promisor")] for line in
               promisor.decode("utf-8", "surrogateescape").splitlines() if line.split()[1:] == ["true"]]
    if not remotes:
        return
    probe = git.run([rev_list[0], "--missing=print", *rev_list[1:]], cwd=cwd, input=stdin, check=False).stdout
    missing = b"".join(line[1:] + b"\n" for line in probe.split(b"\n") if line.startswith(b"?"))
    if missing:  # a failure (offline) leaves rev-list to fetch them, or say why it cannot
        git.run(["-c", "fetch.negotiationAlgorithm=noop", "fetch", remotes[0], "--no-tags",
                 "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
                cwd=cwd, input=missing, check=False)
