"""One revision of another repository, fetched without its history or its other blobs.

`get`, `list`, `import` and `api.open(repo=...)` all start here. A temporary repository (removed
afterwards) fetches the commit with `--depth=1 --filter=blob:none`: commits and trees only. The
blobs under the asked path (stubs and plain Git files) come in one more fetch that names them,
which Git's protocol v2 allows for any reachable object. A local repository's upload-pack is
started with `uploadpack.allowFilter` (a plain `git` serves no filter unless told); a server that
refuses filters sends the blobs of that one commit, never of its history.

The temporary repository has a work tree holding only the revision's `.datax.toml`, and the
source as its `origin`, so its data remote is found exactly as a clone's would be
(remote_config: the team file, the user's git config, else derived from origin).
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitdatax import git
from gitdatax.config import TEAM_FILE
from gitdatax.errors import FatalError, GitError
from gitdatax.share import registry
from gitdatax.stub import MAX_STUB_SIZE, Stub, parse

PIPELINE_FILES = ("datax.yaml", "dvc.yaml", "params.yaml")  # read for `artifacts:` (model revs)
GITLINK = "160000"
SYMLINK = "120000"


@dataclass(frozen=True)
class Entry:
    """One file of the tree under the asked path."""
    path: str  # from the top of the source repository
    mode: str  # git's: 100644, 100755, 120000
    blob: str
    size: int = -1
    stub: Stub | None = None  # set when the blob is a gitdatax stub: the bytes are data

    @property
    def data_size(self) -> int:
        return self.stub.size if self.stub is not None else self.size


def normal_path(path: str) -> str:
    """`./models/asr.bin/` -> `models/asr.bin`; `.` and `` -> `` (the whole tree)."""
    cleaned = posixpath.normpath(path.replace(os.sep, "/")).lstrip("/") if path not in ("", ".") else ""
    if cleaned in (".", ""):
        return ""
    if cleaned == ".." or cleaned.startswith("../"):
        raise FatalError(f"{path}: a path inside the repository is needed, not one above it")
    return cleaned


def is_local(url: str) -> bool:
    from gitdatax.remotes import scheme_of

    return scheme_of(url) == "file"


def absolute_url(url: str) -> str:
    """A relative path is the caller's, not the temporary repository's: make it absolute."""
    if is_local(url) and not url.startswith("file://"):
        return str(Path(os.path.expanduser(url)).resolve())
    return url


@dataclass
class Snapshot:
    url: str  # as the caller wrote it (made absolute when it is a path)
    rev_asked: str | None
    commit: str
    tmp: Path  # the temporary repository's work tree
    ref: str  # what was fetched: a ref name or a commit id
    _store: Any = None

    @property
    def label(self) -> str:
        return self.rev_asked or "HEAD"

    def run(self, *args: str, input: bytes | None = None) -> bytes:
        return git.run(list(args), cwd=self.tmp, input=input).stdout

    # -- the tree --------------------------------------------------------------------------

    def entries(self, path: str) -> list[Entry]:
        """The files at `path` (a file, or every file below a folder); FatalError naming it when
        there is nothing there."""
        entries = [Entry(name, mode, blob) for mode, blob, name in self._tree([path] if path else [])
                   if mode != GITLINK]  # a submodule: its files are another repository's
        if not entries:
            raise FatalError(f"{path or '.'} is not in {self.url} at {self.label} (commit {self.commit[:12]})")
        return entries

    def _tree(self, paths: list[str]) -> list[tuple[str, str, str]]:
        """(mode, blob, path) of every file under `paths`. Not git.ls_tree: its sizes (-l) would
        make this partial clone fetch each blob on its own, before fetch_blobs asks for all."""
        fields = self.run("ls-tree", "-r", "-z", "--full-tree", "--format=%(objectmode)%x00%(objectname)%x00%(path)",
                          self.commit, "--", *paths).split(b"\0")
        return [(fields[i].decode(), fields[i + 1].decode(), fields[i + 2].decode("utf-8", "surrogateescape"))
                for i in range(0, len(fields) - 2, 3)]

    def is_single_file(self, path: str, entries: list[Entry]) -> bool:
        return len(entries) == 1 and entries[0].path == path

    def fetch_blobs(self, blobs: list[str]) -> None:
        """Bring the named blobs in one fetch (a partial clone's way of filling in)."""
        wanted = sorted(set(blobs))
        if not wanted:
            return
        try:
            git.run(["-c", "fetch.negotiationAlgorithm=noop", "fetch", "-q", "origin", "--no-tags",
                     "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
                    cwd=self.tmp, input="".join(f"{b}\n" for b in wanted).encode())
        except GitError as exc:
            raise FatalError(f"cannot fetch the files from {self.url}: {_last_line(exc.stderr)}") from None

    def describe(self, entries: list[Entry]) -> list[Entry]:
        """The entries with their sizes, and their stubs where the blob is one (blobs fetched)."""
        self.fetch_blobs([e.blob for e in entries])
        with git.CatFile(self.tmp) as cat:
            sizes = {rev: info.size for rev, info in cat.infos(dict.fromkeys(e.blob for e in entries))
                     if info is not None and info.kind == "blob"}
            small = [e.blob for e in entries if 0 < sizes.get(e.blob, -1) <= MAX_STUB_SIZE and e.mode != SYMLINK]
            contents = {rev: data for rev, _, data in cat.contents(dict.fromkeys(small))}
        described = []
        for e in entries:
            stub = parse(contents[e.blob]) if e.blob in contents else None
            described.append(Entry(e.path, e.mode, e.blob, sizes.get(e.blob, -1), stub))
        return described

    def top_file(self, name: str) -> bytes | None:
        """A small file at the top of the revision (the team file, the pipeline file)."""
        found = [blob for _, blob, path in self._tree([name]) if path == name]
        if not found:
            return None
        blob = found[0]
        self.fetch_blobs([blob])
        with git.CatFile(self.tmp) as cat:
            return cat.read(blob, limit=16 << 20)

    def git_bytes(self) -> tuple[int, int]:
        """(objects, bytes) the temporary repository holds: what `get` cost in Git terms."""
        counts = dict(line.split(": ", 1) for line in
                      self.run("count-objects", "-v").decode().splitlines() if ": " in line)
        objects = int(counts.get("count", 0)) + int(counts.get("in-pack", 0))
        size_kib = int(counts.get("size", 0)) + int(counts.get("size-pack", 0))
        return objects, size_kib * 1024

    def blob_count(self) -> int:
        out = self.run("cat-file", "--batch-all-objects", "--batch-check=%(objecttype)")
        return sum(1 for line in out.split(b"\n") if line == b"blob")

    # -- data ------------------------------------------------------------------------------

    def data_remote(self, name: str | None = None) -> Any:
        """The opened data remote of the source, found as a clone of it would find it: its
        default, or the one called `name` (`get --remote`, `api.open(remote=)`)."""
        from gitdatax.remotes import open_remote, scheme_of
        from gitdatax.remotes.remote_config import resolve

        team = self.top_file(TEAM_FILE)
        team_path = self.tmp / TEAM_FILE
        if team is not None:
            team_path.write_bytes(team)
        try:
            configured = resolve(name, cwd=self.tmp)
            options = dict(configured.options)
            if self._store is None and scheme_of(configured.url) == "file":
                # The temporary store goes with the snapshot: a hard link into a directory
                # remote costs nothing and shares no inode for long (the copy is for stores
                # that stay, against one damaged block damaging both). Still re-hashed.
                options["link"] = True
            return open_remote(configured.url, options)
        finally:
            if team_path.exists():
                team_path.unlink()

    def store(self) -> Any:
        """Where downloads go: a temporary store in the temporary repository, unless told."""
        if self._store is None:
            from gitdatax.store.objectstore import ObjectStore

            self._store = ObjectStore.for_repo(self.tmp)
        return self._store

    def use_store(self, store: Any) -> None:
        self._store = store

    # -- the model registry ------------------------------------------------------------------

    def artifact_path(self, name: str) -> str:
        """The path the revision's `artifacts:` section gives model `name` (datax.yaml, else
        dvc.yaml, as the pipeline runner reads them)."""
        from gitdatax.pipeline.spec import parse_pipeline

        for filename in ("datax.yaml", "dvc.yaml"):
            text = self.top_file(filename)
            if text is None:
                continue
            pipeline = parse_pipeline(text, filename, self.top_file)
            if name in pipeline.artifacts:
                return pipeline.artifacts[name].path
            raise FatalError(f"{filename} at {self.label} has no artifact {name!r} under artifacts: "
                             f"(it has {', '.join(pipeline.artifacts) or 'none'}); name the path to get")
        raise FatalError(f"{self.url} at {self.label} has no datax.yaml with an artifacts: section "
                         f"naming {name!r}: name the path to get")


def open_snapshot(url: str, rev: str | None = None, *, scratch: str | os.PathLike[str] | None = None
                  ) -> "_SnapshotContext":
    """A context manager: the Snapshot of `url` at `rev` (HEAD when None); everything it fetched
    is removed on exit. `scratch` is where the temporary repository goes (default: the system's
    temporary folder); `get` puts it beside its output so that the final rename stays on one
    file system."""
    return _SnapshotContext(url, rev, scratch)


class _SnapshotContext:
    def __init__(self, url: str, rev: str | None, scratch: str | os.PathLike[str] | None) -> None:
        self.url, self.rev, self.scratch = absolute_url(url), rev, scratch
        self.dir: str | None = None

    def __enter__(self) -> Snapshot:
        try:
            self.dir = tempfile.mkdtemp(prefix=".datax-get-", dir=self.scratch)
        except OSError as exc:  # `get -o` into a folder this user cannot write, a full disk
            where = self.scratch or tempfile.gettempdir()
            raise FatalError(f"cannot write in {where}: {exc.strerror}") from None
        try:
            return _fetch(self.url, self.rev, Path(self.dir) / "repo")
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _fetch(url: str, rev: str | None, tmp: Path) -> Snapshot:
    git.run(["init", "-q", str(tmp)])
    for key, value in (("remote.origin.url", url), ("remote.origin.promisor", "true"),
                       ("remote.origin.partialclonefilter", "blob:none"), ("core.hooksPath", os.devnull)):
        git.run(["config", key, value], cwd=tmp)
    if is_local(url):  # git's own upload-pack serves filters only when told to
        git.run(["config", "remote.origin.uploadpack", "git -c uploadpack.allowFilter=true upload-pack"], cwd=tmp)
    refs = remote_refs(url, tmp)
    ref = _choose_ref(url, rev, refs)
    if ref is None:  # `v1~2`, an abbreviated id: resolve it in the history (commits and trees only)
        return _fetch_history_then_resolve(url, rev or "HEAD", tmp)
    try:
        git.run(["fetch", "-q", "--depth=1", "--filter=blob:none", "--no-tags", "origin", ref], cwd=tmp)
    except GitError as exc:
        if len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref):
            raise FatalError(f"unknown revision {rev!r} in {url} (no commit {ref} there)") from None
        raise FatalError(f"cannot fetch {rev or 'HEAD'} from {url}: {_last_line(exc.stderr)}") from None
    commit = _peel(tmp, "FETCH_HEAD", url, rev)
    return Snapshot(url, rev, commit, tmp, ref)


def remote_refs(url: str, cwd: Path | None = None) -> dict[str, str]:
    """ref name -> object id, as `git ls-remote` lists them (peeled tags as NAME^{})."""
    try:
        out = git.run(["ls-remote", "--end-of-options", url], cwd=cwd).stdout.decode("utf-8", "surrogateescape")
    except GitError as exc:
        raise FatalError(f"cannot read the repository {url}: {_last_line(exc.stderr)}") from None
    refs = {}
    for line in out.splitlines():
        oid, _, name = line.partition("\t")
        refs[name] = oid
    return refs


def remote_commit(url: str, rev: str | None) -> str | None:
    """The commit `rev` names in `url` now, from its refs alone (no fetch); None when only its
    history could tell (an abbreviated id, `v1~2`). For `status`: has an import's source moved?"""
    refs = remote_refs(url)
    ref = _choose_ref(url, rev, refs)
    if ref is None or ref not in refs:
        return ref  # a full commit id names itself
    return refs.get(f"{ref}^{{}}", refs[ref])


def _choose_ref(url: str, rev: str | None, refs: dict[str, str]) -> str | None:
    """What to fetch for `rev`: a ref name or a full commit id; None when only the history can
    resolve it."""
    if rev is None:
        if "HEAD" not in refs:
            raise FatalError(f"{url} has no commits (no HEAD) to get from")
        return "HEAD"
    if registry.is_model_ref(rev):
        tags = {name[len("refs/tags/"):]: oid for name, oid in refs.items() if name.startswith("refs/tags/")}
        tag = registry.resolve_tag(rev, registry.tag_list(tags))
        return f"refs/tags/{tag}"
    for candidate in (rev, f"refs/tags/{rev}", f"refs/heads/{rev}"):
        if candidate in refs and not candidate.endswith("^{}"):
            return candidate
    if len(rev) in (40, 64) and all(c in "0123456789abcdefABCDEF" for c in rev):
        return rev.lower()
    return None


def _fetch_history_then_resolve(url: str, rev: str, tmp: Path) -> Snapshot:
    try:
        git.run(["fetch", "-q", "--filter=blob:none", "origin", "+refs/heads/*:refs/remotes/origin/*",
                 "+refs/tags/*:refs/tags/*"], cwd=tmp)
    except GitError as exc:
        raise FatalError(f"cannot fetch the history of {url}: {_last_line(exc.stderr)}") from None
    for candidate in (rev, f"origin/{rev}"):
        commit = git.commit_of(candidate, cwd=tmp)
        if commit is not None:
            return Snapshot(url, rev, commit, tmp, commit)
    raise FatalError(f"unknown revision {rev!r} in {url}")


def _peel(tmp: Path, name: str, url: str, rev: str | None) -> str:
    commit = git.commit_of(name, cwd=tmp)
    if commit is None:
        raise FatalError(f"{rev} in {url} does not name a commit")
    return commit


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in lines:  # git's first "fatal:" line says why; hints and warnings do not
        if line.startswith("fatal:"):
            return line[len("fatal:"):].strip()
    return lines[-1] if lines else "no output"


