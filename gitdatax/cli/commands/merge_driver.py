from __future__ import annotations

import argparse
import filecmp
import shlex
import shutil

HELP = "merge two versions of a tracked file (called by git as merge.datax.driver)"
DESCRIPTION = """Git calls this with the stubs of the ancestor (%O), ours (%A) and theirs (%B).
Data and models cannot be merged line by line: when both sides changed a file, ours is kept in
the work tree and a conflict is reported, as git does for binary files."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ancestor")
    parser.add_argument("ours")
    parser.add_argument("theirs")
    # Everything after the three files is the path (%P), taken as it is: a path like `-h` or
    # `-d.bin` is not an option (parsed as one, `-h` exited 0, which git took for a clean merge).
    parser.add_argument("path", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    from gitdatax import output

    path = args.path[0] if args.path else "the file"
    if filecmp.cmp(args.theirs, args.ancestor, shallow=False) or filecmp.cmp(
        args.ours, args.theirs, shallow=False
    ):
        return 0  # only ours changed, or both made the same change
    if filecmp.cmp(args.ours, args.ancestor, shallow=False):
        shutil.copyfile(args.theirs, args.ours)  # only theirs changed
        return 0
    output.info(
        f"gitdatax: {path}: both sides changed it; the work tree keeps our version. "
        f"Use `git checkout --theirs -- {shlex.quote(path)}` for theirs, then `git add` it."
    )
    return 1
