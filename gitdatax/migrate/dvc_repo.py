"""Reading a DVC repository as DVC 2 and 3 write it, for `migrate from-dvc`:

- `X.dvc`: YAML, `outs: [{md5, size, path, hash: md5, nfiles}]`, `path` relative to the file's
  folder; a folder's md5 ends in `.dir` and names a JSON listing `[{md5, relpath}]` in the cache.
- `dvc.lock`: `stages: {NAME: {cmd, deps: [...], outs: [{path, md5, size, hash}]}}`, paths from
  the top (or the stage's wdir).
- The cache: `.dvc/cache/files/md5/ab/cdef...` (DVC 3, `hash: md5`), or `.dvc/cache/ab/cdef...`
  (DVC 2: no `hash` key, and the md5 of a text file taken with CRLF read as LF), or `cache.dir`
  of `.dvc/config`. A local DVC remote has the same two layouts.
- DVC's config files (dvc_config.py): INI, `['remote "NAME"']` sections with `url` and options,
  `[core] remote`, `[cache] dir`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from gitdatax.errors import FatalError
from gitdatax.migrate.dvc_config import DvcConfig

CHUNK = 1 << 20


@dataclass(frozen=True)
class DvcFile:
    """One file DVC stores: where it goes and what DVC calls it."""
    path: str  # from the top of the work tree
    md5: str
    legacy: bool  # DVC 2's md5 (text files hashed with CRLF as LF), cache without files/md5/


@dataclass(frozen=True)
class DvcOut:
    path: str  # from the top
    md5: str  # a folder's ends in .dir
    legacy: bool
    source: str  # the .dvc file, or dvc.lock, that names it

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


def gitignore_entry(line: str) -> str:
    """A .gitignore line as the path it names: DVC 3 escapes `\\[]!*#?` in the `/NAME` lines it
    writes (pathspec's escape), DVC 2 wrote NAME as it is; both read back as `/NAME`."""
    return re.sub(r"\\(.)", r"\1", line.strip())


def yaml_load(data: bytes, filename: str) -> Any:
    import yaml  # lazy: only migrations read YAML here

    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise FatalError(f"{filename}: invalid YAML ({str(exc).splitlines()[0]})") from None


def outs_of_dvc_file(top: Path, rel: str) -> list[DvcOut]:
    return outs_of_dvc_text((top / rel).read_bytes(), rel)


def outs_of_dvc_text(text: bytes, rel: str) -> list[DvcOut]:
    """The outputs a .dvc file at `rel` (from the top) names, from its content."""
    data = yaml_load(text, rel)
    folder = os.path.dirname(rel)
    found = []
    for out in (data or {}).get("outs") or [] if isinstance(data, dict) else []:
        found.append(_out(out, folder, rel))
    return found


@dataclass(frozen=True)
class DvcImport:
    """Where a `dvc import` came from: its .dvc file's `deps: [{path, repo: {url, rev, rev_lock}}]`."""
    out: str  # from the top
    url: str
    path: str  # in the source repository
    rev: str | None
    commit: str


def import_of_dvc_file(top: Path, rel: str) -> DvcImport | None:
    data = yaml_load((top / rel).read_bytes(), rel)
    deps = data.get("deps") if isinstance(data, dict) else None
    outs = data.get("outs") if isinstance(data, dict) else None
    if not isinstance(deps, list) or len(deps) != 1 or not isinstance(outs, list) or len(outs) != 1:
        return None
    repo = deps[0].get("repo") if isinstance(deps[0], dict) else None
    if not isinstance(repo, dict) or not isinstance(repo.get("url"), str) or not isinstance(repo.get("rev_lock"), str):
        return None
    return DvcImport(_out(outs[0], os.path.dirname(rel), rel).path, repo["url"], str(deps[0].get("path", "")),
                     repo.get("rev"), repo["rev_lock"])


def outs_of_lock(top: Path, rel: str = "dvc.lock") -> list[DvcOut]:
    """The outputs of the stages in the dvc.lock at `rel` (from the top; DVC keeps one beside
    each dvc.yaml, in any folder). Their paths are from the stage's `wdir`, which only the
    dvc.yaml beside it says (from that file's folder; a `foreach` stage `NAME@KEY` has NAME's)."""
    lock = top / rel
    if not lock.is_file():
        return []
    data = yaml_load(lock.read_bytes(), rel)
    stages = data.get("stages", {}) if isinstance(data, dict) else {}
    folder = os.path.dirname(rel)
    spec_rel = os.path.join(folder, "dvc.yaml")
    spec = yaml_load((top / spec_rel).read_bytes(), spec_rel) if (top / spec_rel).is_file() else None
    spec_stages = spec.get("stages") if isinstance(spec, dict) else None
    found = []
    for name, stage in (stages or {}).items():
        if not isinstance(stage, dict):
            raise FatalError(f"{rel}: stage {name} is not a mapping")
        declared = spec_stages.get(str(name).split("@")[0]) if isinstance(spec_stages, dict) else None
        wdir = declared.get("wdir") if isinstance(declared, dict) else None
        base = os.path.join(folder, wdir if isinstance(wdir, str) else "")
        for out in stage.get("outs") or []:
            found.append(_out(out, base, rel))
    return found


def _out(out: Any, folder: str, source: str) -> DvcOut:
    if not isinstance(out, dict) or not isinstance(out.get("path"), str) or not isinstance(out.get("md5"), str):
        raise FatalError(f"{source}: an out without path and md5 ({out!r}); DVC 3 writes both")
    path = os.path.normpath(os.path.join(folder, out["path"])).replace(os.sep, "/")
    if path.startswith("../") or os.path.isabs(path):
        raise FatalError(f"{source}: out {out['path']} is outside the repository")
    return DvcOut(path, out["md5"], out.get("hash") != "md5", source)


class DvcCache:
    """Finds objects by md5 in the cache, then in local DVC remotes, in both layouts."""

    def __init__(self, top: Path, config: DvcConfig) -> None:
        self.top = top
        self.roots = [config.cache_dir(top)] + [_path_of(r.url) for r in config.remotes() if _is_path(r.url)]

    def find(self, md5: str) -> Path | None:
        for root in self.roots:
            for candidate in (root / "files" / "md5" / md5[:2] / md5[2:], root / md5[:2] / md5[2:]):
                if candidate.is_file():
                    return candidate
        return None

    def listing(self, out: DvcOut) -> list[DvcFile]:
        """The files of a folder out, from its .dir listing."""
        path = self.find(out.md5)
        if path is None:
            raise FatalError(f"{out.path} ({out.source}): DVC's listing {out.md5} is in neither the cache "
                             "nor a local DVC remote: run `dvc fetch` (or `dvc pull`) first")
        try:
            entries = json.loads(path.read_bytes())
        except ValueError:
            raise FatalError(f"{path}: DVC's listing of {out.path} is not JSON") from None
        files = []
        for entry in entries:
            rel = os.path.normpath(entry["relpath"]).replace(os.sep, "/")
            if rel.startswith("../"):
                raise FatalError(f"{path}: {entry['relpath']} is outside {out.path}")
            files.append(DvcFile(f"{out.path}/{rel}", entry["md5"], out.legacy))
        return files


def verified_chunks(source: BinaryIO, item: DvcFile) -> Iterator[bytes]:
    """The bytes of a cache file, checked against DVC's md5 at the end (also DVC 2's, which
    reads CRLF as LF in text files); a mismatch raises before the caller publishes anything."""
    raw = hashlib.md5()
    dos2unix = hashlib.md5() if item.legacy else None
    carry = b""
    while chunk := source.read(CHUNK):
        raw.update(chunk)
        if dos2unix is not None:
            text = carry + chunk
            carry = b"\r" if text.endswith(b"\r") else b""
            dos2unix.update((text[:-1] if carry else text).replace(b"\r\n", b"\n"))
        yield chunk
    if dos2unix is not None:
        dos2unix.update(carry)
    if raw.hexdigest() != item.md5 and (dos2unix is None or dos2unix.hexdigest() != item.md5):
        raise FatalError(f"{item.path}: DVC's cached copy does not match its md5 {item.md5} (corrupt cache): "
                         "nothing was changed; `dvc fetch` it again")


def _is_path(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _path_of(url: str) -> Path:
    return Path(url[len("file://"):] if url.startswith("file://") else url)
