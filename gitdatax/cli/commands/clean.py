from __future__ import annotations

import argparse
import sys

HELP = "clean one file from stdin to its stub on stdout (git's one-shot filter)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default="", help="the file's path, for messages")


def run(args: argparse.Namespace) -> int:
    from gitdatax.cli import signals

    signals.exit_at_once_on_signals()  # see cli/signals.py: never a half-way unwinding inside git
    from gitdatax.filter.clean import Cleaner
    from gitdatax.store.objectstore import ObjectStore

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    cleaner = Cleaner(ObjectStore.for_repo())
    try:
        for chunk in cleaner.clean(iter(lambda: stdin.read(1 << 20), b"")):
            stdout.write(chunk)
    finally:
        cleaner.close()  # no path: nothing was written in the background, only the journal
    stdout.flush()
    return 0
