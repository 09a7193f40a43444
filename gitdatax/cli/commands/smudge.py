from __future__ import annotations

import argparse

HELP = "smudge one stub from stdin to its content on stdout (git's one-shot filter)"


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_filter_path

    add_filter_path(parser)


def run(args: argparse.Namespace) -> int:
    from gitdatax.cli import signals

    signals.exit_at_once_on_signals()  # see cli/signals.py: never a half-way unwinding inside git
    from gitdatax.cli.common import filter_stdin
    from gitdatax.filter.smudge import Smudger
    from gitdatax.output import say
    from gitdatax.store.objectstore import ObjectStore
    from gitdatax.sync.fetcher import RemoteFetcher

    store = ObjectStore.for_repo()
    fetcher = RemoteFetcher(store)
    smudger = Smudger(store, say, fetch_missing=fetcher)
    filter_stdin(lambda chunks: smudger.smudge(args.path, chunks))
    fetcher.close()
    return 0
