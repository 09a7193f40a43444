"""`git datax get`: the bytes of a file or folder at a revision of any repository, without a
clone. The revision is fetched into a temporary repository beside the output (snapshot.py), the
objects the stubs name come from the source's data remote into a temporary store, verified,
and the files are written into a temporary folder there and renamed into place: the output
appears whole or not at all, and nothing else is left behind."""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gitdatax import git, output
from gitdatax.errors import FatalError
from gitdatax.share import registry
from gitdatax.share.snapshot import SYMLINK, Entry, Snapshot, normal_path, open_snapshot


@dataclass(frozen=True)
class GetReport:
    out: Path
    files: int
    data_files: int
    data_bytes: int  # bytes of data written (the objects' content)
    plain_bytes: int  # bytes of plain Git files written
    git_objects: int  # what the temporary repository fetched, in git objects ...
    git_bytes: int  # ... and in bytes on disk
    blobs: int  # blobs among them (the files under PATH and the top files read)
    commit: str
    seconds: float
    remote: str | None  # the data remote, when data came from one


def default_out(path: str, url: str) -> str:
    if path:
        return path.rsplit("/", 1)[-1]
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name[:-4] if name.endswith(".git") else name


def target_of(path: str, url: str, out: str | None) -> Path:
    """Where the output goes: OUT, or inside OUT when OUT is an existing folder (as `dvc get` and
    `cp` do), else the last part of PATH in the current folder."""
    name = default_out(path, url)
    if out is None:
        return Path(name).absolute()
    target = Path(out).absolute()
    return target / name if target.is_dir() else target


def existing_ancestor(path: Path) -> Path:
    """The nearest folder above `path` that exists; FatalError when what exists there is a file
    (`-o notes.txt/model.bin`): nothing could be written below it."""
    for parent in path.parents:
        if parent.is_dir():
            return parent
        if parent.exists() or parent.is_symlink():
            raise FatalError(f"{parent} is a file, not a folder: {path} cannot be written inside it")
    return Path("/")


def get(url: str, path: str | None, *, rev: str | None = None, out: str | None = None, jobs: int | None = None,
        force: bool = False, quiet: bool = False, remote: str | None = None) -> GetReport:
    started = time.monotonic()
    model = rev if rev is not None and registry.is_model_ref(rev) else None
    if path is None and model is None:
        raise FatalError("name the PATH to get (it may be left out only when --rev names a model, "
                         "e.g. --rev asr#prod)")
    wanted = normal_path(path) if path is not None else None
    # Refuse an output in the way before fetching anything (the model's path is known later).
    if wanted is not None:
        _check_free(target_of(wanted, url, out), force)
    scratch_at = existing_ancestor(target_of(wanted, url, out) if wanted is not None else
                                   Path(out or ".").absolute() / "x")
    with open_snapshot(url, rev, scratch=scratch_at) as snap:
        if wanted is None:
            assert model is not None
            wanted = normal_path(snap.artifact_path(model.split("@")[0].split("#")[0]))
        target = target_of(wanted, url, out)
        _check_free(target, force)
        entries = snap.describe(snap.entries(wanted))
        single = snap.is_single_file(wanted, entries)
        remote_url = fetch_data(snap, entries, jobs=jobs, quiet=quiet, remote_name=remote)
        staging = Path(snap.tmp).parent / "out"
        written = write_entries(snap, entries, wanted, staging, single)
        git_objects, git_bytes = snap.git_bytes()
        blobs = snap.blob_count()
        place(staging, target, force)
    data = [e for e in entries if e.stub is not None]
    return GetReport(target, len(entries), len(data), sum(e.stub.size for e in data if e.stub),
                     written - sum(e.stub.size for e in data if e.stub), git_objects, git_bytes, blobs,
                     snap.commit, time.monotonic() - started, remote_url)


def fetch_data(snap: Snapshot, entries: list[Entry], *, jobs: int | None, quiet: bool,
               remote_name: str | None = None) -> str | None:
    """Download every object the stubs among `entries` name into the snapshot's store (from the
    source's remote `remote_name`, else its default), or raise FatalError naming a file whose
    object no remote gave."""
    from gitdatax.sync.transfer import download_missing

    stubs = [e.stub for e in entries if e.stub is not None]
    if not stubs:
        return None
    from gitdatax.config import concurrency

    jobs = jobs or concurrency(cwd=snap.tmp)  # the user's setting; the cwd may be no repository
    remote = snap.data_remote(remote_name)
    try:
        result = download_missing(remote, snap.store(), stubs, jobs=jobs, quiet=quiet)
    finally:
        remote.close()
    if result.failed:
        by_oid = {e.stub.oid: e.path for e in entries if e.stub is not None}
        oid, why = next(iter(result.failed.items()))
        more = f" (and {len(result.failed) - 1} more file(s))" if len(result.failed) > 1 else ""
        raise FatalError(f"cannot get {by_oid.get(oid, oid)} from {snap.url} at {snap.label}: {why}{more}; "
                         "nothing was written")
    return str(remote.url)


def write_entries(snap: Snapshot, entries: list[Entry], wanted: str, staging: Path, single: bool) -> int:
    """Write the files under `staging` (a file when `single`); the bytes written."""
    store = snap.store()
    total = 0
    bar = output.progress(sum(max(e.data_size, 0) for e in entries), "writing", quiet=False)
    try:
        with git.CatFile(snap.tmp) as cat:
            for entry in entries:
                rel = entry.path[len(wanted):].lstrip("/") if wanted else entry.path
                dest = staging if single else staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                if entry.mode == SYMLINK:
                    os.symlink(b"".join(cat.stream(entry.blob)), dest)
                    continue
                with open(dest, "wb") as f:
                    if entry.stub is not None:
                        for chunk in store.iter_content(entry.stub):
                            f.write(chunk)
                            bar.update(len(chunk))
                        total += entry.stub.size
                    else:
                        for chunk in cat.stream(entry.blob):
                            f.write(chunk)
                            total += len(chunk)
                        bar.update(entry.size)
                if entry.mode == "100755":
                    os.chmod(dest, 0o755)
    finally:
        bar.close()
    return total


def _check_free(target: Path, force: bool) -> None:
    if (target.exists() or target.is_symlink()) and not force:
        raise FatalError(f"{target} already exists: remove it, choose another -o, or use --force to replace it")


def place(staging: Path, target: Path, force: bool) -> None:
    """Rename the finished output into place; with `force`, what was there goes only once the new
    output is complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        if not force:
            raise FatalError(f"{target} already exists: remove it or use --force to replace it")
        if target.is_dir() or staging.is_dir():
            # A rename puts a file over a file in one step, but neither a folder over anything
            # nor a file over a folder: what is there moves aside first.
            old = staging.parent / "replaced"
            os.replace(target, old)
            os.replace(staging, target)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
            return
    os.replace(staging, target)


def summary(report: GetReport, url: str, rev: str | None) -> str:
    what = (f"{report.files} file(s), {output.human_size(report.data_bytes + report.plain_bytes)}"
            if report.files > 1 else output.human_size(report.data_bytes + report.plain_bytes))
    data = (f"; data {output.human_size(report.data_bytes)} in {report.data_files} object(s) from {report.remote}"
            if report.data_files else "")
    return (f"got {report.out} ({what}) from {url} at {rev or 'HEAD'} (commit {report.commit[:12]}) in "
            f"{report.seconds:.2f} s: git {report.git_objects} object(s), {output.human_size(report.git_bytes)}, "
            f"{report.blobs} blob(s){data}")
