from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

HELP = "fill in the work tree files that are still stubs, from the local store (offline)"
DESCRIPTION = """Replace every work tree file that holds a stub with its data from the local store,
without the network (`git datax pull` also downloads). Files whose object is not in the local
store stay stubs and are listed; exit status 1 then. --include and --exclude limit it to some
paths (see `git datax fetch --help`)."""


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.commands.fetch import add_pattern_arguments

    add_pattern_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="say nothing when all is well")


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


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.scan import commits

    return fill_and_report(git.toplevel(), commits.split_patterns(args.include), commits.split_patterns(args.exclude),
                           args.quiet)
