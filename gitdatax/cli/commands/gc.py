from __future__ import annotations

import argparse

HELP = "delete local objects no recent or unpushed commit needs and that the default remote holds"
DESCRIPTION = """Free space in the local store (.git/datax). An object is deleted only when all of
these hold:
  - no worktree needs it: not in a work tree stub, an index, or a HEAD (all worktrees);
  - no local branch tip and no stash entry (refs/stash and its reflog) references it;
  - no commit newer than --keep-days (committer date, default 7) references it;
  - no commit that is not yet pushed (not reachable from a remote-tracking ref) references it;
  - it was not written in the last --grace hours (default 1: a `git add` under way has
    written objects that are in no index yet, as git's gc.pruneExpire keeps young objects);
  - the default remote confirms it holds a copy.
Deleted objects come back on demand: checking out an old commit fetches them, and
`git datax pull` (or fetch) brings them back explicitly.

If the default remote cannot be reached or none is configured, gc deletes no object, says why in
one line and exits 1. Either way it removes what interrupted writes (a killed `git add` or
download) left in .git/datax/tmp/. With --dry-run it only lists what it would delete and
the leftovers it would remove."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would be deleted; change nothing")
    parser.add_argument("--keep-days", type=float, default=7.0, metavar="N",
                        help="keep the objects of commits newer than N days (default 7; 0: only the rules above)")
    parser.add_argument("--grace", type=float, default=1.0, metavar="HOURS",
                        help="keep every object written less than HOURS ago, whatever needs it (default 1; "
                             "a `git add` under way has objects in no index yet; 0: none)")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.maintenance import gc
    from gitdatax.errors import FatalError
    from gitdatax.output import human_size
    from gitdatax.remotes.remote_config import open_configured
    from gitdatax.store.objectstore import ObjectStore

    if not args.keep_days >= 0:  # also nan, which no commit date compares with
        raise FatalError(f"--keep-days must be 0 or more, not {args.keep_days:g}")
    if not args.grace >= 0:
        raise FatalError(f"--grace must be 0 or more hours, not {args.grace:g}")
    git.repo_paths()
    store = ObjectStore.for_repo()
    # Whatever the remote says: leftovers of killed writes are never anyone's only copy.
    leftovers = gc.remove_stale_tmp(store, dry_run=args.dry_run)
    if args.dry_run:
        for leftover in leftovers:
            print(f"would remove tmp/{leftover.name} {human_size(leftover.size):>10}  ({leftover.why})")
    if leftovers:
        print(f"gc: {'would remove' if args.dry_run else 'removed'} {len(leftovers)} temporary file(s) "
              f"left by interrupted writes ({human_size(sum(x.size for x in leftovers))})")
    try:
        plan = gc.plan(store, args.keep_days, lambda: open_configured(None), grace_hours=args.grace)
    except FatalError as exc:
        raise FatalError(f"gc deleted no object: {exc} (an object is deleted only once the default "
                         "remote confirms it has a copy)") from None
    kept = sorted({reason for reason in plan.needed.values()}, key=gc.REASONS.index)
    needed_local = [oid for oid in plan.local if oid in plan.needed]
    print(f"gc: {len(plan.local)} object(s) in the store ({human_size(gc.stored_bytes(store, plan.local))}); "
          f"{len(needed_local)} needed ({', '.join(kept) or 'nothing'}), {len(plan.unneeded)} not needed")
    lacking = len(plan.unneeded) - len(plan.deletable)
    if lacking:
        print(f"gc: keeping {lacking} unneeded object(s) that the remote {plan.remote_url} does not have")
    size = gc.stored_bytes(store, [s.oid for s in plan.deletable])
    if args.dry_run:
        for stub in plan.deletable:
            stored = human_size(gc.stored_bytes(store, [stub.oid]))  # what "freeing" adds up, compressed
            print(f"would delete {stub.oid} {human_size(stub.size):>10} of data, {stored} stored  "
                  f"{plan.paths.get(stub.oid, '(no commit)')}")
        packs = gc.chunks_to_prune(store, plan)
        if packs.packs_removed or packs.packs_rewritten:
            print(f"gc: would remove {packs.packs_removed} chunk pack(s) and repack {packs.packs_rewritten} "
                  f"(the chunks no kept object needs): {human_size(packs.bytes_freed)} of packs freed")
        print(f"gc: would delete {len(plan.deletable)} object(s), freeing {human_size(size)} (dry run: nothing deleted)")
        return 0
    freed = gc.execute(store, plan)
    print(f"gc: deleted {len(plan.deletable)} object(s), freed {human_size(freed)}")
    return 0
