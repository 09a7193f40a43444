"""Which commit brought a stub, and the -I/-X path filters of fetch, pull and checkout.

The stubs of commits, trees, the index and the work tree are scan.scanner's modes.
"""
from __future__ import annotations

import fnmatch
import os
from typing import Iterable, Sequence

from gitdatax import git
from gitdatax.scan.scanner import PathStub


def commit_introducing(blob: str, tips: Sequence[str], exclude: Sequence[str] = (),
                       cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The newest commit among tips (not exclude) that adds or changes `blob`; for messages."""
    args = ["log", "-n1", "--ignore-missing", "--format=%H", f"--find-object={blob}", *tips]
    if exclude:
        args += ["--not", *exclude]
    proc = git.run(args, cwd=cwd, check=False)
    sha = proc.stdout.decode().strip()
    return sha or None


def select(items: Iterable[PathStub], include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[PathStub]:
    """Keep paths matching any include pattern (all when none) and no exclude pattern."""
    return [i for i in items if (not include or _matches(i.path, include)) and not _matches(i.path, exclude)]


def split_patterns(values: Sequence[str] | None) -> list[str]:
    """`-I 'data/*,models/*' -I x` -> ['data/*', 'models/*', 'x'] (comma lists, as git-lfs)."""
    return [p.strip() for v in values or () for p in v.split(",") if p.strip()]


def _matches(path: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        bare = pattern.strip("/")
        if fnmatch.fnmatchcase(path, bare) or path.startswith(bare + "/"):
            return True
        if "/" not in bare and fnmatch.fnmatchcase(os.path.basename(path), bare):
            return True
    return False
