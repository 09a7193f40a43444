from __future__ import annotations

import argparse

HELP = ("list the files gitdatax stores in the index (or a commit with --rev): oid, present locally (*) or "
        "not (-), size, path from the top of the work tree")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-l", "--long", action="store_true", help="show the full 64-digit oid")
    parser.add_argument("--rev", help="list the stubs of this commit instead of the index")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.scan.scanner import GitScanner
    from gitdatax.errors import FatalError
    from gitdatax.output import human_size, path_on_a_line
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore.for_repo()
    if args.rev:
        if not git.commit_exists(args.rev):
            raise FatalError(f"--rev {args.rev}: no such commit")
        rows = GitScanner().tree(args.rev)
    else:
        # From the top, as --rev and `status` list them: the same paths wherever it runs.
        rows = [(f.path, f.stub) for f in GitScanner(git.toplevel()).index(tracked_only=True) if f.stub is not None]
    for path, stub in rows:
        oid = stub.oid if args.long else stub.oid[:12]
        mark = "*" if store.has(stub.oid) else "-"
        print(f"{oid} {mark} {human_size(stub.size):>10}  {path_on_a_line(path)}")
    return 0
