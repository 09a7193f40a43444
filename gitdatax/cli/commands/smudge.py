from __future__ import annotations

import argparse
import sys

HELP = "smudge one stub from stdin to its content on stdout (git's one-shot filter)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default="", help="the file's path, for messages")


def run(args: argparse.Namespace) -> int:
    from gitdatax.cli import signals

    signals.exit_at_once_on_signals()  # see cli/signals.py: never a half-way unwinding inside git
    from gitdatax.sync.fetcher import RemoteFetcher
    from gitdatax.filter.smudge import Smudger
    from gitdatax.output import say
    from gitdatax.store.objectstore import ObjectStore

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    store = ObjectStore.for_repo()
    fetcher = RemoteFetcher(store)

    smudger = Smudger(store, say, fetch_missing=fetcher)
    for chunk in smudger.smudge(args.path, iter(lambda: stdin.read(1 << 20), b"")):
        stdout.write(chunk)
    stdout.flush()
    fetcher.close()
    return 0
