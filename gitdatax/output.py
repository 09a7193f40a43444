"""What gitdatax tells the user: messages on stderr, progress bars only on a terminal."""
from __future__ import annotations

import os
import sys
from typing import Any, BinaryIO

PREFIX = "git-datax"
DESC_WIDTH = 40  # the most of a terminal line a progress bar's label takes


def info(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def warn(message: str) -> None:
    sys.stderr.write(f"{PREFIX}: warning: {message}\n")


def error(message: str) -> None:
    sys.stderr.write(f"{PREFIX}: error: {message}\n")


def say(message: str, stream: BinaryIO | None = None) -> None:
    """`git-datax: MESSAGE` on stderr (or `stream`) at once, a path that is not UTF-8 shown as
    its bytes, as git shows it (surrogateescape): the filter's one line per failed file."""
    out = stream or sys.stderr.buffer
    out.write(f"{PREFIX}: {message}\n".encode("utf-8", "surrogateescape"))
    out.flush()


_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
              '"': '\\"', "\\": "\\\\"}


def path_on_a_line(path: str) -> str:
    """`path` as one line of a listing: C-quoted as git quotes it when it holds a control character
    (a newline would split the record), as it is otherwise (spaces, quotes, non-ASCII)."""
    if not any(c < " " or c == "\x7f" for c in path):
        return path
    return '"' + "".join(_C_ESCAPES.get(c) or (f"\\{ord(c):03o}" if c < " " or c == "\x7f" else c)
                         for c in path) + '"'


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def progress_enabled(quiet: bool = False) -> bool:
    if quiet or os.environ.get("GIT_DATAX_QUIET"):
        return False
    return sys.stderr.isatty()


def progress(total: int | None, desc: str, *, unit: str = "B", quiet: bool = False, **kwargs: Any) -> Any:
    """A tqdm bar on stderr when it is a terminal, else an object with the same methods that
    does nothing (so callers never branch)."""
    if not progress_enabled(quiet):
        return _NoProgress()
    from tqdm import tqdm  # lazy: hooks and the filter process start faster without it

    scale = unit == "B"
    # A terminal that reports no size (a pty nobody sized: `script`, `docker exec -t`, some CI
    # runners) made tqdm draw nothing at all: give it 80 x 24 then (issue 16 item 7).
    sized = _terminal_columns() > 0
    if len(desc) > DESC_WIDTH:  # a long remote URL left no room for the bar itself
        desc = desc[:DESC_WIDTH // 2 - 1] + "..." + desc[-(DESC_WIDTH // 2 - 2):]
    shape = {"dynamic_ncols": True} if sized else {"ncols": 80, "nrows": 24}
    return tqdm(
        total=total, desc=desc, unit=unit, unit_scale=scale, unit_divisor=1024 if scale else 1000,
        file=sys.stderr, leave=False, **shape, **kwargs,
    )


def _terminal_columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 0


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def write(self, message: str) -> None:  # tqdm's: a line above the bar; here simply a line
        sys.stderr.write(f"{message}\n")

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass
