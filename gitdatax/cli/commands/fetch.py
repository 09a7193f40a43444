from __future__ import annotations

import argparse

HELP = "download the data of HEAD (or of all refs with --all) into the local store; the work tree is untouched"
DESCRIPTION = """Download from REMOTE (default: the default remote) every object that the files of
HEAD and the index need and that the local store lacks. With --all, every object in the history of
all local refs, so that any old commit can be checked out offline. --include and --exclude take
comma-separated patterns ('data/*,models/asr.bin', on paths from the top of the work tree, even
in a subdirectory); a pattern without a slash also matches file
names in any directory, a directory name matches everything under it. Every object is verified
(decompressed and re-hashed) before it enters the store. `git datax pull` also fills in the files."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", metavar="REMOTE", help="a remote name or URL")
    parser.add_argument("--all", action="store_true", help="the history of all local refs, not just HEAD")
    from gitdatax.cli.common import add_pattern_arguments

    add_pattern_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.scan import commits

    git.repo_paths()  # one clear line outside a repository
    from gitdatax.cli.sync_steps import fetch, wanted

    items = commits.select(wanted(args.all), commits.split_patterns(args.include), commits.split_patterns(args.exclude))
    return fetch(args.remote, items, args.quiet)
