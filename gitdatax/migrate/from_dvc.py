"""`git datax migrate from-dvc`: a DVC repository becomes a gitdatax one, in the work tree and
index (the conversion is staged, for one commit).

- every output of a `.dvc` file, and every cached output of a stage in `dvc.lock`, becomes a
  gitdatax-tracked file: its bytes are read from DVC's cache (or a local DVC remote), checked
  against DVC's md5, stored under their SHA-256, written to the work tree as real files (a DVC
  link into its cache is replaced) and staged, so Git records stubs;
- the `.dvc` files go, and so do the `.gitignore` lines DVC wrote for those outputs;
- `.gitattributes` gets one line per output (`/path`, or `/path/**` for a folder);
- `dvc.yaml` stays as it is: the pipeline runner reads it when there is no `datax.yaml`, and
  keeps DVC's `dvc.lock` as DVC's (gitdatax's own lock is `datax.lock`);
- the remotes of `.dvc/config` whose scheme gitdatax speaks (a path, s3://, the fsspec stores,
  ssh://) become remotes in `.datax.toml`, the default kept, their credentials in git config;
  those defined only in `.dvc/config.local` or DVC's global or system config (this machine's or
  this user's) go to git config whole; the others
  (http(s)://) are named, with what to do (dvc_remotes.py).
Nothing changes until every object is stored: a missing or corrupt object stops the migration
with one line, and the repository is as it was.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gitdatax import attributes, git
from gitdatax.errors import FatalError
from gitdatax.migrate import dvc_repo
from gitdatax.migrate.dvc_config import DvcConfig
from gitdatax.migrate.dvc_remotes import convert_remotes
from gitdatax.migrate.dvc_repo import DvcCache, DvcFile, DvcOut
from gitdatax.stub import Stub
from gitdatax.files import write_atomically

@dataclass
class DvcMigration:
    files: int = 0
    bytes: int = 0
    outs: list[str] = field(default_factory=list)
    dvc_files: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # outputs of `dvc import`, now in .datax-imports.toml
    remotes: list[str] = field(default_factory=list)  # "NAME -> URL" lines
    local_settings: list[str] = field(default_factory=list)  # git config keys set (credentials)
    skipped_remotes: list[str] = field(default_factory=list)  # why each was not converted
    local_remotes: list[str] = field(default_factory=list)  # "NAME -> URL" of .dvc/config.local's own, in git config


def dvc_files(top: Path) -> list[str]:
    listed = git.ls_files_z(["--cached", "--others", "--exclude-standard", "--full-name", "--", "*.dvc"], cwd=top)
    return sorted(p for p in dict.fromkeys(listed) if (top / p).is_file())


def lock_files(top: Path) -> list[str]:
    """Every dvc.lock of the work tree: DVC writes one beside each dvc.yaml, in any folder."""
    listed = git.ls_files_z(["--cached", "--others", "--exclude-standard", "--full-name", "--",
                             ":(glob)**/dvc.lock"], cwd=top)
    return sorted(p for p in dict.fromkeys(listed) if (top / p).is_file() and not p.startswith(".dvc/"))


def migrate(top: Path) -> DvcMigration:
    from gitdatax.store.objectstore import ObjectStore

    if not (top / ".dvc").is_dir():
        raise FatalError(f"{top} is not a DVC repository (no .dvc/ folder)")
    result = DvcMigration()
    result.dvc_files = dvc_files(top)
    outs = [o for rel in result.dvc_files for o in dvc_repo.outs_of_dvc_file(top, rel)]
    outs += [o for rel in lock_files(top) for o in dvc_repo.outs_of_lock(top, rel) if _ignored_by_dvc(top, o.path)]
    if not outs:
        raise FatalError("no .dvc file and no cached stage output in dvc.lock: nothing to migrate")
    config = DvcConfig(top)
    cache = DvcCache(top, config)
    store = ObjectStore.for_repo(top)
    # First every object into the store (checked against DVC's md5): a missing one stops here.
    stored: list[tuple[DvcFile, Stub]] = []
    for out in outs:
        items = cache.listing(out) if out.is_dir else [DvcFile(out.path, out.md5, out.legacy)]
        for item in items:
            stored.append((item, _store(cache, store, item, out)))
            result.bytes += stored[-1][1].size
    # Then the work tree, the attributes, the ignore lines and the index.
    for item, stub in stored:
        _write_file(top / item.path, store, stub)
    result.files = len(stored)
    result.outs = sorted({o.path for o in outs})
    _track(top, outs)
    touched = _unignore(top, outs)
    (result.remotes, result.local_settings, result.skipped_remotes,
     result.local_remotes) = convert_remotes(top, config)
    result.imports = _convert_imports(top, result.dvc_files)
    for rel in result.dvc_files:
        (top / rel).unlink()
    git.run(["add", "-A", "--", *result.outs, ".gitattributes", *touched, *result.dvc_files,
             *[name for name in (".datax.toml", ".datax-imports.toml") if (top / name).exists()]], cwd=top)
    return result


def _convert_imports(top: Path, dvc_files: list[str]) -> list[str]:
    """`dvc import` outputs keep their origin: an entry of .datax-imports.toml each, so that
    `git datax update` follows the source as `dvc update` did."""
    from gitdatax.share.imports import Origin, read_origins, write_origins

    found = [i for i in (dvc_repo.import_of_dvc_file(top, rel) for rel in dvc_files) if i is not None]
    if not found:
        return []
    origins = read_origins(top)
    for item in found:
        origins[item.out] = Origin(item.out, item.url, item.path, item.rev, item.commit)
    write_origins(top, origins)
    return [item.out for item in found]


def _store(cache: DvcCache, store: object, item: DvcFile, out: DvcOut) -> Stub:
    path = cache.find(item.md5)
    if path is None:
        raise FatalError(f"{item.path} ({out.source}): object {item.md5} is in neither DVC's cache nor a local "
                         "DVC remote: run `dvc pull` first (nothing was changed)")
    with open(path, "rb") as f:
        return store.put(dvc_repo.verified_chunks(f, item))  # type: ignore[attr-defined]


def _write_file(target: Path, store: object, stub: Stub) -> None:
    """The real bytes at `target`, replacing whatever DVC left there (a link into its cache)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, store.iter_content(stub))  # type: ignore[attr-defined]


def _ignored_by_dvc(top: Path, path: str) -> bool:
    folder, name = os.path.split(path)
    return f"/{name}" in map(dvc_repo.gitignore_entry, _lines(top / folder / ".gitignore"))


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def _unignore(top: Path, outs: list[DvcOut]) -> list[str]:
    """Remove the `/NAME` line DVC wrote for each output; a .gitignore left empty goes."""
    by_file: dict[str, set[str]] = {}
    for out in outs:
        folder, name = os.path.split(out.path)
        by_file.setdefault(os.path.join(folder, ".gitignore").replace(os.sep, "/"), set()).add(f"/{name}")
    touched = []
    for rel, names in sorted(by_file.items()):
        path = top / rel
        lines = _lines(path)
        kept = [line for line in lines if dvc_repo.gitignore_entry(line) not in names]
        if kept == lines:
            continue
        touched.append(rel)
        if any(line.strip() for line in kept):
            write_atomically(path, "".join(line + "\n" for line in kept))
        else:
            path.unlink()
    return touched


def _track(top: Path, outs: list[DvcOut]) -> None:
    path = top / ".gitattributes"
    lines = attributes.read_lines(path)
    have = {p[0] for p in map(attributes.split_line, lines) if p and attributes.is_datax_line(p[1])}
    for out in sorted(outs, key=lambda o: o.path):
        pattern = attributes.literal_pattern(out.path) + ("/**" if out.is_dir else "")
        if pattern not in have:
            lines.append(f"{attributes.quote_pattern(pattern)} {attributes.ATTRIBUTES}")
            have.add(pattern)
    attributes.write_lines(path, lines)
