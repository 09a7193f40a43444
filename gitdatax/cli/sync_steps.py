"""The steps fetch, pull, checkout and push share: which stubs HEAD (and the index) need,
moving them with a report of what moved and what failed, and filling in the work tree with a
report. Commands call these with typed arguments."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from gitdatax.scan.scanner import PathStub
    from gitdatax.sync.transfer import TransferResult


def committed(all_refs: bool) -> list[PathStub]:
    """The (path, stub) pairs of HEAD's tree, or of the history of all local refs."""
    from gitdatax import git
    from gitdatax.scan.scanner import GitScanner

    if all_refs:
        return GitScanner().history([], all_refs=True)
    return GitScanner().tree("HEAD") if git.commit_exists("HEAD") else []


def wanted(all_refs: bool) -> list[PathStub]:
    """The (path, stub) pairs to fetch: HEAD's tree and the index, or all history."""
    from gitdatax.scan.scanner import GitScanner, PathStub

    staged = [PathStub(f.path, f.stub) for f in GitScanner().index(tracked_only=True) if f.stub is not None]
    return committed(all_refs) + staged


def report_transfer(result: TransferResult, items: list[PathStub], url: str, *, upload: bool) -> int:
    """Say what a push (`upload`) or a fetch moved and, by path, what failed; 1 when anything
    failed. A push always says how many objects were there already, a fetch only what it moved."""
    from gitdatax import output
    from gitdatax.sync import worktree as sync

    done, where = ("uploaded", "to") if upload else ("downloaded", "from")
    moved = f"gitdatax: {len(result.moved)} object(s) {done} ({output.human_size(result.bytes_moved)}) {where} {url}"
    if upload and (result.moved or not result.failed):
        output.info(f"{moved}, {len(result.present)} already there")
    elif result.moved and not upload:
        output.info(moved)
    if not result.failed:
        return 0
    output.error(f"{len(result.failed)} object(s) could not be {done} {where} {url}:")
    for line in sync.failure_lines(items, result.failed):
        output.info(line)
    return 1


def fetch(remote_name: str | None, items: list[PathStub], quiet: bool) -> int:
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
    return report_transfer(result, items, remote.url, upload=False)


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
