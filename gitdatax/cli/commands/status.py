from __future__ import annotations

import argparse
from pathlib import Path

HELP = "show the state of every file gitdatax tracks (staged, modified, stub only, object missing) and the pipeline stages repro would run"
DESCRIPTION = """States, for each file whose path gitdatax tracks:
  committed       the index and HEAD agree and the work tree holds the real content
  staged          a new version is in the index, ready to commit
  modified        the work tree differs from the index (`git add` it)
  stub only       the work tree holds the stub, not the data (`git datax checkout` or `pull`)
  object missing  the data is not in the local store (`git datax pull`)
  raw in git      committed as plain content before it was tracked (`git add --renormalize`)
  deleted         gone from the work tree
  outside the sparse checkout
                  git leaves it out of the work tree, so its data is not needed here
  stub, not tracked
                  a stub in a path no .gitattributes line tracks (committed without
                  `git add .gitattributes`): git checks it out as stub text
  untracked       a file that a tracked pattern matches but that was never added (`git add` it)
  conflicted      both sides of a merge changed it; the work tree holds ours
Only files neither `committed` nor outside the sparse checkout are listed, unless --all is given.
With a pipeline (datax.yaml or dvc.yaml), the stages `git datax repro` would run follow, each with
why: "params train.lr 0.1 -> 0.2", "dep prepare.py changed", "out models/model.bin missing".
Then each import (`git datax import`) whose source has moved on since: its recorded rev now names
another commit (`git datax update OUT` brings it), or the source cannot be asked (--no-imports
skips asking, for offline use)."""


OUTSIDE = "outside the sparse checkout"
UNTRACKED_STUB = "stub, not tracked"
UNTRACKED = "untracked"
CONFLICTED = "conflicted"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true",
                        help="list committed files too, and every pipeline stage with its implicit deps")
    parser.add_argument("--no-imports", action="store_true", help="do not ask the sources of imports whether they moved on")


def run(args: argparse.Namespace) -> int:
    from gitdatax import attributes, git
    from gitdatax.scan.scanner import GitScanner, stub_in_file
    from gitdatax.output import human_size, path_on_a_line
    from gitdatax.store.objectstore import ObjectStore

    top = git.toplevel()
    store = ObjectStore.for_repo()
    scanner = GitScanner(top)
    files = scanner.index(tracked_only=True)
    # Stubs outside gitdatax's patterns, the very stub the index holds: committed without their
    # .gitattributes line (issue 11, item 2)
    tracked_paths = {f.path for f in files}
    stubs_outside = [p for p in scanner.work_tree(as_staged=True) if p.path not in tracked_paths]
    head = {}
    if git.commit_exists("HEAD", cwd=top):
        head = {e[0]: e[1] for e in _head_blobs(top)}
    modified = set(git.ls_files_z(["--modified", "--deleted"], cwd=top)) if files else set()
    deleted = set(git.ls_files_z(["--deleted"], cwd=top)) if files else set()
    outside = git.skip_worktree_paths(cwd=top) if files else set()  # sparse checkout
    counts: dict[str, int] = {}
    raw_sizes = _blob_sizes(top, [f.blob for f in files if f.stub is None])
    total = 0
    lines = []
    for f in files:
        states = []
        if f.stub is None:
            total += raw_sizes.get(f.blob, 0)
            states.append("raw in git")
        elif f.path in outside:  # not missing from the work tree: git keeps it out
            total += f.stub.size
            states.append(OUTSIDE)
        else:
            total += f.stub.size
            if not store.has(f.stub.oid):
                states.append("object missing")
            if f.path in deleted:
                states.append("deleted")
            elif (held := stub_in_file(top / f.path)) is not None and held[0] == f.stub:
                states.append("stub only")
            elif f.path in modified:
                states.append("modified")
        if head.get(f.path) != f.blob:
            states.append("staged")
        if not states:
            states.append("committed")
        for state in states:
            counts[state] = counts.get(state, 0) + 1
        if args.all or states not in (["committed"], [OUTSIDE]):
            size = human_size(f.stub.size if f.stub else raw_sizes.get(f.blob, 0))
            lines.append(f"  {', '.join(states):<24} {size:>10}  {path_on_a_line(f.path)}")
    lines += _not_in_the_index_lines(top, counts)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing tracked"
    if stubs_outside:
        summary += f"; {len(stubs_outside)} stub(s) in paths gitdatax does not track"
    print(f"gitdatax: {len(files)} tracked file(s), {human_size(total)} of data: {summary}")
    for line in lines:
        print(line)
    for f in stubs_outside:  # a commit made without its .gitattributes line (issue 11, item 2)
        size = human_size(f.stub.size) if f.stub else "-"
        print(f"  {UNTRACKED_STUB:<24} {size:>10}  {path_on_a_line(f.path)}")
    if stubs_outside:
        print(f"  ({UNTRACKED_STUB}: committed without its .gitattributes line, so git checks out the stub text: "
              "`git datax track PATH`, commit .gitattributes, then `git datax pull`)")
    # What to do about the states that need more than git, as git status says what to run.
    if "raw in git" in counts:
        print("  (raw in git: `git add --renormalize .` stores them with gitdatax; commit that)")
    if "stub only" in counts or "object missing" in counts:
        print("  (stub only, object missing: `git datax pull` downloads the data and fills them in)")
    if UNTRACKED in counts:
        print(f"  ({UNTRACKED}: a tracked pattern matches them but they were never added: `git add PATH` stores "
              "them with gitdatax)")
    if CONFLICTED in counts:
        print(f"  ({CONFLICTED}: the work tree holds ours; pick with `git checkout --theirs -- PATH` or --ours, "
              "then `git add PATH`)")
    if files and not attributes.filter_configured():
        print("  (the datax filter is not configured: run `git datax install` first)")
    _pipeline_lines(top, args.all)
    if not args.no_imports:
        _imports_moved_on(top)
    return 0


def _blob_sizes(top: Path, blobs: list[str]) -> dict[str, int]:
    """The size of each blob (a raw-in-git file's real size, not a stub's): one cat-file."""
    from gitdatax import git

    if not blobs:
        return {}
    out = git.run(["cat-file", "--batch-check=%(objectname) %(objectsize)"], cwd=top,
                  input="".join(f"{b}\n" for b in blobs).encode()).stdout.decode()
    sizes = {}
    for line in out.splitlines():
        name, _, size = line.partition(" ")
        if size.isdigit():
            sizes[name] = int(size)
    return sizes


def _not_in_the_index_lines(top: Path, counts: dict[str, int]) -> list[str]:
    """Files a tracked pattern matches that the index holds no stage-0 entry for: in a merge
    conflict (stages 1-3), or never added. `git datax status` left both out (issue 16 item 5)."""
    import os

    from gitdatax import git
    from gitdatax.output import human_size, path_on_a_line

    conflicted = sorted({e.path for e in git.index_entries(cwd=top) if e.stage != 0})
    others = git.ls_files_z(["--others", "--exclude-standard", "--full-name"], cwd=top)
    filters = git.check_attr("filter", conflicted + others, cwd=top)
    lines = []
    for state, paths in ((CONFLICTED, conflicted), (UNTRACKED, others)):
        for path in (p for p in paths if filters.get(p) == "datax"):
            try:
                size = human_size(os.lstat(top / path).st_size)
            except OSError:
                size = "-"
            counts[state] = counts.get(state, 0) + 1
            lines.append(f"  {state:<24} {size:>10}  {path_on_a_line(path)}")
    return lines


def _pipeline_lines(top: Path, show_all: bool) -> None:
    """The stages `repro` would run and why, when the work tree has a pipeline."""
    from gitdatax.errors import FatalError
    from gitdatax.pipeline.spec import find_pipeline_file

    found = find_pipeline_file(top)
    if found is None:
        return
    from gitdatax.pipeline.session import Session
    from gitdatax.pipeline.status import status_lines

    try:
        lines = status_lines(Session(top), show_all)
    except FatalError as exc:  # status reports; repro is where a broken pipeline stops work
        lines = [f"pipeline ({found.name}): {exc}"]
    for line in lines:
        print(line)


def _imports_moved_on(top: object) -> None:
    from gitdatax.share.imports import moved_on

    for origin, now, problem in moved_on(top):  # type: ignore[arg-type]
        rev = origin.rev or "HEAD"
        if problem is not None:
            print(f"  import {origin.out}: cannot ask {origin.repo} about {rev}: {problem}")
        else:
            print(f"  import {origin.out}: {rev} of {origin.repo} moved on ({origin.commit[:12]} -> {str(now)[:12]}): "
                  f"`git datax update {origin.out}` brings it")


def _head_blobs(top: object) -> list[tuple[str, str]]:
    from gitdatax import git

    raw = git.run(["ls-tree", "-r", "-z", "--full-tree", "HEAD"], cwd=top).stdout  # type: ignore[arg-type]
    out = []
    for record in raw.split(b"\0"):
        if record:
            meta, _, path = record.partition(b"\t")
            out.append((path.decode("utf-8", "surrogateescape"), meta.decode().split()[2]))
    return out
