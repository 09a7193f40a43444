from __future__ import annotations

import argparse

HELP = "download the data HEAD needs and fill in the files that are still stubs"
DESCRIPTION = """`git datax fetch` for HEAD and the index (in a sparse checkout, only for the paths
the work tree holds), then replace every work tree file that holds a stub with its data
(through git, so `git status` stays clean). Use it after a clone or checkout made with
GIT_DATAX_SKIP_SMUDGE=1, after an offline checkout, or to restore a deleted local store.
--include and --exclude limit it to some paths (see `git datax fetch --help`)."""


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_pattern_arguments

    parser.add_argument("remote", nargs="?", metavar="REMOTE", help="a remote name or URL")
    add_pattern_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no 'file(s) filled in' line")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.scan import commits
    from gitdatax.cli.sync_steps import fetch, fill_and_report, wanted

    top = git.toplevel()  # one clear line outside a work tree, before any download
    include, exclude = commits.split_patterns(args.include), commits.split_patterns(args.exclude)
    # Only what the work tree holds: a sparse checkout leaves the rest of the data on the remote.
    outside = git.skip_worktree_paths()
    items = [i for i in wanted(False) if i.path not in outside]
    code = fetch(args.remote, commits.select(items, include, exclude), args.quiet)
    fill_code = fill_and_report(top, include, exclude, args.quiet, after_download=True)
    return code or fill_code
