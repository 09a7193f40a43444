"""Where bugs leave their details: a log with versions and the traceback, never the terminal.

The log goes to <git-common-dir>/datax/logs/, or to the user's cache when there is no repository
or that folder cannot be written (the store itself may be what is broken).
"""
from __future__ import annotations

import os
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from gitdatax import __version__


def _log_dirs() -> list[Path]:
    dirs = []
    try:
        from gitdatax import git

        dirs.append(git.repo_paths().common_dir / "datax" / "logs")
    except Exception:  # noqa: BLE001 - no repository, or git itself fails: use the cache
        pass
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gitdatax" / "logs")
    return dirs


def write_crash_log(argv: Sequence[str]) -> Path | None:
    """Write the exception being handled, with versions and the command; None if no log could
    be written anywhere (the caller still prints its one line)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    text = (
        f"gitdatax {__version__}, Python {sys.version.split()[0]} on {sys.platform}\n"
        f"command: {' '.join(argv)}\ncwd: {os.getcwd()}\n\n{traceback.format_exc()}"
    )
    for log_dir in _log_dirs():
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            path = log_dir / f"{stamp}.{os.getpid()}.log"
            path.write_text(text)
            return path
        except OSError:
            continue
    return None


def details(log: Path | None) -> str:
    return f"details in {log}" if log is not None else "no log could be written"
