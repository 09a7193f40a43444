"""The steps fetch, pull and checkout share: which stubs HEAD and the index need, downloading
them, and filling in the work tree with a report. Commands call these with typed arguments."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from gitdatax.scan.scanner import PathStub


def wanted(all_refs: bool) -> list[PathStub]:
    """The (path, stub) pairs to fetch: HEAD's tree and the index, or all history."""
    from gitdatax import git
    from gitdatax.scan.scanner import GitScanner, PathStub

    scanner = GitScanner()
    if all_refs:
        items = scanner.history([], all_refs=True)
    else:
        items = scanner.tree("HEAD") if git.commit_exists("HEAD") else []
    items += [PathStub(f.path, f.stub) for f in scanner.index(tracked_only=True) if f.stub is not None]
    return items


def fetch(remote_name: str | None, items: list[PathStub], quiet: bool) -> int:
    from gitdatax import output
    from gitdatax.sync import worktree as sync
    from gitdatax.sync import transfer
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore.for_repo()
    if all(store.has(i.stub.oid) for i in items):
        return 0  # nothing to download: do not even open the remote
    from gitdatax.remotes.fallback import open_for_download

    remote = open_for_download(remote_name)
    try:
        result = transfer.download_missing(remote, store, [i.stub for i in items], quiet=quiet)
    finally:
        remote.close()
    if result.moved:
        output.info(f"gitdatax: {len(result.moved)} object(s) downloaded ({output.human_size(result.bytes_moved)}) "
                    f"from {remote.url}")
    if result.failed:
        output.error(f"{len(result.failed)} object(s) could not be downloaded from {remote.url}:")
        for line in sync.failure_lines(items, result.failed):
            output.info(line)
        return 1
    return 0


def fill_and_report(top: Path, include: Sequence[str], exclude: Sequence[str], quiet: bool, *,
                    after_download: bool = False) -> int:
    """Fill in the stubs from the local store and say what is left. `after_download`: pull has
    just tried to download the missing objects, so "run pull" is no advice (issue 16 item 6)."""
    from gitdatax import attributes, output
    from gitdatax.sync import worktree as sync
    from gitdatax.scan.scanner import GitScanner
    from gitdatax.errors import FatalError
    from gitdatax.store.objectstore import ObjectStore

    if not attributes.filter_configured():  # git checkout-index would write each stub back as it is
        stubs = GitScanner(top).work_tree(as_staged=True)
        if stubs:
            raise FatalError(f"cannot fill in the {len(stubs)} file(s) that are stubs: git has no datax filter to "
                             "run, so it would write the stubs back: run `git datax install`, then "
                             "`git datax checkout`")
    report = sync.fill_in(top, ObjectStore.for_repo(), fetch=False, include=include, exclude=exclude)
    if report.filled and not quiet:
        output.info(f"gitdatax: {len(report.filled)} file(s) filled in")
    if report.missing:
        advice = ("the download failed, for the reasons above: an object the remote lacks must be pushed "
                  "from the clone that has it (`git datax push` there)" if after_download
                  else "`git datax pull` downloads them")
        output.error(f"{len(report.missing)} file(s) are still stubs: their objects are not in the local store "
                     f"({advice})")
        for item in report.missing[:20]:
            output.info(f"  {item.path}: object {item.stub.oid}")
    if report.untracked:
        first, *rest = sync.untracked_stub_lines(report.untracked)
        output.error(first)
        for line in rest:
            output.info(line)
    if report.unreadable:
        output.error(f"{len(report.unreadable)} file(s) are still stubs: their objects in the local store cannot be "
                     "read (said above); `git datax fsck` moves corrupt ones aside, then `git datax pull` "
                     "fetches them again")
    return 1 if report.missing or report.unreadable or report.untracked else 0
