from __future__ import annotations

import argparse

HELP = "clean one file from stdin to its stub on stdout (git's one-shot filter)"


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_filter_path

    add_filter_path(parser)


def run(args: argparse.Namespace) -> int:
    from gitdatax.cli import signals

    signals.exit_at_once_on_signals()  # see cli/signals.py: never a half-way unwinding inside git
    from gitdatax.cli.common import filter_stdin
    from gitdatax.filter.clean import Cleaner
    from gitdatax.store.objectstore import ObjectStore

    cleaner = Cleaner(ObjectStore.for_repo())
    try:
        filter_stdin(cleaner.clean)
    finally:
        cleaner.close()  # no path: nothing was written in the background, only the journal
    return 0
