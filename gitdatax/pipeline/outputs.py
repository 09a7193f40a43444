"""A stage's outs in the store: saved after a run, brought back for a run-cache hit.

Saving stores each file with the store's put of a stream, exactly the object `git add` makes
through the filter (so the commit after `repro` finds every object present); a folder is also
kept as its listing, an object of its own, so a run-cache hit can rebuild it. Outs with
`cache: false` (metrics, plots) stay plain Git but are saved too, for the same reason.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from gitdatax import attributes, git
from gitdatax.errors import FatalError, NoRemoteConfigured
from gitdatax.files import write_atomically
from gitdatax.pipeline.hashing import FileState, WorkTreeHasher, listing_bytes, parse_listing
from gitdatax.pipeline.model import Out, Stage
from gitdatax.scan.blobs import small_blobs
from gitdatax.stub import Stub
from gitdatax.stub import parse as parse_stub

if TYPE_CHECKING:
    from gitdatax.filter.clean import Cleaner
    from gitdatax.store.objectstore import ObjectStore

EMPTY_OID = hashlib.sha256(b"").hexdigest()  # an empty file: git stores it as it is, no stub


def save_outs(stage: Stage, store: ObjectStore, hasher: WorkTreeHasher) -> dict[str, FileState]:
    """Store every out of a stage that just ran, as `git add` stores it (filter/clean.py: the
    same objects, the stubs journalled, so the add that follows costs a hash at most); a missing
    out fails the stage."""
    from gitdatax.filter.clean import Cleaner

    saved: dict[str, FileState] = {}
    cleaner = Cleaner(store)
    try:
        for out in stage.all_outs():
            full = hasher.top / out.path
            hasher.forget(out.path)
            if not full.exists():
                raise FatalError(f"stage '{stage.name}': the command did not write its out '{out.path}'")
            if full.is_dir():
                entries = []
                for rel, _ in hasher.listing(out.path):
                    entries.append((rel, _put(cleaner, hasher, f"{out.path}/{rel}")))
                listing = listing_bytes(entries)
                store.put_bytes(listing)
                saved[out.path] = FileState(hashlib.sha256(listing).hexdigest(), sum(s.size for _, s in entries),
                                            len(entries))
            else:
                saved[out.path] = _put(cleaner, hasher, out.path)
            hasher.forget(out.path)
    finally:
        failed = cleaner.close()  # small objects are written on a worker thread: wait for them
    if failed:
        raise FatalError(f"stage '{stage.name}': cannot store {failed[0].pathname}: {failed[0].error}")
    return saved


def _put(cleaner: Cleaner, hasher: WorkTreeHasher, rel: str) -> FileState:
    full = hasher.top / rel
    st = os.stat(full)
    stored = cleaner.clean_file(full, rel)  # its stub; the stub itself when the file is one already
    stub = parse_stub(stored) if stored else Stub(EMPTY_OID, 0)
    if stub is None:
        raise AssertionError(f"clean gave no stub for {rel}")
    hasher.cache.put(rel, st, stub.oid, stub.size)
    return FileState(stub.oid, stub.size)


def move_aside(stage: Stage, top: Path, scratch: Path) -> list[tuple[Path, Path]]:
    """Outs out of the way before the command runs (DVC deletes them; a failure puts them back,
    so nothing is lost). `persist: true` outs stay where they are."""
    moved = []
    for out in stage.all_outs():
        if out.persist:
            continue
        full = top / out.path
        if full.exists() or full.is_symlink():
            scratch.mkdir(parents=True, exist_ok=True)
            target = scratch / f"{len(moved)}"
            os.replace(full, target)
            moved.append((full, target))
    return moved


def put_back(moved: list[tuple[Path, Path]]) -> None:
    for original, aside in moved:
        if original.exists() or original.is_symlink():
            _remove(original)
        original.parent.mkdir(parents=True, exist_ok=True)
        os.replace(aside, original)


def drop(moved: list[tuple[Path, Path]]) -> None:
    for _, aside in moved:
        _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# -- bringing outs back -----------------------------------------------------------------------

class Restorer:
    """Writes outs from the store, fetching what it lacks from the default remote in one batch,
    and plain-Git outs from the commit whose lock named them."""

    def __init__(self, top: Path, store: ObjectStore, quiet: bool = False) -> None:
        self.top = top
        self.store = store
        self.quiet = quiet

    def plan(self, outs: dict[str, FileState], commit: str | None) -> list[tuple[str, FileState]] | None:
        """Every file to write (path, identity), or None when a folder's listing is nowhere."""
        files: list[tuple[str, FileState]] = []
        for path, state in outs.items():
            if state.nfiles is None:
                files.append((path, state))
                continue
            listing = self._listing(path, state, commit)
            if listing is None:
                return None
            files += [(f"{path}/{rel}", entry) for rel, entry in listing]
        return files

    def _listing(self, path: str, state: FileState, commit: str | None) -> list[tuple[str, FileState]] | None:
        if self.store.has(state.oid):
            # The listing's own size is not recorded (the lock's size is the folder's): read it
            # whole, it is small (about 90 bytes a file), and check its hash instead.
            return parse_listing(_read_object(self.store, state.oid))
        if commit is None:
            return None
        entries = _tree_states(self.top, commit, path)
        if entries is None or hashlib.sha256(listing_bytes(entries)).hexdigest() != state.oid:
            return None
        return entries

    def restore(self, outs: dict[str, FileState], commit: str | None) -> bool:
        """Write the outs; False (nothing written) when some object cannot be had."""
        files = self.plan(outs, commit)
        if files is None:
            return False
        missing = [Stub(s.oid, s.size) for _, s in files if s.size and not self.store.has(s.oid)]
        if missing:
            self._fetch(missing)
        from_git: dict[str, str] = {}
        for path, state in files:
            if state.size and not self.store.has(state.oid):
                blob = _blob_at(self.top, commit, path) if commit else None
                if blob is None:
                    return False
                from_git[path] = blob
        for path, out in outs.items():
            if out.nfiles is not None and (self.top / path).exists():
                _remove(self.top / path)
        for path, state in files:
            if path in from_git:
                _write_from_git(self.top, path, from_git[path], state)
            else:
                _write_from_store(self.top, path, self.store, state)
        return True

    def _fetch(self, stubs: list[Stub]) -> None:
        from gitdatax.remotes.remote_config import open_configured
        from gitdatax.sync.transfer import download_missing

        try:
            remote = open_configured(None, cwd=self.top)
        except NoRemoteConfigured:
            return
        try:
            download_missing(remote, self.store, stubs, quiet=self.quiet)
        except FatalError:
            pass  # what did not arrive is looked for in Git, else the stage runs
        finally:
            try:
                remote.close()
            except Exception:  # noqa: BLE001 - closing must not fail the restore
                pass


def _read_object(store: Any, oid: str) -> bytes:
    """A small object whose size no stub records (a folder's listing), whole and checked."""
    from gitdatax.errors import CorruptObject, ObjectMissing

    try:
        size = store.content_size(oid)
        data = b"".join(store.read_verified(Stub(oid, size)))
    except (CorruptObject, ObjectMissing):
        data = b""
    if hashlib.sha256(data).hexdigest() != oid:
        raise FatalError(f"object {oid} in the store is damaged: run `git datax fsck`")
    return data


def _atomic_write(top: Path, path: str, chunks: Any, check: Callable[[], None] | None = None) -> None:
    """`path` replaced by `chunks` all at once; `check` (raising to refuse) runs once they are
    written and before a folder in the way is removed."""
    full = top / path
    full.parent.mkdir(parents=True, exist_ok=True)

    def make_room() -> None:
        if check is not None:
            check()
        if full.is_dir() and not full.is_symlink():
            shutil.rmtree(full)

    write_atomically(full, chunks, verify=make_room)


def _write_from_store(top: Path, path: str, store: ObjectStore, state: FileState) -> None:
    _atomic_write(top, path, store.read_verified(Stub(state.oid, state.size)) if state.size else [])


def _write_from_git(top: Path, path: str, blob: str, state: FileState) -> None:
    digest = hashlib.sha256()

    def check() -> None:
        if digest.hexdigest() != state.oid:
            raise FatalError(f"'{path}' in git does not hold the content the lock names ({state.oid[:12]})")

    with git.CatFile(top) as cat:  # streamed and hashed on the way: never held whole
        _atomic_write(top, path, _hashing(cat.stream(blob), digest), check)


def _hashing(chunks: Iterator[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _blob_at(top: Path, commit: str, path: str) -> str | None:
    proc = git.run(["rev-parse", "--verify", "-q", f"{commit}:{path}"], cwd=top, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def _tree_states(top: Path, commit: str, folder: str) -> list[tuple[str, FileState]] | None:
    """A folder out as a commit holds it: the stubs name the data; other blobs are plain Git."""
    try:
        records = [(e.path, e.blob, e.size or 0) for e in git.ls_tree(commit, [folder + "/"], cwd=top)
                   if e.kind == "blob"]
    except FatalError:  # the commit is not here (a shallow clone): no listing from it
        return None
    if not records:
        return None
    small = small_blobs([blob for _, blob, size in records if size < 1024], cwd=top, sizes_known=True)
    entries = []
    with git.CatFile(top) as cat:
        for name, blob, size in records:
            stub = parse_stub(small[blob]) if blob in small else None
            if stub is None:  # plain content in git: its hash, streamed
                digest = hashlib.sha256()
                for _ in _hashing(cat.stream(blob), digest):
                    pass
                stub = Stub(digest.hexdigest(), size)
            entries.append((name[len(folder) + 1:], FileState(stub.oid, stub.size)))
    return entries


# -- .gitattributes ---------------------------------------------------------------------------

def attribute_pattern(out: Out, is_dir: bool) -> str:
    pattern = out.path if "/" in out.path else "/" + out.path  # a bare name would match anywhere
    return pattern + "/**" if is_dir else pattern


def track_outs(top: Path, outs: list[tuple[Out, bool]]) -> list[str]:
    """Write the `.gitattributes` lines the cached outs need (as `git datax track` does) so that
    `git add` stores them as stubs; returns the patterns added."""
    wanted = [(out, attribute_pattern(out, is_dir)) for out, is_dir in outs if out.cache]
    if not wanted:
        return []
    files = [out.path for out, pattern in wanted if not pattern.endswith("/**")]
    files += [out.path + "/x" for out, pattern in wanted if pattern.endswith("/**")]
    current = git.check_attr("filter", files, cwd=top)
    path = top / ".gitattributes"
    lines = attributes.read_lines(path)
    present = {parsed[0] for parsed in map(attributes.split_line, lines) if parsed}
    added = []
    for out, pattern in wanted:
        probe = out.path + "/x" if pattern.endswith("/**") else out.path
        if current.get(probe) == "datax" or pattern in present:
            continue
        lines.append(f"{attributes.quote_pattern(pattern)} {attributes.ATTRIBUTES}")
        present.add(pattern)
        added.append(pattern)
    if added:
        attributes.write_lines(path, lines)
    return added
