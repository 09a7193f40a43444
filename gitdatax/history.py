"""Rewriting history safely: `git fast-export --no-data | transform | git fast-import`.

The export carries no file contents (`--no-data`): commits name their blobs by id, and only the
blobs a Converter wants to change are read, one at a time, streamed into the store. Nothing
touches the user's refs until the very end:
  - fast-import runs against a scratch git directory (its refs) that shares the repository's
    object database (GIT_OBJECT_DIRECTORY), so new objects land where they will be needed but no
    ref, index or work tree file of the repository changes while it runs;
  - the stream ends with `done` and fast-import runs with `--done`: if we die half-way, it sees
    the stream end early and fails instead of writing even its scratch refs;
  - new store objects go to a staging store and are published just before the refs move;
  - the refs then move in one `git update-ref --stdin` transaction that also creates a backup
    ref for each (refs/datax-backup/<time>/<ref>) and checks each old value is still current.
Killed at any point before that transaction, the repository is as it was (the unreachable
objects fast-import wrote are removed by a later `git gc`).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, NamedTuple

from gitdatax import git, output
from gitdatax.errors import FatalError, GitError
from gitdatax.store import ObjectStore

BACKUP_NAMESPACE = "refs/datax-backup"
CHUNK = 1 << 20
_ESCAPES = {b"a": 7, b"b": 8, b"f": 12, b"n": 10, b"r": 13, b"t": 9, b"v": 11, b"\\": 92, b'"': 34}


class Converter:
    """What a migration changes. Paths are str (utf-8, surrogateescape); blobs are hex ids."""

    # Every rewritten commit must hold a top-level .gitattributes (import adds its lines there).
    ensure_root_attributes = False

    def is_attributes(self, path: str) -> bool:
        return False

    def new_attributes(self, path: str, original: bytes | None) -> bytes | None:
        """The new content of a .gitattributes file (None: the file stays absent)."""
        return original

    def convert_file(self, path: str, blob: str) -> bytes | None:
        """A small replacement blob (a stub) for this file, or None to keep it as it is."""
        return None


class RefUpdate(NamedTuple):
    ref: str
    old: str
    new: str
    backup: str


# -- quoting paths in the fast-import stream ---------------------------------------------------


def unquote_path(raw: bytes) -> bytes:
    """fast-export writes a path C-quoted when it has special characters (or a space)."""
    if not raw.startswith(b'"'):
        return raw
    out = bytearray()
    i, body = 0, raw[1:-1]
    while i < len(body):
        c = body[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:  # \ooo octal
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
    return bytes(out)


def quote_path(path: bytes) -> bytes:
    """Always C-quote: fast-import accepts it for any path."""
    out = bytearray(b'"')
    for byte in path:
        if byte in (34, 92):
            out += b"\\" + bytes([byte])
        elif byte < 32 or byte == 127:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def _text(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


# -- reading blobs -------------------------------------------------------------------------------


class Blobs:
    """Two long-lived pipes: `cat-file --batch-check` for sizes, `cat-file --batch` for contents
    (a big blob is streamed, never held)."""

    def __init__(self, cwd: str | os.PathLike[str] | None = None) -> None:
        self._check = subprocess.Popen(["git", "cat-file", "--batch-check"], cwd=cwd,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._batch = subprocess.Popen(["git", "cat-file", "--batch"], cwd=cwd,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=CHUNK)

    @staticmethod
    def _ask(proc: subprocess.Popen[bytes], blob: str) -> int:
        assert proc.stdin and proc.stdout
        proc.stdin.write(blob.encode() + b"\n")
        proc.stdin.flush()
        fields = proc.stdout.readline().split()
        if len(fields) != 3:
            raise FatalError(f"object {blob} is missing from the repository (run `git fsck`)")
        return int(fields[2])

    def size(self, blob: str) -> int:
        return self._ask(self._check, blob)

    def read(self, blob: str) -> bytes:
        size = self._ask(self._batch, blob)
        assert self._batch.stdout
        data = self._batch.stdout.read(size)
        self._batch.stdout.read(1)
        return data

    def stream(self, blob: str) -> Iterator[bytes]:
        """The blob's content in chunks; the caller must consume all of it."""
        remaining = self._ask(self._batch, blob)
        assert self._batch.stdout
        while remaining:
            chunk = self._batch.stdout.read(min(remaining, CHUNK))
            if not chunk:
                raise FatalError(f"git cat-file ended early reading {blob}")
            remaining -= len(chunk)
            yield chunk
        self._batch.stdout.read(1)

    def close(self) -> None:
        for proc in (self._check, self._batch):
            if proc.stdin:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            proc.wait()

    def __enter__(self) -> "Blobs":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the scratch area and the staging store ------------------------------------------------------


class StagingStore(ObjectStore):
    """Objects written by a migration, kept apart until the refs move; `has` also looks in the
    real store so that nothing already stored is compressed twice."""

    def __init__(self, root: Path, main: ObjectStore) -> None:
        super().__init__(root, main.level)
        self.main = main

    def has(self, oid: str) -> bool:
        return super().has(oid) or self.main.has(oid)

    def publish(self) -> int:
        moved = 0
        for oid in list(self._own_oids()):
            target = self.main.object_path(oid)
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.object_path(oid), target)
                moved += 1
        return moved

    def _own_oids(self) -> Iterator[str]:
        return ObjectStore(self.root).iter_oids()


class Scratch:
    """A private working area under datax/migrate/, one migration at a time (an flock that dies
    with the process), cleaned on exit and, after a kill, by the next migration."""

    def __init__(self, store: ObjectStore) -> None:
        self.base = store.root / "migrate"
        self.dir = self.base / f"run-{os.getpid()}"
        self.git_dir = self.dir / "git"
        self.staging = StagingStore(self.dir / "store", store)
        self._lock: BinaryIO | None = None

    def __enter__(self) -> "Scratch":
        self.base.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.base / "lock", "wb")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise FatalError("another `git datax migrate` is running in this repository") from None
        for stale in self.base.glob("run-*"):
            shutil.rmtree(stale, ignore_errors=True)
        git.run(["init", "-q", "--bare", str(self.git_dir)])
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()


# -- the transform ---------------------------------------------------------------------------------


class _Transform:
    def __init__(self, source: BinaryIO, sink: BinaryIO, converter: Converter, blobs: Blobs,
                 on_commit: Callable[[], None], cwd: str | os.PathLike[str] | None) -> None:
        self.readline = source.readline
        self.source = source
        self.write = sink.write
        self.conv = converter
        self.blobs = blobs
        self.on_commit = on_commit
        self.cwd = cwd

    def run(self) -> None:
        while line := self.readline():
            if line.startswith(b"commit "):
                self.commit(line)
            elif line.startswith(b"data "):
                self.write(line)
                self.copy(int(line[5:]))
            else:
                self.write(line)
        self.write(b"done\n")

    def copy(self, count: int) -> None:
        while count:
            chunk = self.source.read(min(count, CHUNK))
            if not chunk:
                raise FatalError("git fast-export ended in the middle of a message")
            self.write(chunk)
            count -= len(chunk)

    def inline(self, path: bytes, data: bytes, mode: bytes = b"100644") -> None:
        self.write(b"M %s inline %s\ndata %d\n%s\n" % (mode, quote_path(path), len(data), data))

    def commit(self, first: bytes) -> None:
        self.write(first)
        original = None
        while line := self.readline():  # header: mark, original-oid, author, committer, data
            self.write(line)
            if line.startswith(b"original-oid "):
                original = line[13:].strip().decode()
            if line.startswith(b"data "):
                self.copy(int(line[5:]))
                break
        parent = "none"
        touched: set[bytes] = set()
        while (line := self.readline()) not in (b"\n", b""):
            if line.startswith(b"from "):
                parent = "rewritten" if line[5:6] == b":" else "kept"
                self.write(line)
            elif line.startswith(b"M "):
                mode, blob, raw = line[2:].rstrip(b"\n").split(b" ", 2)
                path = unquote_path(raw)
                touched.add(path)
                if not self.modify(path, mode, blob.decode()):
                    self.write(line)
            elif line.startswith(b"D "):
                path = unquote_path(line[2:].rstrip(b"\n"))
                touched.add(path)
                new = self.conv.new_attributes(_text(path), None) if self.conv.is_attributes(_text(path)) else None
                if new is None:
                    self.write(line)
                else:
                    self.inline(path, new)
            else:  # merge, deleteall, notes
                self.write(line)
        if parent == "kept" and original:
            # The first parent is outside the rewrite: its tree (raw files, old attributes) is
            # inherited, so convert what this commit did not mention itself.
            for mode, blob, path in _tree_files(original, self.cwd):
                if path not in touched:
                    touched.add(path)
                    self.modify(path, mode, blob)
        if self.conv.ensure_root_attributes and parent != "rewritten" and b".gitattributes" not in touched:
            new = self.conv.new_attributes(".gitattributes", None)
            if new is not None:
                self.inline(b".gitattributes", new)
        self.write(b"\n")
        self.on_commit()

    def modify(self, path: bytes, mode: bytes, blob: str) -> bool:
        """Write the converted M line for this file and return True, or False to keep it."""
        if mode not in (b"100644", b"100755"):
            return False  # symlinks and submodules hold no data
        text = _text(path)
        if self.conv.is_attributes(text):
            original = self.blobs.read(blob)
            new = self.conv.new_attributes(text, original)
            if new is None or new == original:
                return False
            self.inline(path, new, mode)
            return True
        replacement = self.conv.convert_file(text, blob)
        if replacement is None:
            return False
        self.inline(path, replacement, mode)
        return True


def _tree_files(commit: str, cwd: str | os.PathLike[str] | None) -> list[tuple[bytes, str, bytes]]:
    raw = git.run(["ls-tree", "-r", "-z", commit], cwd=cwd).stdout
    files = []
    for record in raw.split(b"\0"):
        if record:
            meta, _, path = record.partition(b"\t")
            mode, kind, blob = meta.split()
            if kind == b"blob":
                files.append((mode, blob.decode(), path))
    return files


# -- the whole run -----------------------------------------------------------------------------------


def ref_values(refs: list[str], cwd: str | os.PathLike[str] | None = None,
               env: dict[str, str] | None = None) -> dict[str, str]:
    if not refs:
        return {}
    proc = git.run(["for-each-ref", "--format=%(objectname) %(refname)", *refs], cwd=cwd, env=env)
    values = {}
    for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        value, _, name = line.partition(" ")
        values[name] = value
    return values


def rewrite(refs: list[str], excludes: list[str], converter: Converter, scratch: Scratch, blobs: Blobs,
            *, cwd: str | os.PathLike[str] | None = None) -> list[RefUpdate]:
    """Rewrite the history of `refs` (full ref names) minus `excludes` into the scratch git dir.
    Returns the ref updates to make; the repository's refs are not touched."""
    paths = git.repo_paths(cwd)
    before = ref_values(refs, cwd)
    total = int(git.output(["rev-list", "--count", *refs, *(f"^{x}" for x in excludes), "--"], cwd=cwd) or 0)
    export_cmd = ["git", "fast-export", "--no-data", "--show-original-ids", "--reference-excluded-parents",
                  "--signed-tags=strip", "--tag-of-filtered-object=rewrite", "--reencode=no",
                  *refs, *(f"^{x}" for x in excludes), "--"]
    import_cmd = ["git", "fast-import", "--done", "--quiet", "--force"]
    import_env = {**os.environ, "GIT_DIR": str(scratch.git_dir),
                  "GIT_OBJECT_DIRECTORY": str(paths.common_dir / "objects")}
    import_env.pop("GIT_ALTERNATE_OBJECT_DIRECTORIES", None)
    export_err = open(scratch.dir / "fast-export.err", "wb")
    import_err = open(scratch.dir / "fast-import.err", "wb")
    exporter = subprocess.Popen(export_cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=export_err, bufsize=CHUNK)
    importer = subprocess.Popen(import_cmd, cwd=cwd, stdin=subprocess.PIPE, stderr=import_err,
                                env=import_env, bufsize=CHUNK)
    bar = output.progress(total, "migrate: rewriting commits", unit="commit")
    try:
        assert exporter.stdout and importer.stdin
        try:
            _Transform(exporter.stdout, importer.stdin, converter, blobs, lambda: bar.update(1), cwd).run()
            importer.stdin.close()
        except BrokenPipeError:
            # fast-import stopped early; its own message says why. Stop the exporter first: it
            # may be blocked writing to a pipe nobody reads any more.
            exporter.kill()
            exporter.wait()
            importer.wait()
            raise GitError(import_cmd, importer.returncode, _read(scratch.dir / "fast-import.err")) from None
        if exporter.wait() != 0:
            raise GitError(export_cmd, exporter.returncode, _read(scratch.dir / "fast-export.err"))
        if importer.wait() != 0:
            raise GitError(import_cmd, importer.returncode, _read(scratch.dir / "fast-import.err"))
    finally:
        bar.close()
        for proc in (exporter, importer):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        export_err.close()
        import_err.close()
    after = ref_values(refs, cwd, env=import_env)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    updates = []
    for ref in refs:
        if ref in after and ref in before and after[ref] != before[ref]:
            updates.append(RefUpdate(ref, before[ref], after[ref], f"{BACKUP_NAMESPACE}/{stamp}/{ref}"))
    return updates


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def apply(updates: list[RefUpdate], message: str, cwd: str | os.PathLike[str] | None = None) -> None:
    """Move every ref and create its backup in one transaction: all or nothing."""
    lines = ["start"]
    for u in updates:
        lines.append(f"update {u.ref} {u.new} {u.old}")
        lines.append(f"create {u.backup} {u.old}")
    lines += ["prepare", "commit"]
    proc = git.run(["update-ref", "--stdin", "-m", message], cwd=cwd,
                   input=("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"), check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise FatalError("refs not updated (a ref changed while migrate ran?): "
                         + (detail[-1] if detail else f"git update-ref exited {proc.returncode}"))


def refresh_work_tree(updates: list[RefUpdate], cwd: str | os.PathLike[str] | None = None) -> bool:
    """If the checked-out branch moved, make the index and work tree match it (the work tree was
    clean, so nothing of the user's is lost). True when it did."""
    head = git.run(["symbolic-ref", "-q", "HEAD"], cwd=cwd, check=False).stdout.decode().strip()
    if not head or head not in {u.ref for u in updates} or git.repo_paths(cwd).toplevel is None:
        return False
    git.run(["reset", "-q", "--hard", "HEAD"], cwd=cwd)
    return True


def require_clean(cwd: str | os.PathLike[str] | None = None) -> None:
    if git.run(["rev-parse", "--is-shallow-repository"], cwd=cwd).stdout.strip() == b"true":
        raise FatalError("this is a shallow clone: migrate needs the whole history (git fetch --unshallow)")
    if git.repo_paths(cwd).toplevel is None:
        return
    changes = git.run(["status", "--porcelain", "--untracked-files=no"], cwd=cwd).stdout
    if changes.strip():
        raise FatalError("the work tree has uncommitted changes: commit or stash them first "
                         "(`git status` lists them); migrate rewrites the checked-out branch")
    top = git.toplevel(cwd)
    untracked = git.run(["ls-files", "--others", "--", ".gitattributes"], cwd=top).stdout.strip()
    if untracked:
        # The rewritten commits carry a .gitattributes; checking them out would overwrite it.
        raise FatalError(f"{top / '.gitattributes'} is not committed: commit it (or move it away) first")


def require_filter(cwd: str | os.PathLike[str] | None = None) -> None:
    if not git.config_get("filter.datax.process", cwd=cwd) and not git.config_get("filter.datax.smudge", cwd=cwd):
        raise FatalError("the datax filter is not configured: run `git datax install` first")
