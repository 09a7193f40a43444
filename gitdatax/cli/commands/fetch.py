from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitdatax.scan.scanner import PathStub

HELP = "download the data of HEAD (or of all refs with --all) into the local store; the work tree is untouched"
DESCRIPTION = """Download from REMOTE (default: the default remote) every object that the files of
HEAD and the index need and that the local store lacks. With --all, every object in the history of
all local refs, so that any old commit can be checked out offline. --include and --exclude take
comma-separated patterns ('data/*,models/asr.bin', on paths from the top of the work tree, even
in a subdirectory); a pattern without a slash also matches file
names in any directory, a directory name matches everything under it. Every object is verified
(decompressed and re-hashed) before it enters the store. `git datax pull` also fills in the files."""


def add_pattern_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", "--include", action="append", metavar="PATTERNS",
                        help="only paths matching these comma-separated patterns")
    parser.add_argument("-X", "--exclude", action="append", metavar="PATTERNS",
                        help="not paths matching these comma-separated patterns")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", metavar="REMOTE", help="a remote name or URL")
    parser.add_argument("--all", action="store_true", help="the history of all local refs, not just HEAD")
    add_pattern_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


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


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.scan import commits

    git.repo_paths()  # one clear line outside a repository
    items = commits.select(wanted(args.all), commits.split_patterns(args.include), commits.split_patterns(args.exclude))
    return fetch(args.remote, items, args.quiet)
