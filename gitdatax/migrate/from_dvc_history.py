"""`git datax migrate from-dvc --rewrite-history`: every commit of the chosen refs, as
`migrate import` rewrites them (backup refs, interrupt-safe: migrate/history.py).

In each rewritten commit a `.dvc` file gives way to its outputs' stubs (a folder output's files
from its `.dir` listing; the folder is emptied first, so files a later version dropped go), a
deleted `.dvc` file takes its output with it, DVC's `/NAME` lines leave the `.gitignore` next to
NAME.dvc, and the top `.gitattributes` tracks `/NAME` and `/NAME/**` for every `.dvc` file the
history ever had. The objects come from DVC's cache or a local DVC remote, checked against their
md5 (`dvc fetch --all-commits` brings old versions); one missing stops the rewrite before any ref
moves. Stage outputs recorded in dvc.lock stay DVC's in old commits: run `migrate from-dvc`
without --rewrite-history afterwards to convert those of the checked-out commit.
"""
from __future__ import annotations

import os
from pathlib import Path

from gitdatax import git
from gitdatax.attributes import literal_pattern
from gitdatax.errors import FatalError
from gitdatax.migrate import dvc_repo, history
from gitdatax.migrate.dvc_config import DvcConfig
from gitdatax.migrate.dvc_repo import DvcCache, DvcFile
from gitdatax.migrate.importer import add_attribute_lines
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub


class DvcHistoryConverter(history.Converter):
    ensure_root_attributes = True

    def __init__(self, blobs: git.CatFile, cache: DvcCache, store: ObjectStore, dvc_paths: set[str]) -> None:
        self.blobs = blobs
        self.cache = cache
        self.store = store
        self.dvc_paths = dvc_paths
        self.patterns = sorted({p for rel in dvc_paths
                                for p in (literal_pattern(rel[:-4]), literal_pattern(rel[:-4]) + "/**")})
        self._stubs: dict[str, Stub] = {}  # md5 -> stub: each version is read and stored once
        self.files = 0
        self.bytes = 0

    def is_attributes(self, path: str) -> bool:
        return path == ".gitattributes"

    def new_attributes(self, path: str, original: bytes | None) -> bytes | None:
        return add_attribute_lines(original, self.patterns)

    def replace_file(self, path: str, blob: str) -> list[tuple[str, bytes | None]] | None:
        if path not in self.dvc_paths:
            return None
        ops: list[tuple[str, bytes | None]] = []
        for out in dvc_repo.outs_of_dvc_text(self.blobs.read(blob) or b"", path):
            ops.append((out.path, None))  # a folder's files of the previous version go first
            files = self.cache.listing(out) if out.is_dir else [DvcFile(out.path, out.md5, out.legacy)]
            for item in files:
                ops.append((item.path, self._stub(item, path).encode()))
        return ops

    def deleted_with(self, path: str) -> list[str]:
        return [path[:-4]] if path in self.dvc_paths else []

    def convert_file(self, path: str, blob: str) -> bytes | None:
        if os.path.basename(path) != ".gitignore":
            return None
        folder = os.path.dirname(path)
        original = self.blobs.read(blob) or b""
        lines = original.decode("utf-8", "surrogateescape").splitlines()
        entries = [dvc_repo.gitignore_entry(line) for line in lines]
        kept = [line for line, entry in zip(lines, entries)
                if not (entry.startswith("/") and _join(folder, entry[1:]) + ".dvc" in self.dvc_paths)]
        if kept == lines:
            return None
        return "".join(line + "\n" for line in kept).encode("utf-8", "surrogateescape")

    def _stub(self, item: DvcFile, source: str) -> Stub:
        if item.md5 not in self._stubs:
            found = self.cache.find(item.md5)
            if found is None:
                raise FatalError(f"{item.path} ({source} in an older commit): object {item.md5} is in neither DVC's "
                                 "cache nor a local DVC remote: run `dvc fetch --all-commits` first (nothing was changed)")
            with open(found, "rb") as f:
                self._stubs[item.md5] = self.store.put(dvc_repo.verified_chunks(f, item))
            self.files += 1
            self.bytes += self._stubs[item.md5].size
        return self._stubs[item.md5]


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def dvc_files_in_history(refs: list[str], excludes: list[str], top: Path) -> set[str]:
    out = git.run(["log", "--format=", "--name-only", "-z", *refs, *(f"^{x}" for x in excludes), "--", "*.dvc"],
                  cwd=top).stdout
    return {p for p in out.decode("utf-8", "surrogateescape").replace("\n", "\0").split("\0")
            if p.endswith(".dvc") and not p.startswith(".dvc/")}


def rewrite_history(top: Path, refs: list[str], excludes: list[str]) -> tuple[list[history.RefUpdate], int, int]:
    """(ref updates, distinct files stored, their bytes)."""
    if not (top / ".dvc").is_dir():
        raise FatalError(f"{top} is not a DVC repository (no .dvc/ folder)")
    history.require_filter(top)
    history.require_clean(top)
    dvc_paths = dvc_files_in_history(refs, excludes, top)
    if not dvc_paths:
        raise FatalError("no commit of those refs has a .dvc file: nothing to rewrite")
    config = DvcConfig(top)
    store = ObjectStore.for_repo(top)
    with history.Scratch(store) as scratch, git.CatFile(top) as blobs:
        converter = DvcHistoryConverter(blobs, DvcCache(top, config), scratch.staging, dvc_paths)
        updates = history.rewrite(refs, excludes, converter, scratch, blobs, cwd=top)
        scratch.staging.publish()
        if updates:
            history.apply(updates, "git datax migrate from-dvc", top)
    history.refresh_work_tree(updates, top)
    return updates, converter.files, converter.bytes
