"""Which stubs are referenced, and from where: commits, indexes, work trees, stashes.

fsck and gc ask the same question of different sets of commits. Everything goes through long
batch pipes (`git rev-list --objects | git cat-file --batch-check`, then one `git cat-file --batch`
for the small blobs only), never one process per commit or per file, and only blobs small enough
to be a stub are ever read.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from gitdatax import git, stub as stubs
from gitdatax.errors import GitError

class StubRef(NamedTuple):
    stub: stubs.Stub
    path: str  # one path that holds it (the first one seen)
    where: str  # "HEAD", "index", "work tree", "history", ...


def _spool(lines: Iterable[str]) -> "tempfile._TemporaryFileWrapper[bytes]":
    """Arguments for a git --stdin, in a file: no pipe to deadlock on, whatever the count."""
    spool = tempfile.TemporaryFile()
    for line in lines:
        spool.write(line.encode("utf-8", "surrogateescape") + b"\n")
    spool.seek(0)
    return spool  # type: ignore[return-value]


def small_blobs_in(rev_args: list[str], *, stdin_revs: Iterable[str] | None = None,
                   cwd: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """(blob, path) of every blob small enough to be a stub among `git rev-list --objects ARGS`
    (plus revisions fed on stdin). Each blob once."""
    args = ["git", "rev-list", "--objects", f"--filter=blob:limit={stubs.MAX_STUB_SIZE + 1}", *rev_args]
    spool = None
    if stdin_revs is not None:
        args.append("--stdin")
        spool = _spool(stdin_revs)
    git.prefetch_missing_blobs(args[1:], cwd=cwd, stdin=spool.read() if spool else None)  # partial clones
    if spool is not None:
        spool.seek(0)
    rev_list = subprocess.Popen(args, cwd=cwd, stdin=spool or subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check = subprocess.Popen(
        ["git", "cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)"],
        cwd=cwd, stdin=rev_list.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert rev_list.stdout and check.stdout
    rev_list.stdout.close()  # the cat-file process owns the read end now
    found = []
    for line in check.stdout:
        kind, _, rest = line.rstrip(b"\n").partition(b" ")
        if kind != b"blob":
            continue
        blob, _, rest = rest.partition(b" ")
        size, _, path = rest.partition(b" ")
        if 0 < int(size) <= stubs.MAX_STUB_SIZE:
            found.append((blob.decode(), path.decode("utf-8", "surrogateescape")))
    check.wait()
    stderr = rev_list.stderr.read() if rev_list.stderr else b""
    if rev_list.wait() != 0:
        raise GitError(args, rev_list.returncode, stderr.decode(errors="replace"))
    if spool is not None:
        spool.close()
    return found


def read_blobs(blobs: Iterable[str], *, cwd: str | os.PathLike[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """(blob, content) for small blobs, through one `git cat-file --batch` fed by a thread."""
    proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout

    def feed() -> None:
        try:
            for blob in blobs:
                proc.stdin.write(blob.encode() + b"\n")  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        while header := proc.stdout.readline():
            fields = header.split()
            if len(fields) != 3:  # "<name> missing"
                continue
            size = int(fields[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)
            yield fields[0].decode(), data
    finally:
        writer.join()
        proc.stdout.close()
        proc.wait()


def parse_stubs(candidates: list[tuple[str, str]], where: str,
                cwd: str | os.PathLike[str] | None = None) -> dict[str, StubRef]:
    """oid -> StubRef for the candidate (blob, path) pairs that hold a valid stub."""
    paths: dict[str, str] = {}
    for blob, path in candidates:
        paths.setdefault(blob, path)
    found: dict[str, StubRef] = {}
    for blob, data in read_blobs(list(paths), cwd=cwd):
        stub = stubs.parse(data)
        if stub is not None and stub.oid not in found:
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
    proc = subprocess.run(["git", "ls-files", "-s", "-z"], cwd=cwd, capture_output=True,
                          env={**os.environ, "GIT_INDEX_FILE": str(index_file)})
    if proc.returncode != 0:
        raise GitError(["git", "ls-files", "-s", "-z"], proc.returncode, proc.stderr.decode(errors="replace"))
    candidates = []
    for record in proc.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, blob, _stage = meta.decode().split()
        if mode in ("100644", "100755"):
            candidates.append((blob, path.decode("utf-8", "surrogateescape")))
    return _only_small(candidates, where, cwd)


def _only_small(candidates: list[tuple[str, str]], where: str, cwd: str | os.PathLike[str] | None) -> dict[str, StubRef]:
    if not candidates:
        return {}
    check = git.run(["cat-file", "--batch-check=%(objectname) %(objectsize)"], cwd=cwd,
                    input="".join(f"{blob}\n" for blob, _ in candidates).encode()).stdout.splitlines()
    small = set()
    for line in check:
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit() and 0 < int(fields[1]) <= stubs.MAX_STUB_SIZE:
            small.add(fields[0].decode())
    return parse_stubs([c for c in candidates if c[0] in small], where, cwd)


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
