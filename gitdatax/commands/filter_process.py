from __future__ import annotations

import argparse
import sys

HELP = "serve Git's long-running filter protocol (called by git)"


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from gitdatax import pktline
    from gitdatax.errors import FatalError
    from gitdatax.filter_process import FilterProcess
    from gitdatax.hooks import ensure_installed
    from gitdatax.store import ObjectStore

    store = ObjectStore.for_repo()
    ensure_installed()  # a plain `git clone` gets our hooks without an extra command
    try:
        FilterProcess(store, sys.stdin.buffer, sys.stdout.buffer).serve()
    except pktline.ProtocolError as exc:
        raise FatalError(f"filter protocol error: {exc}") from None
    return 0
