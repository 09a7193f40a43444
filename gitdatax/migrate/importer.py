"""`migrate import` and `migrate info`: bring files committed raw into gitdatax, rewriting history.

Matching uses git's own gitattributes rules (a private attributes file and `git check-attr`), so
a pattern selects exactly the files the `.gitattributes` line written for it will track.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NamedTuple

from gitdatax import attributes, git, output, stub as stubs

from gitdatax.migrate import history
from gitdatax.errors import FatalError, GitError
from gitdatax.store.objectstore import ObjectStore

_MATCH_ATTRIBUTE = "datax-migrate-include"


class PatternMatcher:
    """Does a path match one of the patterns? One `git check-attr --stdin` for the whole run."""

    def __init__(self, patterns: list[str], scratch_dir: Path, cwd: str | os.PathLike[str] | None = None) -> None:
        attr_file = scratch_dir / "include.attributes"
        attr_file.write_text("".join(f"{attributes.quote_pattern(p)} {_MATCH_ATTRIBUTE}\n" for p in patterns))
        self._proc = git.spawn(
            ["-c", f"core.attributesFile={attr_file}", "check-attr", "--stdin", "-z", _MATCH_ATTRIBUTE],
            cwd=cwd, stdin=subprocess.PIPE,
        )
        self._cache: dict[str, bool] = {}

    def matches(self, path: str) -> bool:
        if path not in self._cache:
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(path.encode("utf-8", "surrogateescape") + b"\0")
            self._proc.stdin.flush()
            answer = b""
            while answer.count(b"\0") < 3:  # path NUL attribute NUL value NUL
                chunk = self._proc.stdout.read1(4096)
                if not chunk:
                    raise FatalError("git check-attr stopped answering")
                answer += chunk
            self._cache[path] = answer.split(b"\0")[2] == b"set"
        return self._cache[path]

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()


def add_attribute_lines(original: bytes | None, patterns: list[str]) -> bytes:
    """`original` (a .gitattributes) with a gitdatax line for each pattern not tracked yet."""
    lines = original.decode("utf-8", "surrogateescape").splitlines() if original else []
    tracked = set()
    for line in lines:
        parsed = attributes.split_line(line)
        if parsed and attributes.is_datax_line(parsed[1]):
            tracked.add(parsed[0])
    missing = [p for p in patterns if p not in tracked]
    if original is not None and not missing:
        return original
    lines += [f"{attributes.quote_pattern(p)} {attributes.ATTRIBUTES}" for p in missing]
    return "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")


class ImportConverter(history.Converter):
    ensure_root_attributes = True

    def __init__(self, patterns: list[str], matcher: PatternMatcher, blobs: git.CatFile, store: ObjectStore) -> None:
        self.patterns = patterns
        self.matcher = matcher
        self.blobs = blobs
        self.store = store
        self._done: dict[str, bytes | None] = {}
        self.converted = 0  # distinct blobs turned into stubs
        self.converted_bytes = 0

    def is_attributes(self, path: str) -> bool:
        return path == ".gitattributes"

    def new_attributes(self, path: str, original: bytes | None) -> bytes | None:
        return add_attribute_lines(original, self.patterns)

    def convert_file(self, path: str, blob: str) -> bytes | None:
        if not self.matcher.matches(path):
            return None
        if blob not in self._done:
            self._done[blob] = self._convert(blob)
        return self._done[blob]

    def _convert(self, blob: str) -> bytes | None:
        size = self.blobs.size(blob)
        if size == 0:
            return None  # empty files stay empty
        if size <= stubs.MAX_STUB_SIZE:
            data = self.blobs.read(blob)
            if stubs.parse(data) is not None or stubs.parse_lfs_pointer(data) is not None:
                return None  # already a stub; LFS pointers are `migrate from-lfs`'s business
            stub = self.store.put_bytes(data)
        else:
            stub = self.store.put(self.blobs.stream(blob))
        self.converted += 1
        self.converted_bytes += stub.size
        return stub.encode()


# -- choosing what to rewrite ------------------------------------------------------------------------


def select_refs(everything: bool, revs: list[str], cwd: str | os.PathLike[str] | None = None) -> tuple[list[str], list[str]]:
    """(full ref names to rewrite, revisions to exclude). Default: the checked-out branch."""
    if everything:
        if revs:
            raise FatalError("give either --everything or REVS, not both")
        out = git.output(["for-each-ref", "--format=%(refname)", "refs/heads/", "refs/tags/"], cwd=cwd)
        refs = out.splitlines()
        if not refs:
            raise FatalError("there is nothing to migrate: the repository has no branch or tag")
        return refs, []
    refs, excludes = [], []
    for rev in revs:
        if rev.startswith("^"):
            if not git.commit_exists(rev[1:], cwd=cwd):
                raise FatalError(f"{rev}: no such commit")
            excludes.append(rev[1:])
            continue
        full = git.run(["rev-parse", "--symbolic-full-name", rev], cwd=cwd, check=False).stdout.decode().strip()
        if not full.startswith("refs/"):
            raise FatalError(f"{rev}: not a branch or tag (name refs to rewrite, or ^REV to leave a commit "
                             "and its history as they are)")
        if full not in refs:
            refs.append(full)
    if not refs:
        head = git.run(["symbolic-ref", "-q", "HEAD"], cwd=cwd, check=False).stdout.decode().strip()
        if not head:
            raise FatalError("HEAD is detached: name the branches to rewrite, or use --everything")
        if not history.ref_values([head], cwd):
            raise FatalError(f"{head} has no commits yet: there is nothing to migrate")
        refs = [head]
    return refs, excludes


# -- import ----------------------------------------------------------------------------------------------


class MigrateResult(NamedTuple):
    updates: list[history.RefUpdate]
    files: int
    nbytes: int
    work_tree_refreshed: bool


def import_history(patterns: list[str], refs: list[str], excludes: list[str],
                   cwd: str | os.PathLike[str] | None = None) -> MigrateResult:
    history.require_filter(cwd)
    history.require_clean(cwd)
    store = ObjectStore.for_repo(cwd)
    with history.Scratch(store) as scratch, git.CatFile(cwd) as blobs:
        # check-attr reads paths relative to its working directory: run it at the top.
        matcher = PatternMatcher(patterns, scratch.dir, git.toplevel(cwd))
        try:
            converter = ImportConverter(patterns, matcher, blobs, scratch.staging)
            updates = history.rewrite(refs, excludes, converter, scratch, blobs, cwd=cwd)
        finally:
            matcher.close()
        scratch.staging.publish()  # before the refs: a ref never points at a stub without its object
        if updates:
            history.apply(updates, "git datax migrate import", cwd)
    refreshed = history.refresh_work_tree(updates, cwd)
    return MigrateResult(updates, converter.converted, converter.converted_bytes, refreshed)


# -- info --------------------------------------------------------------------------------------------------


class TypeSize(NamedTuple):
    pattern: str
    total: int
    files: int


def file_types(refs: list[str], excludes: list[str], cwd: str | os.PathLike[str] | None = None) -> list[TypeSize]:
    """Every distinct blob in the history of `refs`, grouped by extension, largest total first."""
    totals: dict[str, list[int]] = {}
    try:
        for info, path in git.rev_list_objects([*refs, *(f"^{x}" for x in excludes), "--"], cwd=cwd):
            if info.kind != "blob":
                continue
            name = os.path.basename(path)
            ext = os.path.splitext(name)[1]
            key = f"*{ext}" if ext else name
            entry = totals.setdefault(key, [0, 0])
            entry[0] += info.size
            entry[1] += 1
    except GitError as exc:
        said = exc.stderr.strip().splitlines()[-1:] or ["no output"]  # git's words were on stderr before
        raise FatalError(f"cannot list the history of {' '.join(refs)} "
                         f"(git rev-list exited {exc.returncode}: {said[0]})") from None
    rows = [TypeSize(k, v[0], v[1]) for k, v in totals.items()]
    return sorted(rows, key=lambda r: (-r.total, r.pattern))


def info_lines(rows: list[TypeSize], top: int) -> list[str]:
    grand = sum(r.total for r in rows) or 1
    width = max([len(r.pattern) for r in rows[:top]] + [7])
    lines = [f"{'pattern':<{width}}  {'total':>10}  {'files':>7}  share"]
    for r in rows[:top]:
        lines.append(f"{r.pattern:<{width}}  {output.human_size(r.total):>10}  {r.files:>7}  {100 * r.total / grand:5.1f}%")
    if len(rows) > top:
        rest = rows[top:]
        lines.append(f"({len(rest)} more type(s), {output.human_size(sum(r.total for r in rest))}: --top {len(rows)} lists them)")
    return lines
