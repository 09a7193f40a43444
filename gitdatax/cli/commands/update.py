from __future__ import annotations

import argparse

HELP = "move imports (git datax import) to their source's new commit, or to another revision"
DESCRIPTION = """`git datax update [OUT...] [--rev REV]` fetches each import (every one in
`.datax-imports.toml` when none is named) again at its recorded rev, or at REV, and replaces its
files when the commit differs: new and changed files come, removed ones go, and the result is
staged with the new origin. An import recorded at a branch follows it; one at a tag or commit
moves only with --rev. Files changed here since (not committed) stop it, unless --force."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outs", nargs="*", metavar="OUT", help="imports to update (default: all)")
    parser.add_argument("--rev", metavar="REV", help="move to this revision of the source (and record it)")
    parser.add_argument("-f", "--force", action="store_true", help="replace files changed here since the import")
    parser.add_argument("-j", "--jobs", metavar="N", type=int, help="parallel downloads (default datax.concurrency, 8)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.share.imports import update

    changed = 0
    for report in update(args.outs, rev=args.rev, jobs=args.jobs, quiet=args.quiet, force=args.force):
        o = report.origin
        if report.changed:
            changed += 1
            output.info(f"updated {o.out} to {o.rev or 'HEAD'} (commit {o.commit[:12]}): {report.files} file(s), "
                        f"{output.human_size(report.bytes)}")
        else:
            output.info(f"{o.out} is up to date ({o.rev or 'HEAD'} is commit {o.commit[:12]})")
    if changed:
        output.info("staged: `git commit` to record the update")
    return 0
