"""Every call to git goes through here: one subprocess wrapper, and long-lived batch pipes.

Errors show the command, its exit code and git's own message, so a user can run it by hand.
"""
from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

from gitdatax.errors import GitError, NotARepository, NotAWorkTree

MAX_SMALL = 1023  # stub.MAX_STUB_SIZE; git.py sits below stub.py and does not import it


def run(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS`; raise GitError when it fails and check is set."""
    cmd = ["git", *args]
    # Only stdout is a pipe: input and stderr go through unnamed temporary files. With two or
    # three pipes, subprocess shuttles the data in a poll() loop of 4-32 KiB steps, which cost
    # a quarter of a second for a pre-push that reads 4000 stubs.
    with tempfile.TemporaryFile() as errors:
        if input is None:
            proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=errors, env=env)
        else:
            with tempfile.TemporaryFile() as given:
                given.write(input)
                given.seek(0)
                proc = subprocess.run(cmd, cwd=cwd, stdin=given, stdout=subprocess.PIPE, stderr=errors, env=env)
        errors.seek(0)
        proc.stderr = errors.read()
    if check and proc.returncode != 0:
        raise GitError(cmd, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def output(args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> str:
    return run(args, cwd=cwd).stdout.decode("utf-8", "surrogateescape").rstrip("\n")


class RepoPaths(NamedTuple):
    git_dir: Path
    common_dir: Path  # shared by all worktrees; the store lives here
    toplevel: Path | None  # None in a bare repository
    hooks: Path  # where git looks for hooks, core.hooksPath honoured, as it was when first asked
    bare: bool = False
    object_format: str = "sha1"  # or "sha256" (`git init --object-format=sha256`): how blob ids are made


@functools.lru_cache(maxsize=8)
def _repo_paths(cwd: str) -> RepoPaths:
    # One git process for all of it: this runs at every start of the filter and of each hook.
    # Outside a work tree (bare, or inside .git) --show-toplevel fails last, after the rest.
    proc = run(
        ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir", "--is-bare-repository",
         "--git-path", "hooks", "--show-object-format", "--show-toplevel"],
        cwd=cwd,
        check=False,
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 5:
        raise NotARepository()
    git_dir, common_dir, bare, hooks, object_format = lines[:5]
    toplevel = None
    if proc.returncode == 0 and bare != "true" and len(lines) > 5 and lines[5]:
        toplevel = Path(lines[5])
    return RepoPaths(Path(git_dir), Path(common_dir), toplevel, Path(hooks), bare == "true", object_format)


def repo_paths(cwd: str | os.PathLike[str] | None = None) -> RepoPaths:
    return _repo_paths(os.path.abspath(cwd or os.getcwd()))


def toplevel(cwd: str | os.PathLike[str] | None = None) -> Path:
    paths = repo_paths(cwd)
    if paths.toplevel is None:
        raise NotAWorkTree(paths.common_dir, paths.bare)
    return paths.toplevel


def config_get(key: str, *, cwd: str | os.PathLike[str] | None = None, scope: str | None = None) -> str | None:
    args = ["config"]
    if scope:
        args.append(f"--{scope}")
    proc = run([*args, "--get", key], cwd=cwd, check=False)
    if proc.returncode == 1:
        return None
    if proc.returncode != 0:
        raise GitError(["git", *args, "--get", key], proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def config_set(key: str, value: str, *, scope: str, cwd: str | os.PathLike[str] | None = None) -> None:
    run(["config", f"--{scope}", key, value], cwd=cwd)


def config_unset(key: str, *, scope: str, cwd: str | os.PathLike[str] | None = None) -> None:
    proc = run(["config", f"--{scope}", "--unset-all", key], cwd=cwd, check=False)
    if proc.returncode not in (0, 5):  # 5: the key was not set
        raise GitError(["git", "config", f"--{scope}", "--unset-all", key], proc.returncode, proc.stderr.decode())


def hooks_dir(cwd: str | os.PathLike[str] | None = None) -> Path:
    """Where git looks for hooks: honours core.hooksPath."""
    path = output(["rev-parse", "--path-format=absolute", "--git-path", "hooks"], cwd=cwd)
    return Path(path)


def ls_files_z(args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> list[str]:
    out = run(["ls-files", "-z", *args], cwd=cwd).stdout
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def check_attr(
    attribute: str, paths: Iterable[str], *, cached: bool = False, cwd: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """The value of one attribute for each path (unspecified/unset included as git reports them)."""
    payload = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    if not payload:
        return {}
    args = ["check-attr", "-z", "--stdin"]
    if cached:
        args.append("--cached")
    out = run([*args, attribute], cwd=cwd, input=payload).stdout.split(b"\0")
    result = {}
    for i in range(0, len(out) - 2, 3):
        result[out[i].decode("utf-8", "surrogateescape")] = out[i + 2].decode()
    return result


class IndexEntry(NamedTuple):
    mode: str
    blob: str
    stage: int
    path: str


def index_entries(*, cwd: str | os.PathLike[str] | None = None) -> list[IndexEntry]:
    out = run(["ls-files", "-s", "-z"], cwd=cwd).stdout
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, blob, stage = meta.decode().split()
        entries.append(IndexEntry(mode, blob, int(stage), path.decode("utf-8", "surrogateescape")))
    return entries


class TreeEntry(NamedTuple):
    mode: str
    kind: str  # blob, tree, commit (a submodule)
    blob: str
    size: int | None  # None for what is not a blob
    path: str


def ls_tree(rev: str, paths: Sequence[str] = (), *, cwd: str | os.PathLike[str] | None = None) -> list[TreeEntry]:
    """Every entry of `rev`'s tree, recursively (under `paths` when given), with blob sizes."""
    raw = run(["ls-tree", "-r", "-l", "-z", "--full-tree", rev, "--", *paths], cwd=cwd).stdout
    entries = []
    for record in raw.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, blob, size = meta.decode().split()
        entries.append(TreeEntry(mode, kind, blob, None if size == "-" else int(size),
                                 path.decode("utf-8", "surrogateescape")))
    return entries


def skip_worktree_paths(*, cwd: str | os.PathLike[str] | None = None) -> set[str]:
    """Index paths git keeps out of the work tree (sparse checkout, `update-index --skip-worktree`)."""
    out = run(["ls-files", "-t", "-z"], cwd=cwd).stdout
    return {record[2:].decode("utf-8", "surrogateescape") for record in out.split(b"\0") if record[:2] == b"S "}


def prefetch_missing_blobs(rev_list: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
                           stdin: bytes | None = None) -> None:
    """In a partial clone (`git clone --filter=blob:none`), the blobs (stubs) of commits never
    checked out are not local, and `rev-list --filter=blob:limit` fetches each one on its own to
    learn its size: a round trip per blob. List them without fetching and ask the promisor remote
    for all of them at once, as git's own checkout does (promisor-remote.c)."""
    pack_dir = repo_paths(cwd).common_dir / "objects" / "pack"
    try:
        if not any(name.endswith(".promisor") for name in os.listdir(pack_dir)):
            return  # not a partial clone: nothing can be missing on purpose
    except OSError:
        return
    promisor = run(["config", "--get-regexp", r"^remote\..*\.promisor$"], cwd=cwd, check=False).stdout
    remotes = [line.split()[0][len("remote."):-len(".promisor")] for line in
               promisor.decode("utf-8", "surrogateescape").splitlines() if line.split()[1:] == ["true"]]
    if not remotes:
        return
    probe = run([rev_list[0], "--missing=print", *rev_list[1:]], cwd=cwd, input=stdin, check=False).stdout
    missing = b"".join(line[1:] + b"\n" for line in probe.split(b"\n") if line.startswith(b"?"))
    if missing:  # a failure (offline) leaves rev-list to fetch them, or say why it cannot
        run(["-c", "fetch.negotiationAlgorithm=noop", "fetch", remotes[0], "--no-tags",
             "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
            cwd=cwd, input=missing, check=False)


def read_small_blobs(shas: Iterable[str], cwd: str | os.PathLike[str] | None = None, *,
                     listed_small: bool = False) -> dict[str, bytes]:
    """The content of every blob among `shas` of at most 1023 bytes (a stub's limit).

    One `cat-file --batch-check` learns types and sizes, then one `cat-file --batch` reads the
    small blobs. With `listed_small` (the ids come from `rev-list --filter=blob:limit=1024`, so
    every blob among them is small) the check is skipped: one `--batch` reads everything and
    drops what is not a blob, which halves the work when the objects are loose."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    if listed_small:
        small = wanted
    else:
        check = run(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], cwd=cwd,
                    input="".join(f"{s}\n" for s in wanted).encode()).stdout.decode().splitlines()
        small = []
        for line in check:
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob" and 0 < int(parts[2]) <= MAX_SMALL:
                small.append(parts[0])
        if not small:
            return {}
    out = run(["cat-file", "--batch"], cwd=cwd, input="".join(f"{s}\n" for s in small).encode()).stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        if len(header) != 3:  # "<id> missing": nothing follows
            pos = end + 1
            continue
        sha, kind, size = header
        start = end + 1
        if kind == "blob" and 0 < int(size) <= MAX_SMALL:
            blobs[sha] = out[start:start + int(size)]
        pos = start + int(size) + 1
    return blobs


class CatFile:
    """A long-lived `git cat-file --batch` pipe: one process for any number of blobs."""

    def __init__(self, cwd: str | os.PathLike[str] | None = None) -> None:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=1 << 16,
        )

    def header(self, rev: str) -> tuple[str, str, int] | None:
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(rev.encode("utf-8", "surrogateescape") + b"\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline().rstrip(b"\n")
        if line.endswith(b" missing") or line.endswith(b" ambiguous"):
            return None
        oid, kind, size = line.decode().split()
        return oid, kind, int(size)

    def read_small(self, rev: str, limit: int) -> tuple[str, bytes | None] | None:
        """(type, content) when the object is at most `limit` bytes, else (type, None)."""
        head = self.header(rev)
        if head is None:
            return None
        assert self._proc.stdout
        _, kind, size = head
        if size <= limit:
            data = self._proc.stdout.read(size)
            self._proc.stdout.read(1)
            return kind, data
        remaining = size + 1
        while remaining:  # skip a large object without holding it
            remaining -= len(self._proc.stdout.read(min(remaining, 1 << 20)))
        return kind, None

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> "CatFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_null_separated(data: bytes) -> Iterator[str]:
    for item in data.split(b"\0"):
        if item:
            yield item.decode("utf-8", "surrogateescape")
