"""Opening one file at a revision as a stream: of the current repository (its work tree, or any
revision of it, data from the local store or its remote), or of another repository (fetched into
a temporary repository that goes when the file is closed). `gitdatax.api` is the public face."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Iterator

from gitdatax import git
from gitdatax.errors import FatalError
from gitdatax.share import registry
from gitdatax.share.snapshot import SYMLINK, normal_path, open_snapshot
from gitdatax.share.stream import open_stream
from gitdatax.stub import MAX_STUB_SIZE, Stub, parse


def check_mode(mode: str) -> None:
    if mode not in ("r", "rb", "rt"):
        raise ValueError(f"mode {mode!r}: only reading is supported ('r' or 'rb')")


def open_file(path: str, repo: str | None, rev: str | None, mode: str, encoding: str | None,
              remote: str | None = None) -> io.IOBase:
    check_mode(mode)
    wanted = normal_path(path)
    if not wanted:
        raise FatalError("name a file to open, not the top of the repository")
    if repo is None:
        return _open_here(wanted, rev, mode, encoding, remote)
    return _open_elsewhere(repo, wanted, rev, mode, encoding, remote)


def _open_elsewhere(repo: str, wanted: str, rev: str | None, mode: str, encoding: str | None,
                    remote: str | None) -> io.IOBase:
    from gitdatax.share.get import fetch_data

    context = open_snapshot(repo, rev)
    snap = context.__enter__()
    reader: git.CatFile | None = None
    try:
        entries = snap.entries(wanted)
        if not snap.is_single_file(wanted, entries):
            raise FatalError(f"{wanted} is a folder in {snap.url} at {snap.label}: open a file in it "
                             "(or `git datax get` the folder)")
        entry = snap.describe(entries)[0]
        if entry.stub is not None:
            fetch_data(snap, [entry], jobs=1, quiet=True, remote_name=remote)
            chunks: Iterator[bytes] = iter(snap.store().read_verified(entry.stub))
        else:
            reader = git.CatFile(snap.tmp)
            chunks = reader.stream(entry.blob)
    except BaseException:
        context.__exit__()
        raise

    def release() -> None:
        if reader is not None:
            reader.close()
        context.__exit__()

    return open_stream(chunks, mode, encoding, name=wanted, on_close=release)


def _open_here(wanted: str, rev: str | None, mode: str, encoding: str | None, remote: str | None) -> io.IOBase:
    top = git.toplevel()
    if rev is None:
        return _open_work_tree(top, wanted, mode, encoding, remote)
    commit = resolve_local(rev, top)
    found = git.ls_tree(commit, [wanted], cwd=top)
    if not found:
        raise FatalError(f"{wanted} is not in this repository at {rev} (commit {commit[:12]})")
    if len(found) > 1 or found[0].path != wanted:
        raise FatalError(f"{wanted} is a folder at {rev}: open a file in it")
    if found[0].kind != "blob" or found[0].mode == SYMLINK:
        raise FatalError(f"{wanted} is not a regular file at {rev}")
    blob = found[0].blob
    reader = git.CatFile(top)
    small = reader.read(blob, limit=MAX_STUB_SIZE)
    stub = parse(small) if small is not None else None
    if stub is not None:
        reader.close()
        return open_stream(_local_data(top, stub, wanted, remote), mode, encoding, name=wanted)
    return open_stream(reader.stream(blob), mode, encoding, name=wanted, on_close=reader.close)


def _open_work_tree(top: Path, wanted: str, mode: str, encoding: str | None, remote: str | None) -> io.IOBase:
    full = top / wanted
    if full.is_dir():
        raise FatalError(f"{wanted} is a folder: open a file in it")
    try:
        f = open(full, "rb")
    except FileNotFoundError:
        raise FatalError(f"{wanted} is not in the work tree of {top}") from None
    head = f.read(MAX_STUB_SIZE + 1)
    stub = parse(head)
    if stub is None:  # the data itself (or a plain file): read it as it is
        f.seek(0)
        return f if mode == "rb" else io.TextIOWrapper(f, encoding=encoding or "utf-8")
    f.close()  # a stub left in the work tree: the data is in the store, or on the remote
    return open_stream(_local_data(top, stub, wanted, remote), mode, encoding, name=wanted)


def _local_data(top: Path, stub: Stub, path: str, remote: str | None) -> Iterator[bytes]:
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore.for_repo(top)
    if not store.has(stub.oid):
        from gitdatax.remotes.remote_config import open_configured
        from gitdatax.sync.transfer import download_missing

        opened: Any = open_configured(remote, top)
        try:
            result = download_missing(opened, store, [stub], jobs=1, quiet=True)
        finally:
            opened.close()
        if result.failed:
            raise FatalError(f"cannot read {path}: {result.failed[stub.oid]}")
    return iter(store.read_verified(stub))


def resolve_local(rev: str, cwd: str | os.PathLike[str]) -> str:
    """The commit `rev` names here: a model reference through the registry's tags, else git."""
    if registry.is_model_ref(rev):
        from gitdatax.share.models import local_tags

        rev = f"refs/tags/{registry.resolve_tag(rev, local_tags(cwd))}"
    commit = git.commit_of(rev, cwd=cwd)
    if commit is None:
        raise FatalError(f"unknown revision {rev!r} in this repository")
    return commit
