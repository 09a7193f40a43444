from __future__ import annotations

import argparse

HELP = "verify the local store (re-hash every object, quarantine corrupt ones) and find missing data"
DESCRIPTION = """Check that the data is intact:
  1. re-hash every object in the local store; a corrupt one is moved to .git/datax/bad/
     (kept for inspection) so that `git datax pull` can bring a good copy back;
  2. find stubs whose object is not in the local store: files in the work tree that still
     hold a stub, the index, and HEAD (with --all: every commit reachable from any ref);
  3. with --remote, find referenced objects the remote lacks (an object missing locally but
     present on that remote is not a problem then: a pull restores it); with --verify, also
     download every remote copy the checked commits need and re-hash it (a scratch store in
     .git/datax/tmp/, emptied as it goes; the local store is not touched).
Exits 0 only when everything checked is intact, else 1; the last line is a summary."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remote", metavar="REMOTE", nargs="?", const="",
                        help="also check that a remote store holds every referenced object "
                        "(a remote name or URL; no value: the default remote)")
    parser.add_argument("--verify", action="store_true",
                        help="with --remote: download and re-hash the remote's copies, not only check they exist")
    parser.add_argument("--all", action="store_true",
                        help="check the stubs of every reachable commit, not just HEAD")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.maintenance import fsck
    from gitdatax.store.objectstore import ObjectStore

    git.repo_paths()  # fail early, with one line, outside a repository
    store = ObjectStore.for_repo()
    remote = None
    if args.verify and args.remote is None:
        from gitdatax.errors import FatalError

        raise FatalError("fsck --verify checks a remote's copies: give --remote too (`git datax fsck --remote --verify`)")
    if args.remote is not None:
        from gitdatax.remotes.remote_config import open_configured

        remote = open_configured(args.remote or None)
    try:
        result = fsck.fsck(store, all_history=args.all, remote=remote, verify_remote=args.verify)
    finally:
        if remote is not None:
            remote.close()
    for line in fsck.report_lines(result, store, remote):
        print(line)
    print(fsck.summary(result, remote))
    return 0 if result.ok else 1
