from __future__ import annotations

import argparse

HELP = "fill in the work tree files that are still stubs, from the local store (offline)"
DESCRIPTION = """Replace every work tree file that holds a stub with its data from the local store,
without the network (`git datax pull` also downloads). Files whose object is not in the local
store stay stubs and are listed; exit status 1 then. --include and --exclude limit it to some
paths (see `git datax fetch --help`)."""


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_pattern_arguments

    add_pattern_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="say nothing when all is well")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.scan import commits

    from gitdatax.cli.sync_steps import fill_and_report

    return fill_and_report(git.toplevel(), commits.split_patterns(args.include), commits.split_patterns(args.exclude),
                           args.quiet)
