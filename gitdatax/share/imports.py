"""`git datax import` and `update`: a file or folder of another repository becomes data of this
one, with its origin recorded in the committed `.datax-imports.toml`:

    # Written by `git datax import`; `git datax update` moves these.
    ["data/clean"]
    repo = "/srv/git/team.git"
    path = "data/clean"
    rev = "v1"
    commit = "3f1c..."

The objects go straight into this repository's store (same SHA-256 ids, nothing re-hashed
twice), the files into the work tree, a `.gitattributes` line tracks them, and all of it is
staged: the next commit holds stubs, and pre-push uploads the objects to this project's own
remote like any other data, so a clone never needs the source repository.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitdatax import attributes, git
from gitdatax.errors import FatalError
from gitdatax.share.snapshot import Snapshot, normal_path, open_snapshot, remote_commit
from gitdatax.files import write_atomically

IMPORTS_FILE = ".datax-imports.toml"
HEADER = "# Written by `git datax import`; `git datax update` moves these.\n"
# Files git or gitdatax read from the work tree as configuration: a source's copy stays there.
OWN_FILES = (".gitattributes", ".gitignore", ".datax.toml", ".datax-imports.toml")


@dataclass(frozen=True)
class Origin:
    out: str  # where the import lives here, from the top of the work tree
    repo: str
    path: str
    rev: str | None  # as asked (None: the source's HEAD)
    commit: str

    def as_toml(self) -> str:
        from gitdatax.toml_edit import quote_key, quote_string

        lines = [f"[{quote_key(self.out)}]", f"repo = {quote_string(self.repo)}", f"path = {quote_string(self.path)}"]
        if self.rev is not None:
            lines.append(f"rev = {quote_string(self.rev)}")
        lines.append(f"commit = {quote_string(self.commit)}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ImportReport:
    origin: Origin
    files: int
    data_files: int
    bytes: int
    changed: bool  # False for an update that found nothing new


def read_origins(top: Path) -> dict[str, Origin]:
    from gitdatax.config import load_toml

    data = load_toml(top / IMPORTS_FILE)
    origins = {}
    for out, record in data.items():
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("repo", "path", "commit")):
            raise FatalError(f"{IMPORTS_FILE}: [{out}] needs repo, path and commit strings")
        origins[out] = Origin(out, record["repo"], record["path"], record.get("rev"), record["commit"])
    return origins


def write_origins(top: Path, origins: dict[str, Origin]) -> None:
    text = HEADER + "".join("\n" + origins[out].as_toml() for out in sorted(origins))
    write_atomically(top / IMPORTS_FILE, text)


def out_path(top: Path, path: str, out: str | None) -> str:
    """OUT from the top of the work tree (OUT is relative to the current folder)."""
    target = Path(out).absolute() if out is not None else Path(path.rsplit("/", 1)[-1]).absolute()
    try:
        rel = os.path.relpath(target, top)
    except ValueError:
        rel = ".."
    if rel == "." or rel.startswith(".."):
        raise FatalError(f"{out or path}: the import must go inside the work tree {top}")
    return rel.replace(os.sep, "/")


def import_data(url: str, path: str, *, rev: str | None = None, out: str | None = None, force: bool = False,
                jobs: int | None = None, quiet: bool = False) -> ImportReport:
    top = git.toplevel()
    if not attributes.filter_configured():  # else `git add` would commit the data itself
        raise FatalError("the datax filter is not configured: run `git datax install` first")
    wanted = normal_path(path)
    if not wanted:
        raise FatalError("name the file or folder to import, not the whole repository")
    rel = out_path(top, wanted, out)
    origins = read_origins(top)
    _check_no_overlap(rel, origins)
    if (top / rel).exists() and not force:
        raise FatalError(f"{rel} already exists: choose another -o, or use --force to replace it")
    with open_snapshot(url, rev, scratch=_scratch(top)) as snap:
        origin = Origin(rel, _recorded_url(url, top), wanted, rev, snap.commit)
        report = _bring(snap, wanted, top, origin, jobs=jobs, quiet=quiet)
    origins[rel] = origin
    _record(top, rel, origins, not (top / rel).is_dir())
    return report


def update(outs: list[str], *, rev: str | None = None, jobs: int | None = None, quiet: bool = False,
           force: bool = False) -> list[ImportReport]:
    top = git.toplevel()
    origins = read_origins(top)
    if not origins:
        raise FatalError(f"nothing was imported here ({IMPORTS_FILE} lists no import): see `git datax import --help`")
    chosen = [_origin_named(top, origins, out) for out in outs] if outs else list(origins.values())
    if not force:  # an update replaces the files: edits made to them here would be lost
        for origin in chosen:
            changed = git.run(["status", "--porcelain", "--", origin.out], cwd=top).stdout
            if changed.strip():
                raise FatalError(f"{origin.out} has changes not committed (`git status -- {origin.out}`): commit or "
                                 "discard them, or use --force to replace them")
    reports = []
    for old in chosen:
        new_rev = rev if rev is not None else old.rev
        with open_snapshot(_source_url(old, top), new_rev, scratch=_scratch(top)) as snap:
            origin = Origin(old.out, old.repo, old.path, new_rev, snap.commit)
            if snap.commit == old.commit and (top / old.out).exists():
                reports.append(ImportReport(origin, 0, 0, 0, False))
                if new_rev != old.rev:
                    origins[old.out] = origin
                    write_origins(top, origins)
                    git.run(["add", "--", IMPORTS_FILE], cwd=top)
                continue
            report = _bring(snap, old.path, top, origin, jobs=jobs, quiet=quiet, replace=True)
        origins[old.out] = origin
        _record(top, old.out, origins, not (top / old.out).is_dir())
        reports.append(report)
    return reports


def moved_on(top: Path) -> list[tuple[Origin, str | None, str | None]]:
    """(origin, commit its rev names now, problem) for each import whose source moved on or
    could not be asked: what `status` reports. One `git ls-remote` per import."""
    found = []
    for origin in read_origins(top).values():
        try:
            now = remote_commit(_source_url(origin, top), origin.rev)
        except FatalError as exc:
            found.append((origin, None, str(exc)))
            continue
        if now is not None and now != origin.commit:
            found.append((origin, now, None))
    return found


def _check_no_overlap(rel: str, origins: dict[str, Origin]) -> None:
    """An import inside another (or holding one) would be overwritten, or would overwrite the
    other, on the next `update`: refused, as DVC refuses outputs that overlap."""
    for other in sorted(origins):
        if rel.startswith(f"{other}/"):
            raise FatalError(f"{rel} is inside the import {other}: `git datax update {other}` would replace it; "
                             "choose another -o")
        if other.startswith(f"{rel}/"):
            raise FatalError(f"{rel} holds the import {other}: importing there would replace it; choose another -o")


def _origin_named(top: Path, origins: dict[str, Origin], out: str) -> Origin:
    rel = os.path.relpath(Path(out).absolute(), top).replace(os.sep, "/")
    if rel not in origins:
        known = ", ".join(sorted(origins))
        raise FatalError(f"{out} is not an import (imports: {known})")
    return origins[rel]


def _recorded_url(url: str, top: Path) -> str:
    """A relative path is recorded from the top of the work tree (a teammate's checkout beside
    the same source finds it, from any folder); absolute paths and URLs as they are."""
    from gitdatax.share.snapshot import is_local

    if is_local(url) and not url.startswith("file://") and not os.path.isabs(os.path.expanduser(url)):
        return os.path.relpath(Path(url).absolute(), top).replace(os.sep, "/")
    return url


def _source_url(origin: Origin, top: Path) -> str:
    from gitdatax.share.snapshot import is_local

    if is_local(origin.repo) and not origin.repo.startswith("file://") and not os.path.isabs(os.path.expanduser(origin.repo)):
        return str(top / origin.repo)
    return origin.repo


def _scratch(top: Path) -> Path:
    scratch = git.repo_paths(top).common_dir / "datax" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    return scratch


def _bring(snap: Snapshot, wanted: str, top: Path, origin: Origin, *, jobs: int | None, quiet: bool,
           replace: bool = False) -> ImportReport:
    """Download the objects into this repository's store and write the files at origin.out."""
    from gitdatax.share.get import fetch_data, write_entries
    from gitdatax.store.objectstore import ObjectStore

    entries = [e for e in snap.describe(snap.entries(wanted)) if e.path.rsplit("/", 1)[-1] not in OWN_FILES]
    if not entries:
        raise FatalError(f"{wanted} holds only configuration files ({', '.join(OWN_FILES)}): nothing to import")
    single = snap.is_single_file(wanted, entries)
    snap.use_store(ObjectStore.for_repo(top))  # objects land in this repository's store
    fetch_data(snap, entries, jobs=jobs, quiet=quiet)
    staging = Path(tempfile.mkdtemp(dir=snap.tmp.parent)) / "out"
    written = write_entries(snap, entries, wanted, staging, single)
    target = top / origin.out
    if target.exists() or target.is_symlink():
        old = staging.parent / "old"
        os.replace(target, old)
        os.replace(staging, target)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    data = [e for e in entries if e.stub is not None]
    return ImportReport(origin, len(entries), len(data), written, True)


def _record(top: Path, rel: str, origins: dict[str, Origin], is_file: bool) -> None:
    """Track the import, record its origin and stage both with the files (`git add -A` also
    stages the files an update removed)."""
    _track(top, rel, is_file)
    write_origins(top, origins)
    git.run(["add", "-A", "--", rel, ".gitattributes", IMPORTS_FILE], cwd=top)


def _track(top: Path, rel: str, is_file: bool) -> None:
    pattern = attributes.literal_pattern(rel) + ("" if is_file else "/**")
    path = top / ".gitattributes"
    lines = attributes.read_lines(path)
    for parsed in map(attributes.split_line, lines):
        if parsed and parsed[0] == pattern and attributes.is_datax_line(parsed[1]):
            return
    lines.append(f"{attributes.quote_pattern(pattern)} {attributes.ATTRIBUTES}")
    attributes.write_lines(path, lines)
