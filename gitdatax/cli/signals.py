"""What a signal does to a gitdatax process (issue 11, item 9).

- The filter (`filter-process`, `clean`, `smudge`) ends at once on SIGINT, SIGTERM or SIGHUP,
  after removing the partial files it was writing in tmp/. Git is being stopped too, or has lost
  its filter and fails the command; unwinding threads that wait on each other is how `git add`
  once hung for over 10 minutes after a Ctrl-C. Nothing half-written is ever published: objects
  appear by rename only, and a queued write that never happened is caught by pre-commit (its
  oid stays listed in <store>/in-flight).
- Every other command unwinds on SIGTERM as on Ctrl-C (its `finally` blocks remove partial
  files and put stubs back) and exits 130 with "interrupted"; a second signal ends it at once.
"""
from __future__ import annotations

import os
import signal
from types import FrameType

from gitdatax.store import tmpfiles

_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _exit_now(signum: int, frame: FrameType | None) -> None:
    tmpfiles.remove_own()
    os._exit(128 + signum)


def _unwind(signum: int, frame: FrameType | None) -> None:
    for sig in _STOPPING:  # the next one does not wait for the unwinding
        signal.signal(sig, _exit_now)
    raise KeyboardInterrupt


def exit_at_once_on_signals() -> None:
    for sig in _STOPPING:
        signal.signal(sig, _exit_now)


def unwind_on_signals() -> None:
    for sig in _STOPPING:
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):  # not ignored (nohup)
            signal.signal(sig, _unwind)
