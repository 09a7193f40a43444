"""Every call to git goes through here: one subprocess wrapper (`run`), one way to start a
streaming git process (`spawn`), and one reader of objects (`CatFile`, a long-lived
`git cat-file --batch-command`), so that no module outside this one builds a git command line
of its own or parses cat-file's answers.

Errors show the command, its exit code and git's own message, so a user can run it by hand.
"""
from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator, NamedTuple, Sequence

from gitdatax.errors import FatalError, GitError, MissingGitObject, NotARepository, NotAWorkTree


def run(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    show_stderr: bool = False,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS`; raise GitError when it fails and check is set. `show_stderr`: git's
    messages go to our stderr as they come (a filter's own words during a checkout) instead of
    into the error. `timeout` raises subprocess.TimeoutExpired (a credential helper that waits
    for a person who is not there)."""
    cmd = ["git", *args]
    # Only stdout is a pipe: input and stderr go through unnamed temporary files. With two or
    # three pipes, subprocess shuttles the data in a poll() loop of 4-32 KiB steps, which cost
    # a quarter of a second for a pre-push that reads 4000 stubs.
    with tempfile.TemporaryFile() as errors:
        stderr = None if show_stderr else errors
        if input is None:
            proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=stderr, env=env, timeout=timeout)
        else:
            with tempfile.TemporaryFile() as given:
                given.write(input)
                given.seek(0)
                proc = subprocess.run(cmd, cwd=cwd, stdin=given, stdout=subprocess.PIPE, stderr=stderr, env=env,
                                      timeout=timeout)
        errors.seek(0)
        proc.stderr = errors.read()
    if check and proc.returncode != 0:
        raise GitError(cmd, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def spawn(args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None,
          stdin: int | IO[bytes] | None = subprocess.DEVNULL, stdout: int | IO[bytes] | None = subprocess.PIPE,
          stderr: int | IO[bytes] | None = None, bufsize: int = -1) -> subprocess.Popen[bytes]:
    """Start `git ARGS` for a caller that streams through its pipes (fast-export into
    fast-import, `git log` of a whole push). The caller waits for it; `failed` makes its error."""
    return subprocess.Popen(["git", *args], cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                            bufsize=bufsize)


def failed(proc: subprocess.Popen[bytes], stderr: bytes | str = b"") -> GitError:
    """The GitError for a process from `spawn` that exited non-zero (its command and words)."""
    words = stderr if isinstance(stderr, str) else stderr.decode(errors="replace")
    return GitError([str(a) for a in proc.args], proc.returncode, words)  # type: ignore[union-attr]


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


def ls_files_z(args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
               command: str = "ls-files") -> list[str]:
    """The paths `git ls-files -z ARGS` (or another `command` printing paths: diff-files) lists."""
    return [p.decode("utf-8", "surrogateescape") for p in run([command, "-z", *args], cwd=cwd).stdout.split(b"\0") if p]


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


def index_entries(*, cwd: str | os.PathLike[str] | None = None, index_file: Path | None = None) -> list[IndexEntry]:
    """Every entry of the index (all stages), or of another worktree's `index_file`."""
    env = None if index_file is None else {**os.environ, "GIT_INDEX_FILE": str(index_file)}
    out = run(["ls-files", "-s", "-z"], cwd=cwd, env=env).stdout
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


def commit_of(rev: str, *, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The commit `rev` names (a tag peeled), None if none; a rev starting with "-" is no option."""
    proc = run(["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], cwd=cwd, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def commit_exists(rev: str, *, cwd: str | os.PathLike[str] | None = None) -> bool:
    return commit_of(rev, cwd=cwd) is not None


def is_zero_oid(oid: str) -> bool:
    """git's "no object" id (a created or deleted ref in a hook's input, an unborn worktree
    HEAD): all zeros, 40 of them in a SHA-1 repository and 64 in a SHA-256 one."""
    return bool(oid) and not oid.strip("0")


def skip_worktree_paths(*, cwd: str | os.PathLike[str] | None = None) -> set[str]:
    """Index paths git keeps out of the work tree (sparse checkout, `update-index --skip-worktree`)."""
    out = run(["ls-files", "-t", "-z"], cwd=cwd).stdout
    return {record[2:].decode("utf-8", "surrogateescape") for record in out.split(b"\0") if record[:2] == b"S "}


# -- reading objects: one `git cat-file --batch-command` reader ------------------------------------


class ObjectInfo(NamedTuple):
    oid: str
    kind: str  # "blob", "tree", "commit" or "tag"
    size: int


def _parse_header(line: bytes) -> ObjectInfo | None:
    """`<oid> <type> <size>` -> ObjectInfo; `<rev> missing` (or ambiguous) -> None. Split from
    the right: the rev asked for may hold spaces itself (`HEAD:my file`)."""
    fields = line.rstrip(b"\n").rsplit(b" ", 2)
    if len(fields) != 3 or not fields[2].isdigit() or fields[1] not in (b"blob", b"tree", b"commit", b"tag"):
        return None
    return ObjectInfo(fields[0].decode(), fields[1].decode(), int(fields[2]))


def _name(rev: str) -> str:
    if "\n" in rev:
        raise FatalError(f"cannot read object {rev!r}: a name with a newline")
    return rev


class CatFile:
    """One long-lived `git cat-file --batch-command --buffer` for any number of objects of any
    size, named by id or by revision (`v1:metrics.json`, `HEAD^{commit}`): bytes in, bytes out,
    no process per object (git-filter-repo's habit). Over a size limit an object's content is
    never transferred; `stream` hands over any size in chunks, never held whole. One at a time
    (`info`, `read`, `stream`) costs a round trip each; `infos` and `contents` take a whole
    list, written ahead by a thread while the answers are read."""

    def __init__(self, cwd: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None) -> None:
        self._errors = tempfile.TemporaryFile()
        self._cmd = ["git", "cat-file", "--batch-command", "--buffer"]
        self._proc = subprocess.Popen(self._cmd, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._errors, bufsize=1 << 16)
        assert self._proc.stdin and self._proc.stdout
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout

    def info(self, rev: str) -> ObjectInfo | None:
        """Type and size; None when there is no such object."""
        self._ask([f"info {_name(rev)}"])
        return self._header()

    def size(self, rev: str) -> int:
        info = self.info(rev)
        if info is None:
            raise MissingGitObject(rev)
        return info.size

    def read(self, rev: str, limit: int | None = None) -> bytes | None:
        """The content; None when it is over `limit` bytes (then not even transferred).
        MissingGitObject when there is no such object."""
        if limit is not None and self.size(rev) > limit:
            return None
        self._ask([f"contents {_name(rev)}"])
        info = self._header()
        if info is None:
            raise MissingGitObject(rev)
        return self._content(info.size)

    def stream(self, rev: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        """The content in chunks; the caller must consume all of it. MissingGitObject if absent."""
        self._ask([f"contents {_name(rev)}"])
        info = self._header()
        if info is None:
            raise MissingGitObject(rev)
        return self._chunks(info.size, chunk)

    def infos(self, revs: Iterable[str]) -> Iterator[tuple[str, ObjectInfo | None]]:
        """(rev, info or None) for each of `revs`, in order."""
        for rev, info, _ in self._pipelined("info", revs):
            yield rev, info

    def contents(self, revs: Iterable[str], limit: int | None = None) -> Iterator[tuple[str, ObjectInfo, bytes]]:
        """(rev, info, content) for each of `revs` that exists and, given a limit, holds at most
        `limit` bytes (sizes are asked first, so a larger object is never read)."""
        if limit is not None:
            revs = [rev for rev, info in self.infos(revs) if info is not None and info.size <= limit]
        for rev, info, data in self._pipelined("contents", revs):
            if info is not None:
                yield rev, info, data

    def close(self) -> None:
        try:
            self._in.close()
        except BrokenPipeError:
            pass
        self._out.close()
        self._proc.wait()
        self._errors.close()

    def __enter__(self) -> "CatFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the wire ------------------------------------------------------------------------------

    def _ask(self, commands: list[str]) -> None:
        try:
            self._write(commands)
        except BrokenPipeError:
            raise self._died() from None

    def _write(self, commands: Iterable[str]) -> None:
        try:
            for command in commands:
                self._in.write(command.encode("utf-8", "surrogateescape") + b"\n")
        finally:
            self._in.write(b"flush\n")  # --buffer: answer what was asked so far
            self._in.flush()

    def _header(self) -> ObjectInfo | None:
        line = self._out.readline()
        if not line:
            raise self._died()
        return _parse_header(line)

    def _content(self, size: int) -> bytes:
        data = self._out.read(size + 1)  # the content and its newline
        if len(data) != size + 1:
            raise self._died()
        return data[:-1]

    def _chunks(self, size: int, chunk: int) -> Iterator[bytes]:
        remaining = size
        while remaining:
            data = self._out.read(min(remaining, chunk))
            if not data:
                raise self._died()
            remaining -= len(data)
            yield data
        self._out.read(1)

    def _pipelined(self, command: str, revs: Iterable[str]) -> Iterator[tuple[str, ObjectInfo | None, bytes]]:
        import queue
        import threading

        asked: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # the reader's list of what comes
        failure: list[BaseException] = []

        def feed() -> None:
            def each() -> Iterator[str]:
                for rev in revs:
                    asked.put(_name(rev))
                    yield f"{command} {rev}"
            try:
                self._write(each())
            except BrokenPipeError:
                pass  # git died: the reader sees its output end and says why
            except BaseException as exc:  # noqa: BLE001 - the reader raises it
                failure.append(exc)
            finally:
                asked.put(None)

        writer = threading.Thread(target=feed, daemon=True, name="datax-cat-file")
        writer.start()
        done = False
        try:
            while (rev := asked.get()) is not None:
                info = self._header()
                yield rev, info, self._content(info.size) if command == "contents" and info else b""
            done = True
        finally:
            if not done and self._proc.poll() is None:
                # The caller stopped early: read what is still coming, so that the next request
                # gets its own answer and the writer is not blocked on a full pipe.
                while (rev := asked.get()) is not None:
                    info = self._header()
                    if command == "contents" and info:
                        self._content(info.size)
            writer.join()
        if failure:
            raise failure[0]

    def _died(self) -> GitError:
        """git stopped answering: its command, exit code and own words, as from run()."""
        try:
            self._in.close()
        except BrokenPipeError:
            pass
        code = self._proc.wait()
        self._errors.seek(0)
        return GitError(self._cmd, code, self._errors.read().decode(errors="replace"))


def rev_list_objects(rev_args: Sequence[str], *, stdin: bytes | None = None,
                     cwd: str | os.PathLike[str] | None = None) -> Iterator[tuple[ObjectInfo, str]]:
    """(info, path) for each object `git rev-list --objects REV_ARGS` lists (a commit's path and
    its root tree's are ""), type and size from `cat-file --batch-check`: the list goes from one
    process to the other through a pipe, never through Python. `stdin`: revisions for --stdin."""
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as errors:
        given.write(stdin or b"")
        given.seek(0)
        rev_list = spawn(["rev-list", "--objects", *rev_args], cwd=cwd, stdin=given, stderr=errors)
        check = spawn(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)"],
                      cwd=cwd, stdin=rev_list.stdout, stderr=subprocess.DEVNULL)
        assert rev_list.stdout and check.stdout
        rev_list.stdout.close()  # the cat-file process owns the read end now
        complete = False
        try:
            for line in check.stdout:
                head, _, path = line.rstrip(b"\n").partition(b" ")  # oid, then "type size path"
                kind, _, rest = path.partition(b" ")
                size, _, path = rest.partition(b" ")
                if size.isdigit():
                    yield ObjectInfo(head.decode(), kind.decode(), int(size)), path.decode("utf-8", "surrogateescape")
            complete = True
        finally:
            if not complete:  # the caller stopped early
                rev_list.kill()
            check.stdout.close()
            check.wait()
            if rev_list.wait() != 0 and complete:
                errors.seek(0)
                raise failed(rev_list, errors.read())
