from __future__ import annotations

import argparse

HELP = "serve Git's long-running filter protocol (called by git)"


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from gitdatax.cli import signals

    signals.exit_at_once_on_signals()  # see cli/signals.py: never a half-way unwinding inside git
    from gitdatax.errors import FatalError, ProtocolError
    from gitdatax.sync.fetcher import RemoteFetcher
    from gitdatax.filter.process import FilterProcess
    from gitdatax.hooks.installer import ensure_installed
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore.for_repo()
    ensure_installed()  # a plain `git clone` gets our hooks without an extra command
    # Big pipes and big buffers: git can write ahead while we hash and compress, and 64 KiB
    # packets travel in 1 MiB system calls instead of two calls each.
    for fd in (0, 1):
        _grow_pipe(fd)
    stdin = open(0, "rb", buffering=1 << 20, closefd=False)
    stdout = open(1, "wb", buffering=1 << 20, closefd=False)
    # Objects missing locally come from the default remote, opened only when one is missing.
    fetcher = RemoteFetcher(store)
    process = FilterProcess(store, stdin, stdout, fetch_missing=fetcher, fetch_later=fetcher.submit,
                            fetch_now=fetcher.fetches_cheaply)
    try:
        process.serve()
    except ProtocolError as exc:
        raise FatalError(f"filter protocol error: {exc}") from None
    finally:
        process.close()
        fetcher.close()
    return 0


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (OSError, ImportError):
        pass  # not a pipe, not Linux, or over /proc/sys/fs/pipe-max-size: the default works too
