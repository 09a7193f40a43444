"""The pre-commit hook's local checks: no raw content for a tracked path, no huge untracked file."""
from __future__ import annotations

import shlex
from typing import Callable, NamedTuple

from gitdatax import git, stub as stubs

from gitdatax.filter import background_writer

from gitdatax.scan import stub_journal
from gitdatax.output import human_size
from gitdatax.scan.blobs import stubs_in


class StagedFile(NamedTuple):
    path: str
    blob: str
    size: int


def staged_files(known: Callable[[str], bool] | None = None) -> list[StagedFile]:
    """Regular files added or changed in the index relative to HEAD (or to nothing). Blobs that
    `known` accepts are not looked up: their size is reported as -1."""
    # No revision: against HEAD, or against the empty tree on an unborn branch (whose id depends
    # on the repository's hash, SHA-1 or SHA-256).
    raw = git.run(["diff", "--cached", "--raw", "--no-abbrev", "-z", "--no-renames", "--diff-filter=ACMRT"]).stdout
    fields = raw.split(b"\0")
    entries: list[tuple[str, str]] = []
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].decode().split()
        if len(meta) < 4 or meta[1] not in ("100644", "100755"):
            continue  # symlinks and submodules carry no data
        entries.append((fields[i + 1].decode("utf-8", "surrogateescape"), meta[3]))
    unknown = [blob for _, blob in entries if known is None or not known(blob)]
    sizes: dict[str, int] = {}
    if unknown:
        with git.CatFile() as cat:
            sizes = {blob: info.size for blob, info in cat.infos(unknown) if info is not None}
    return [StagedFile(path, blob, sizes.get(blob, -1)) for path, blob in entries]


def inspect_staged() -> tuple[list[str], list[stubs.Stub]]:
    """(one line per file the commit must not take, with what to do about it; the stubs staged
    for tracked paths: stub text in a path gitdatax does not track is plain content)."""
    # Stubs the filter wrote need no reading back (stub_journal proves each one by its blob id).
    common_dir = git.repo_paths().common_dir
    journal = stub_journal.load(common_dir / "datax")
    staged: dict[str, stubs.Stub] = {}

    def known(blob: str) -> bool:
        stub = journal.get(blob)
        if stub is not None:
            staged[blob] = stub
        return stub is not None

    files = staged_files(known)
    if not files:
        return [], []
    written = set(staged)  # blobs the filter wrote (journal), before any is read below
    # What the commit will carry decides what a clone does: the index's attributes (issue 11,
    # item 2: a stub committed without its .gitattributes line checks out as stub text).
    filters = git.check_attr("filter", (f.path for f in files), cached=True)
    outside = [f for f in files if filters.get(f.path) != "datax"]
    # ... and what the user meant: the work tree's, which differ while .gitattributes is unstaged
    # (item 3: raw bytes staged for a path only the work tree's attributes track).
    intended = git.check_attr("filter", (f.path for f in outside)) if outside else {}
    limit: int | None = None  # read only when a file gitdatax does not track is staged
    # staged_files knows the sizes already: read the small blobs without asking git again
    staged.update(stubs_in((f.blob for f in files if f.blob not in staged
                            and (filters.get(f.path) == "datax" or intended.get(f.path) == "datax")
                            and 0 < f.size <= stubs.MAX_STUB_SIZE), sizes_known=True))
    problems = []
    # Objects the filter answered for but could not write (background_writer.py): never commit a
    # stub whose data exists nowhere.
    unstored = background_writer.missing_among(common_dir / "datax", {s.oid for s in staged.values()})
    unstaged_attributes: list[str] | None = None
    for f in files:
        quoted = shlex.quote(f.path)
        stub = staged.get(f.blob)
        if stub is not None and stub.oid in unstored:
            problems.append(
                f"{f.path}: its data was not stored when it was added (the store could not be "
                f"written; `git add` said why): fix that and run `git add --renormalize -- {quoted}`"
            )
            continue
        tracked = filters.get(f.path) == "datax"
        if not tracked and intended.get(f.path) == "datax":
            if unstaged_attributes is None:
                unstaged_attributes = _unstaged_attribute_files()
            add = f"git add {' '.join(shlex.quote(p) for p in unstaged_attributes) or '.gitattributes'}"
            if stub is not None:
                problems.append(f"{f.path}: staged as a gitdatax stub, but the .gitattributes line that tracks "
                                f"it is not staged, so every clone would check out the stub text: run `{add}`")
            elif f.size > 0:
                problems.append(f"{f.path}: staged as raw content, and the work tree's .gitattributes (not "
                                f"staged) says gitdatax tracks it: run `{add}`, then "
                                f"`git add --renormalize -- {quoted}`")
            continue
        if not tracked and f.blob in written and not _holds_stub_text(f.path, stub):
            problems.append(f"{f.path}: staged as a gitdatax stub, but no .gitattributes tracks it any more, so "
                            f"every clone would check out the stub text: track it again (`git datax track "
                            f"{quoted}`, then `git add .gitattributes`) or keep it in Git as it is "
                            f"(`git add --renormalize -- {quoted}`)")
            continue
        if f.blob in staged:
            continue  # a stub the filter wrote, or read above, in a tracked path
        # `git add --renormalize`, not `git add`: the file's stat still matches the index entry,
        # so a plain `git add` would keep the raw blob staged without running the filter.
        if tracked:
            if f.size > 0:
                problems.append(
                    f"{f.path}: staged as raw content, but .gitattributes says gitdatax tracks it "
                    f"(the datax filter was not installed when it was added): run `git datax install` "
                    f"and then `git add --renormalize -- {quoted}`"
                )
        elif f.size > (limit := _max_git_size() if limit is None else limit):
            problems.append(
                f"{f.path}: {human_size(f.size)} is over datax.maxgitsize ({human_size(limit)}): "
                f"run `git datax track {quoted}`, then `git add .gitattributes` and "
                f"`git add --renormalize -- {quoted}`"
            )
    return problems, [staged[f.blob] for f in files if f.blob in staged and filters.get(f.path) == "datax"]


def _unstaged_attribute_files() -> list[str]:
    """The .gitattributes files whose work tree version is not what the index holds (for the
    `git add` line of a refusal), from the top of the work tree."""
    top = git.repo_paths().toplevel
    paths = git.ls_files_z(["--modified", "--others", "--exclude-standard", "--full-name", "--",
                            ":(top,glob)**/.gitattributes"], cwd=top)
    return sorted(dict.fromkeys(paths))


def _holds_stub_text(path: str, stub: stubs.Stub | None) -> bool:
    """Whether the work tree file is the stub text itself: stub text kept as content on purpose
    (documentation, a fixture) in a path gitdatax does not track is the user's to commit."""
    top = git.repo_paths().toplevel
    if stub is None or top is None:
        return False
    try:
        with open(top / path, "rb") as f:
            return f.read(stubs.MAX_STUB_SIZE + 1) == stub.encode()
    except OSError:
        return False


def _max_git_size() -> int:
    from gitdatax import config  # tomllib and the team file: only when an untracked file is staged

    return config.max_git_size()

