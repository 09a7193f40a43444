"""The server's pre-receive check: every stub a push adds must have its object in the store.

Only commits new to the server are looked at (`git log TIPS --not --all`: during pre-receive the
refs have not moved yet), each diffed against its parents by git itself, which skips unchanged
subtrees, so the cost follows the size of the push, not of the history. Plain git is used rather
than pygit2 on purpose: git honours the quarantine that pre-receive runs in (the pushed objects
sit in GIT_QUARANTINE_PATH until the push is accepted) by itself, and on a 10,000-commit history
`git diff-tree` was 70x faster than libgit2's tree diff (benchmarks/pre_receive.py).
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, Iterable, Iterator, NamedTuple

from gitdatax import git, output
from gitdatax.scan.blobs import stubs_in
from gitdatax.stub import Stub

SHOWN = 20  # missing files listed in a refusal; the rest are counted
BATCH = 1000  # stubs per existence query to the store
_REGULAR = ("100644", "100755")  # symlinks (120000) and submodules (160000) carry no data


class RefUpdate(NamedTuple):
    old: str
    new: str
    ref: str


class AddedStub(NamedTuple):
    path: str
    commit: str
    stub: Stub


def parse_updates(stdin: bytes) -> list[RefUpdate]:
    updates = []
    for line in stdin.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def commit_tips(git_dir: Path, tips: Iterable[str]) -> list[str]:
    """The pushed objects that are commits or tags of commits (a tag of a tree or a blob, which
    `git log` would reject, carries no stub a checkout would smudge)."""
    with git.CatFile(git_dir) as cat:
        return [info.oid for _, info in cat.infos(f"{tip}^{{commit}}" for tip in tips) if info is not None]


def _records(stream: IO[bytes]) -> Iterator[bytes]:
    """NUL-separated records from a pipe, without reading it whole."""
    rest = b""
    while chunk := stream.read(1 << 16):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def added_blobs(git_dir: Path, tips: list[str]) -> Iterator[tuple[str, str, str]]:
    """(path, commit, blob) for every regular file the new commits add or change. With -c a merge
    lists only paths that differ from every parent, so a merge of already-checked branches costs
    nothing and an evil merge's own changes are still seen."""
    cmd = ["log", "--stdin", "--format=%x01%H", "--raw", "-r", "-c", "--root", "--no-renames",
           "--no-abbrev", "-z", "--not", "--all"]
    proc = git.spawn(cmd, cwd=git_dir, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write("".join(f"{tip}\n" for tip in tips).encode())
    proc.stdin.close()
    commit = ""
    meta: list[str] | None = None
    for record in _records(proc.stdout):
        record = record.lstrip(b"\n")
        if meta is not None:  # the path that follows a raw diff line
            parents = len(meta[0]) - len(meta[0].lstrip(":"))
            mode, blob = meta[parents], meta[2 * parents + 1]  # the new side of ":old.. new.."
            meta = None
            if mode in _REGULAR and not git.is_zero_oid(blob):
                yield record.decode("utf-8", "surrogateescape"), commit, blob
        elif record.startswith(b"\x01"):
            commit = record[1:].decode()
        elif record.startswith(b":"):
            meta = record.decode().split()
    stderr = proc.stderr.read()
    if proc.wait() != 0:
        raise git.failed(proc, stderr)


def added_stubs(git_dir: Path, tips: list[str]) -> list[AddedStub]:
    """Every stub the new commits add, once per (path, oid) pair, in the order git walked them."""
    found = []
    seen: set[tuple[str, str]] = set()
    for path, commit, blob in added_blobs(git_dir, tips):
        if (path, blob) not in seen:
            seen.add((path, blob))
            found.append((path, commit, blob))
    parsed = read_stubs(git_dir, {blob for _, _, blob in found})
    return [AddedStub(path, commit, parsed[blob]) for path, commit, blob in found if blob in parsed]


def read_stubs(git_dir: Path, blobs: set[str]) -> dict[str, Stub]:
    """The blobs among `blobs` that are stubs. Sizes are asked first, so that a big blob (data
    committed raw) is never read."""
    if not blobs:
        return {}
    return stubs_in(blobs, cwd=git_dir)


def missing_objects(store, found: list[AddedStub]) -> list[AddedStub]:  # type: ignore[no-untyped-def]
    """The entries of `found` whose object the store lacks, asking in batches."""
    unique = list({a.stub.oid: a.stub for a in found}.values())
    present: set[str] = set()
    for start in range(0, len(unique), BATCH):
        present |= store.has_many(unique[start:start + BATCH])
    return [a for a in found if a.stub.oid not in present]


def check(git_dir: Path, stdin: bytes) -> int:
    """The hook: 0 to accept the push, 1 (after saying why) to refuse it."""
    from gitdatax.remotes import remote_config

    tips = [u.new for u in parse_updates(stdin) if not git.is_zero_oid(u.new)]
    if not tips:
        return 0  # only deletions
    tips = commit_tips(git_dir, tips)
    if not tips:
        return 0
    found = added_stubs(git_dir, tips)
    if not found:
        return 0
    store = remote_config.open_store(git_dir)
    try:
        missing = missing_objects(store, found)
    finally:
        store.close()
    if not missing:
        return 0
    report(missing, store.url)
    return 1


def report(missing: list[AddedStub], url: str) -> None:
    objects = len({a.stub.oid for a in missing})
    output.error(
        f"push refused: {len(missing)} file(s) in the pushed commits point to data that is not in "
        f"this server's store ({url}):"
    )
    for a in missing[:SHOWN]:
        output.info(f"  {a.path} ({a.commit[:12]}, sha256:{a.stub.oid})")
    if len(missing) > SHOWN:
        output.info(f"  ... and {len(missing) - SHOWN} more ({len(missing)} files, {objects} objects in all)")
    output.info("Upload the data first: run `git datax push` in your clone, then `git push` again.")
