"""The names of the files a store writes in its tmp/ before publishing them, and removing a
process's own when it is stopped by a signal.

Each name carries the writer's pid: `<pid>.<random>.obj|raw` (whole files being compressed or
downloaded) or `<oid>.<pid>.<thread>.<n>.obj` (small objects, linked imports). gc removes the
files of writers that are gone; a process stopped by SIGTERM or SIGINT removes its own at once
(issue 11, item 9: a `git add` stopped with SIGTERM left 65 MB there).
"""
from __future__ import annotations

import os

_DIRS: set[str] = set()  # every tmp/ this process has written into


def register(tmp_dir: str | os.PathLike[str]) -> None:
    _DIRS.add(os.fspath(tmp_dir))


def writer_pid(name: str) -> int | None:
    """The pid in a tmp/ file name, None for a name of another form."""
    parts = name.split(".")
    field = parts[1] if len(parts) > 2 and len(parts[0]) == 64 else parts[0]
    return int(field) if len(parts) > 2 and field.isdigit() else None


def remove_own() -> int:
    """Unlink every file this process left in the tmp/ folders it wrote into; how many.
    Safe in a signal handler: listing and unlinking only, no lock taken."""
    pid = os.getpid()
    removed = 0
    for folder in list(_DIRS):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if writer_pid(name) == pid:
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    return removed
