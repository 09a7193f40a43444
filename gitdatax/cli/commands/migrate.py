from __future__ import annotations

import argparse

HELP = "bring big files already committed, or a Git LFS repository, into gitdatax (rewrites history)"
DESCRIPTION = """Subcommands:
  info        which file types take the most room in the history (largest total first)
  import      rewrite history so files matching --include become stubs, their bytes in the store
  from-lfs    turn Git LFS pointers into gitdatax stubs (staged, or in every commit with
              --rewrite-history) and copy the objects from .git/lfs/objects into the store
  from-dvc    turn a DVC repository's .dvc files and cached stage outputs into gitdatax-tracked
              files (staged), objects re-hashed from DVC's cache; dvc.yaml keeps working

History rewriting is safe to interrupt: the refs move only at the very end, in one transaction,
and each rewritten ref keeps its old value under refs/datax-backup/<time>/<ref> until you delete
it. Rewritten branches need `git push --force` to replace what others have; tell them first.
Run `git datax migrate SUBCOMMAND --help` for the options."""

REVS_HELP = ("branches or tags to rewrite, and ^REV to leave a commit and its history unchanged "
             "(default: the checked-out branch)")


def _add_revs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--everything", action="store_true", help="every local branch and tag")
    parser.add_argument("revs", nargs="*", metavar="REV", help=REVS_HELP)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="migrate_command", metavar="{info,import,from-lfs,from-dvc}")
    sub.required = True
    info = sub.add_parser("info", help="the largest file types in the history",
                          description="List file types (by extension) by the total size of their distinct "
                          "versions in the history of the chosen refs, largest first: what to --include.")
    _add_revs(info)
    info.add_argument("--top", type=int, default=10, metavar="N", help="how many types to list (default 10)")
    imp = sub.add_parser(
        "import", help="rewrite history: matching files become stubs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""Rewrite the history of the chosen refs so that every file matching --include
becomes a gitdatax stub, its bytes stored in .git/datax. Every rewritten commit gets a
.gitattributes with a `PATTERN filter=datax diff=datax merge=datax -text` line per pattern.
Needs a clean work tree; the checked-out branch's files are refreshed afterwards.

The old history stays under refs/datax-backup/<time>/ (printed at the end): restore it with
`git update-ref REF BACKUP`; once satisfied, delete it, expire the reflogs and run
`git gc --prune=now` to free the space (the commands are printed too).

Example: git datax migrate import --include '*.bin,*.parquet' --everything""")
    imp.add_argument("--include", action="append", metavar="PATTERNS", default=[],
                     help="gitattributes patterns, comma-separated or repeated (default: the patterns "
                     "the top .gitattributes already tracks with gitdatax)")
    _add_revs(imp)
    lfs = sub.add_parser(
        "from-lfs", help="convert a Git LFS repository",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""Convert Git LFS to gitdatax: `filter=lfs` lines in .gitattributes become gitdatax
lines, pointers become stubs with the same oid and size, and objects are copied from
.git/lfs/objects into the store, re-hashed on the way (run `git lfs fetch --all` first if
some are not there: nothing is changed when one is missing).

Without --rewrite-history, the checked-out files are converted and the change is staged: review
and commit it. With --rewrite-history, every commit of the chosen refs is rewritten (backup refs
as for `import`).""")
    lfs.add_argument("--rewrite-history", action="store_true", help="convert every commit, not just the index")
    lfs.add_argument("--remove-lfs-objects", action="store_true",
                     help="delete the Git LFS copies once stored (the backup refs then need the LFS server)")
    _add_revs(lfs)
    dvc = sub.add_parser(
        "from-dvc", help="convert a DVC repository",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""Convert DVC to gitdatax, in the work tree and the index: every output of a .dvc
file, and every cached output of a stage in dvc.lock, becomes a gitdatax-tracked file (its bytes
read from DVC's cache, or a local DVC remote, checked against DVC's md5 and stored under their
SHA-256; a DVC link into its cache becomes the real file); the .dvc files and the .gitignore
lines DVC wrote for those outputs go; .gitattributes gets a line per output; remotes of
.dvc/config that gitdatax speaks (a path, s3://, gs://, azure:// as az://, webdav(s)://,
hdfs://, ssh://, which then needs git-datax on the host) become remotes in .datax.toml, the
default kept, their credentials (also from .dvc/config.local) in this repository's git config,
never in .datax.toml; a remote or setting that only .dvc/config.local has (this machine's)
goes to git config too; an http(s):// remote (a plain file tree, not a Git LFS server) is named
with what to run instead. dvc.yaml stays as it is (the pipeline runner reads it) and so does dvc.lock (DVC's md5
record; gitdatax's lock is datax.lock). Nothing changes when an object is missing or corrupt:
run `dvc pull` first. Review with `git status` and commit; .dvc/ may go afterwards.

With --rewrite-history, every commit of the chosen refs instead (backup refs as for `import`):
each .dvc file gives way to its outputs' stubs, DVC's .gitignore lines go, .gitattributes tracks
the outputs; old versions must be in DVC's cache (`dvc fetch --all-commits`) or a local DVC
remote. Stage outputs of dvc.lock stay DVC's there: run from-dvc again, without the option, to
convert those of the checked-out commit. The remotes are converted as a staged change.""")
    dvc.add_argument("--rewrite-history", action="store_true", help="convert every commit, not just the index")
    _add_revs(dvc)


def run(args: argparse.Namespace) -> int:
    from gitdatax import git

    git.repo_paths()  # one clear line outside a repository
    if args.migrate_command == "info":
        return _info(args)
    if args.migrate_command == "import":
        return _import(args)
    if args.migrate_command == "from-dvc":
        return _from_dvc_history(args) if args.rewrite_history else _from_dvc(args)
    return _from_lfs(args)


def _from_dvc_history(args: argparse.Namespace) -> int:
    from gitdatax import git, output
    from gitdatax.migrate import importer
    from gitdatax.migrate.dvc_config import DvcConfig
    from gitdatax.migrate.dvc_remotes import convert_remotes
    from gitdatax.migrate.from_dvc_history import rewrite_history

    top = git.toplevel()
    refs, excludes = importer.select_refs(args.everything, args.revs)
    updates, files, nbytes = rewrite_history(top, refs, excludes)
    output.info(f"migrate: {files} distinct DVC file version(s) ({output.human_size(nbytes)}) now stored by gitdatax")
    _report_updates(updates)
    converted, local, skipped, local_remotes = convert_remotes(top, DvcConfig(top))
    _report_remotes(converted, local, skipped, local_remotes, "in .datax.toml, staged: commit it")
    if converted:
        git.run(["add", "--", ".datax.toml"], cwd=top)
    return 0


def _from_dvc(args: argparse.Namespace) -> int:
    from gitdatax import git, output
    from gitdatax.errors import FatalError
    from gitdatax.migrate.from_dvc import migrate

    if args.everything or args.revs:
        raise FatalError("REVS and --everything need --rewrite-history")
    result = migrate(git.toplevel())
    output.info(f"migrate: {result.files} file(s) ({output.human_size(result.bytes)}) of {len(result.outs)} DVC "
                f"output(s) now tracked by gitdatax: {', '.join(result.outs)}")
    if result.dvc_files:
        output.info(f"migrate: removed {len(result.dvc_files)} .dvc file(s) and DVC's .gitignore lines for them")
    if result.imports:
        output.info(f"migrate: {', '.join(result.imports)} came from `dvc import`: origin kept in .datax-imports.toml "
                    "(`git datax update` follows it)")
    _report_remotes(result.remotes, result.local_settings, result.skipped_remotes, result.local_remotes,
                    "in .datax.toml")
    output.info("migrate: staged: review with `git status` and commit; dvc.yaml runs as it is with "
                "`git datax repro`")
    return 0


def _report_remotes(converted: list[str], local: list[str], skipped: list[str], local_remotes: list[str],
                    where: str) -> None:
    from gitdatax import output

    for line in converted:
        output.info(f"migrate: remote {line} ({where})")
    for line in local_remotes:
        output.info(f"migrate: remote {line}")
    for key in local:
        output.info(f"migrate: {key} set in this repository's git config (yours, never committed)")
    for line in skipped:
        output.warn(f"DVC remote {line}")


def _info(args: argparse.Namespace) -> int:
    from gitdatax.migrate import importer as migrate
    from gitdatax.errors import FatalError

    if args.top < 1:
        raise FatalError(f"--top must be 1 or more, not {args.top}")
    refs, excludes = migrate.select_refs(args.everything, args.revs)
    for line in migrate.info_lines(migrate.file_types(refs, excludes), args.top):
        print(line)
    return 0


def _patterns(args: argparse.Namespace) -> list[str]:
    from gitdatax import attributes, git
    from gitdatax.errors import FatalError

    patterns = [p.strip() for item in args.include for p in item.split(",") if p.strip()]
    if not patterns:
        patterns = attributes.tracked_patterns(git.toplevel() / ".gitattributes")
        if not patterns:
            raise FatalError("no --include patterns given and .gitattributes tracks none: "
                             "run `git datax migrate info` to see what takes the room, then "
                             "e.g. --include '*.bin'")
    for pattern in patterns:
        if "\n" in pattern or pattern.startswith("!"):
            raise FatalError(f"invalid pattern {pattern!r}")
        problem = attributes.matches_no_file(pattern, git.toplevel() / pattern.lstrip("/"))
        if problem:
            raise FatalError(f"--include {problem}")
        own = attributes.own_file_matched(pattern, git.toplevel())
        if own:
            raise FatalError(f"--include {pattern}: it also matches {own}, which must stay plain text in Git "
                             "(git reads it from the commit): use a narrower pattern, e.g. '*.bin'")
    return list(dict.fromkeys(patterns))


def _import(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.migrate import importer as migrate

    patterns = _patterns(args)
    refs, excludes = migrate.select_refs(args.everything, args.revs)
    result = migrate.import_history(patterns, refs, excludes)
    output.info(f"migrate: {result.files} distinct file version(s) ({output.human_size(result.nbytes)}) "
                f"now stored by gitdatax, patterns: {', '.join(patterns)}")
    _report_updates(result.updates)
    return 0


def _from_lfs(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.migrate import importer as migrate
    from gitdatax.migrate import from_lfs as migrate_lfs

    if args.rewrite_history:
        refs, excludes = migrate.select_refs(args.everything, args.revs)
        result = migrate_lfs.rewrite_history(refs, excludes, remove_lfs=args.remove_lfs_objects)
        output.info(f"migrate: {result.files} Git LFS object(s) ({output.human_size(result.nbytes)}) "
                    "now stored by gitdatax")
        _report_updates(result.updates)
    else:
        if args.everything or args.revs:
            from gitdatax.errors import FatalError

            raise FatalError("REVS and --everything need --rewrite-history")
        result = migrate_lfs.convert_in_place(remove_lfs=args.remove_lfs_objects)
        output.info(f"migrate: {result.files} file(s) ({output.human_size(result.nbytes)}) converted from Git LFS "
                    f"pointers to gitdatax stubs, {len(result.attribute_files)} .gitattributes file(s) updated; "
                    "staged: review with `git status` and commit")
    if result.lfs_freed:
        output.info(f"migrate: removed the Git LFS copies ({output.human_size(result.lfs_freed)})")
    output.info("migrate: Git LFS hooks, if installed here, can go: `git lfs uninstall --local`")
    return 0


def _report_updates(updates: list) -> None:  # list[history.RefUpdate]
    from gitdatax import output
    from gitdatax.migrate import history

    if not updates:
        output.info("migrate: nothing to rewrite: no ref changed")
        return
    for path, branch in history.stale_worktrees(updates):
        output.warn(f"worktree {path} has {branch} checked out: run `git reset --hard` there "
                    "(its files keep their bytes; its index still lists the old commit)")
    for u in updates:
        output.info(f"  {u.ref}: {u.old[:12]} -> {u.new[:12]} (old history kept as {u.backup})")
    prefix = updates[0].backup[: -len(updates[0].ref) - 1]
    output.info(f"to restore: git update-ref REF {prefix}/REF (e.g. git update-ref {updates[0].ref} {updates[0].backup})")
    output.info(f"to drop the backup and free the space: git for-each-ref --format='delete %(refname)' {prefix}/ "
                "| git update-ref --stdin && git reflog expire --expire=now --all && git gc --prune=now")
    output.info("rewritten branches replace the remote's only with `git push --force`")
