"""`migrate from-lfs`: a Git LFS repository becomes a gitdatax one.

A Git LFS pointer and a gitdatax stub name the same object (SHA-256 of the bytes, and the size),
so converting is a change of spelling: `filter=lfs` lines become gitdatax lines, each pointer
becomes the stub with the same oid and size, and each object is copied from Git LFS's cache
(`.git/lfs/objects`, or `lfs.storage`) into the store, re-hashed on the way. Nothing is read from
an LFS server: fetch first (`git lfs fetch --all`) when the cache is incomplete.

Without --rewrite-history the conversion is staged in the index (a commit to review and make);
with it, every commit of the chosen refs is rewritten (see history.py for the safety rules).
The Git LFS cache is left as it was unless asked: the backup refs, and any branch not rewritten,
still need it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from gitdatax import attributes, git, stub as stubs

from gitdatax.migrate import history

from gitdatax.scan.blobs import stubs_in
from gitdatax.errors import CorruptObject, FatalError
from gitdatax.store.objectstore import CHUNK, ObjectStore
from gitdatax.files import write_atomically

DATAX_ATTRIBUTES = attributes.ATTRIBUTES.split()


def lfs_objects_dir(cwd: str | os.PathLike[str] | None = None) -> Path:
    common = git.repo_paths(cwd).common_dir
    storage = git.config_get("lfs.storage", cwd=cwd)
    base = Path(os.path.expanduser(storage)) if storage else common / "lfs"
    if not base.is_absolute():
        base = common / base
    return base / "objects"


def convert_attributes(original: bytes) -> bytes:
    """Each `filter=lfs` line rewritten to the gitdatax attributes, other attributes on it kept;
    every other line byte for byte."""
    text = original.decode("utf-8", "surrogateescape")
    out, changed = [], False
    for line in text.splitlines(keepends=True):
        parsed = attributes.split_line(line)
        if parsed is None or "filter=lfs" not in parsed[1]:
            out.append(line)
            continue
        kept = [a for a in parsed[1] if a.split("=")[0].lstrip("-!") not in ("filter", "diff", "merge", "text")]
        out.append(" ".join([attributes.quote_pattern(parsed[0]), *DATAX_ATTRIBUTES, *kept]) + "\n")
        changed = True
    return "".join(out).encode("utf-8", "surrogateescape") if changed else original


class LfsImporter:
    """Copies Git LFS objects into a store, verified; remembers what it could not find."""

    def __init__(self, lfs_dir: Path, store: ObjectStore) -> None:
        self.lfs_dir = lfs_dir
        self.store = store
        self.missing: dict[str, str] = {}  # oid -> a path that needs it
        self.copied: list[Path] = []

    def source(self, oid: str) -> Path:
        return self.lfs_dir / oid[0:2] / oid[2:4] / oid

    def bring(self, stub: stubs.Stub, path: str) -> None:
        if self.store.has(stub.oid):
            return
        src = self.source(stub.oid)
        try:
            f = open(src, "rb")
        except FileNotFoundError:
            self.missing.setdefault(stub.oid, path)
            return
        with f:
            try:
                self.store.import_raw(iter(lambda: f.read(CHUNK), b""), stub)
            except CorruptObject as exc:
                raise FatalError(f"{src} (for {path}): {exc}; run `git lfs fsck` and fetch a good copy") from None
        self.copied.append(src)

    def check_complete(self) -> None:
        if self.missing:
            oid, path = next(iter(self.missing.items()))
            raise FatalError(
                f"{len(self.missing)} Git LFS object(s) are not in {self.lfs_dir}, e.g. {path} "
                f"({oid}): run `git lfs fetch --all` first; nothing was changed"
            )

    def remove_copied(self) -> int:
        freed = 0
        for src in self.copied:
            try:
                freed += src.stat().st_size
                src.unlink()
            except FileNotFoundError:
                pass
        return freed


class LfsConverter(history.Converter):
    def __init__(self, blobs: git.CatFile, importer: LfsImporter) -> None:
        self.blobs = blobs
        self.importer = importer
        self._done: dict[str, bytes | None] = {}
        self.converted = 0
        self.converted_bytes = 0

    def is_attributes(self, path: str) -> bool:
        return path == ".gitattributes" or path.endswith("/.gitattributes")

    def new_attributes(self, path: str, original: bytes | None) -> bytes | None:
        return None if original is None else convert_attributes(original)

    def convert_file(self, path: str, blob: str) -> bytes | None:
        if blob not in self._done:
            data = self.blobs.read(blob, limit=stubs.MAX_STUB_SIZE)
            pointer = stubs.parse_lfs_pointer(data) if data else None
            if pointer is not None:
                self.importer.bring(pointer, path)
                self.converted += 1
                self.converted_bytes += pointer.size
            self._done[blob] = pointer.encode() if pointer else None
        return self._done[blob]


class LfsResult(NamedTuple):
    updates: list[history.RefUpdate]
    files: int
    nbytes: int
    attribute_files: list[str]
    lfs_freed: int


def rewrite_history(refs: list[str], excludes: list[str], *, remove_lfs: bool,
                    cwd: str | os.PathLike[str] | None = None) -> LfsResult:
    history.require_filter(cwd)
    history.require_clean(cwd)
    store = ObjectStore.for_repo(cwd)
    with history.Scratch(store) as scratch, git.CatFile(cwd) as blobs:
        importer = LfsImporter(lfs_objects_dir(cwd), scratch.staging)
        converter = LfsConverter(blobs, importer)
        updates = history.rewrite(refs, excludes, converter, scratch, blobs, cwd=cwd)
        importer.check_complete()
        scratch.staging.publish()
        if updates:
            history.apply(updates, "git datax migrate from-lfs", cwd)
    history.refresh_work_tree(updates, cwd)
    freed = importer.remove_copied() if remove_lfs and updates else 0
    return LfsResult(updates, converter.converted, converter.converted_bytes, [], freed)


def convert_in_place(*, remove_lfs: bool, cwd: str | os.PathLike[str] | None = None) -> LfsResult:
    """Stage the conversion of the checked-out files: attributes, pointers -> stubs, objects."""
    history.require_filter(cwd)
    history.require_clean(cwd)
    top = git.toplevel(cwd)
    store = ObjectStore.for_repo(cwd)
    entries = [e for e in git.index_entries(cwd=top) if e.stage == 0 and e.mode in ("100644", "100755")]
    pointers = _index_pointers(entries, top)
    importer = LfsImporter(lfs_objects_dir(cwd), store)
    for path, (_mode, pointer) in pointers.items():
        importer.bring(pointer, path)
    importer.check_complete()  # before anything in the index or work tree changes
    attr_files = []
    for entry in entries:
        if os.path.basename(entry.path) == ".gitattributes":
            full = top / entry.path
            original = full.read_bytes()
            new = convert_attributes(original)
            if new != original:
                write_atomically(full, new)
                attr_files.append(entry.path)
    _stage_stubs(pointers, top)
    if attr_files:
        git.run(["add", "--", *attr_files], cwd=top)
    _fill_work_tree(pointers, store, top)
    git.run(["update-index", "-q", "--refresh"], cwd=top, check=False)  # exit 1 just lists changes
    freed = importer.remove_copied() if remove_lfs else 0
    total = sum(p.size for _m, p in pointers.values())
    return LfsResult([], len(pointers), total, attr_files, freed)


def _index_pointers(entries: list[git.IndexEntry], top: Path) -> dict[str, tuple[str, stubs.Stub]]:
    """path -> (mode, the pointer's stub) for index entries that hold a Git LFS pointer."""
    by_blob: dict[str, list[git.IndexEntry]] = {}
    for e in entries:
        by_blob.setdefault(e.blob, []).append(e)
    found = {}
    for blob, pointer in stubs_in(by_blob, cwd=top, parse=stubs.parse_lfs_pointer).items():
        for e in by_blob[blob]:
            found[e.path] = (e.mode, pointer)
    return found


def _stage_stubs(pointers: dict[str, tuple[str, stubs.Stub]], top: Path) -> None:
    if not pointers:
        return
    distinct = sorted({p for _m, p in pointers.values()})
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for i, stub in enumerate(distinct):
            name = Path(tmp) / str(i)
            name.write_bytes(stub.encode())
            names.append(str(name))
        blob_ids = git.run(["hash-object", "-w", "--no-filters", "--stdin-paths"], cwd=top,
                           input="".join(n + "\n" for n in names).encode()).stdout.decode().split()
    blob_of = dict(zip(distinct, blob_ids))
    info = b"".join(
        f"{mode} {blob_of[stub]}\t".encode() + path.encode("utf-8", "surrogateescape") + b"\0"
        for path, (mode, stub) in sorted(pointers.items())
    )
    git.run(["update-index", "-z", "--index-info"], cwd=top, input=info)


def _fill_work_tree(pointers: dict[str, tuple[str, stubs.Stub]], store: ObjectStore, top: Path) -> None:
    """Files that still hold the pointer text (checked out without git-lfs) get their data."""
    for path, (_mode, stub) in pointers.items():
        full = top / path
        try:
            if full.is_symlink() or full.stat().st_size > stubs.MAX_STUB_SIZE:
                continue
            if stubs.parse_lfs_pointer(full.read_bytes()) != stub:
                continue
        except FileNotFoundError:
            continue
        write_atomically(full, store.read_verified(stub), mode=full.stat().st_mode & 0o7777)


