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
from typing import BinaryIO, Iterator, NamedTuple

from gitdatax import git, output
from gitdatax.errors import FatalError
# Converters and their pipes live in history_stream; re-exported so callers use one module.
from gitdatax.migrate.history_stream import CHUNK, Converter, Transform  # noqa: F401
from gitdatax.store.objectstore import ObjectStore

BACKUP_NAMESPACE = "refs/datax-backup"


class RefUpdate(NamedTuple):
    ref: str
    old: str
    new: str
    backup: str


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
            moved += self.main.adopt_from(self, oid)
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


def rewrite(refs: list[str], excludes: list[str], converter: Converter, scratch: Scratch, blobs: git.CatFile,
            *, cwd: str | os.PathLike[str] | None = None) -> list[RefUpdate]:
    """Rewrite the history of `refs` (full ref names) minus `excludes` into the scratch git dir.
    Returns the ref updates to make; the repository's refs are not touched."""
    paths = git.repo_paths(cwd)
    before = ref_values(refs, cwd)
    total = int(git.output(["rev-list", "--count", *refs, *(f"^{x}" for x in excludes), "--"], cwd=cwd) or 0)
    export_cmd = ["fast-export", "--no-data", "--show-original-ids", "--reference-excluded-parents",
                  "--signed-tags=strip", "--tag-of-filtered-object=rewrite", "--reencode=no",
                  *refs, *(f"^{x}" for x in excludes), "--"]
    import_cmd = ["fast-import", "--done", "--quiet", "--force"]
    import_env = {**os.environ, "GIT_DIR": str(scratch.git_dir),
                  "GIT_OBJECT_DIRECTORY": str(paths.common_dir / "objects")}
    import_env.pop("GIT_ALTERNATE_OBJECT_DIRECTORIES", None)
    export_err = open(scratch.dir / "fast-export.err", "wb")
    import_err = open(scratch.dir / "fast-import.err", "wb")
    exporter = git.spawn(export_cmd, cwd=cwd, stderr=export_err, bufsize=CHUNK)
    importer = git.spawn(import_cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=None, stderr=import_err,
                         env=import_env, bufsize=CHUNK)
    bar = output.progress(total, "migrate: rewriting commits", unit="commit")
    try:
        assert exporter.stdout and importer.stdin
        try:
            Transform(exporter.stdout, importer.stdin, converter, blobs, lambda: bar.update(1), cwd).run()
            importer.stdin.close()
        except BrokenPipeError:
            # fast-import stopped early; its own message says why. Stop the exporter first: it
            # may be blocked writing to a pipe nobody reads any more.
            exporter.kill()
            exporter.wait()
            importer.wait()
            raise git.failed(importer, _read(scratch.dir / "fast-import.err")) from None
        if exporter.wait() != 0:
            raise git.failed(exporter, _read(scratch.dir / "fast-export.err"))
        if importer.wait() != 0:
            raise git.failed(importer, _read(scratch.dir / "fast-import.err"))
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


REFRESH_PENDING = "refresh-pending"  # <store>/migrate/: the commit whose work tree refresh is due


def _refresh_mark(cwd: str | os.PathLike[str] | None) -> Path:
    return git.repo_paths(cwd).common_dir / "datax" / "migrate" / REFRESH_PENDING


def apply(updates: list[RefUpdate], message: str, cwd: str | os.PathLike[str] | None = None) -> None:
    """Move every ref and create its backup in one transaction: all or nothing. When the
    checked-out branch moves, a mark names its new commit until refresh_work_tree is done, so a
    migrate stopped in between finishes the refresh when run again (require_clean)."""
    head = git.run(["symbolic-ref", "-q", "HEAD"], cwd=cwd, check=False).stdout.decode().strip()
    moved = [u for u in updates if u.ref == head]
    if moved:
        mark = _refresh_mark(cwd)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text(f"{moved[0].new} {moved[0].old}\n")
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
    _refresh_mark(cwd).unlink(missing_ok=True)
    return True


def _finish_interrupted_refresh(cwd: str | os.PathLike[str] | None) -> None:
    """A migrate stopped after its refs moved but before the work tree followed leaves the old
    files against the new HEAD: what it meant to do, since the work tree was clean, is `reset
    --hard` to that commit (found by benchmarks/fault_injection.py)."""
    mark = _refresh_mark(cwd)
    try:
        due, _, old = mark.read_text().strip().partition(" ")
    except FileNotFoundError:
        return
    head = git.run(["rev-parse", "-q", "--verify", "HEAD"], cwd=cwd, check=False).stdout.decode().strip()
    if head != due:
        mark.unlink(missing_ok=True)  # the transaction never happened: nothing to finish
        return
    # Only while index and work tree differ from the old commit in nothing but paths the rewrite
    # changed (the reset itself may have been stopped half way): nothing else may be lost.
    git.run(["update-index", "-q", "--refresh"], cwd=cwd, check=False)  # stat data, not content
    rewritten = _names(["diff", "--name-only", "-z", old, due], cwd)
    changed = _names(["diff-index", "--cached", "--name-only", "-z", old, "--"], cwd)
    changed |= _names(["diff-files", "--name-only", "-z"], cwd)
    if not changed <= rewritten:
        raise FatalError("a migrate was stopped after rewriting the checked-out branch and before the work tree "
                         f"followed it, and files changed since ({sorted(changed - rewritten)[0]}): commit or "
                         "stash them, then `git reset --hard` brings the work tree to the rewritten commit")
    output.info("migrate: finishing the work tree update of a migrate that was stopped")
    git.run(["reset", "-q", "--hard", "HEAD"], cwd=cwd)
    mark.unlink(missing_ok=True)


def _names(args: list[str], cwd: str | os.PathLike[str] | None) -> set[str]:
    out = git.run(args, cwd=cwd, check=False).stdout
    return {p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p}


def require_clean(cwd: str | os.PathLike[str] | None = None) -> None:
    if git.run(["rev-parse", "--is-shallow-repository"], cwd=cwd).stdout.strip() == b"true":
        raise FatalError("this is a shallow clone: migrate needs the whole history (git fetch --unshallow)")
    if git.repo_paths(cwd).toplevel is None:
        return
    _finish_interrupted_refresh(cwd)
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


def stale_worktrees(updates: list[RefUpdate], cwd: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """(path, branch) of the other worktrees that have a rewritten branch checked out: their
    index still describes the old commit."""
    top = str(git.toplevel(cwd))
    moved = {u.ref for u in updates}
    stale, path = [], None
    for line in git.output(["worktree", "list", "--porcelain"], cwd=cwd).splitlines():
        if line.startswith("worktree "):
            path = line[len("worktree "):]
        elif line.startswith("branch ") and line[len("branch "):] in moved and path != top:
            stale.append((str(path), line[len("branch "):]))
    return stale
