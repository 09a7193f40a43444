from __future__ import annotations

import argparse

HELP = "upload the data of HEAD (or of every local ref's history with --all) that the remote lacks"
DESCRIPTION = """Upload to REMOTE (default: the default remote, see `git datax remote list`) every
object that the files of HEAD need and that the remote does not have yet. With --all, every object
referenced anywhere in the history of all local refs. `git push` does this by itself through the
pre-push hook; run it by hand to publish data without pushing code, or to fill a new remote."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", metavar="REMOTE", help="a remote name or URL")
    parser.add_argument("--all", action="store_true", help="the history of all local refs, not just HEAD")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from gitdatax.cli.sync_steps import committed, report_transfer
    from gitdatax.remotes import remote_config
    from gitdatax.store.objectstore import ObjectStore
    from gitdatax.sync import transfer

    items = committed(args.all)
    remote = remote_config.open_configured(args.remote)
    try:
        result = transfer.upload_missing(remote, ObjectStore.for_repo(), [i.stub for i in items], quiet=args.quiet)
    finally:
        remote.close()
    return report_transfer(result, items, remote.url, upload=True)
