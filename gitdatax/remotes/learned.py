"""The remotes a clone has learned from its team file, kept after the file changes.

A checkout of a commit older than the `.datax.toml` that names the team's store has no team file
in its work tree: the default falls back to the store derived from origin, where the data is
not (issue 11, item 4). So each remote the team file has named (its URL, anchored, and the inert
options the team file may carry) is recorded in `<git dir>/datax/learned-remotes.json`, and a
download that finds an object missing asks those too (remotes/fallback.py). What is recorded
passed the team file's checks (remote_config.team_remotes): a URL and inert options, never a
command nor a credential.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

FILE = "learned-remotes.json"


class Learned(NamedTuple):
    name: str
    url: str
    options: dict[str, Any]


def read(common_dir: Path) -> list[Learned]:
    try:
        with open(common_dir / "datax" / FILE, encoding="utf-8") as f:
            entries = json.load(f)
        return [Learned(str(e["name"]), str(e["url"]), dict(e.get("options") or {})) for e in entries]
    except (OSError, ValueError, TypeError, KeyError):
        return []  # none yet, or damaged: it is a cache of what the team file said


def remember(common_dir: Path, remotes: list[Learned]) -> None:
    """Add `remotes` to what this clone knows (by URL; the newest name and options win). Writes
    only when something is new, atomically; never fails the command that read the team file."""
    known = read(common_dir)
    by_url = {r.url: r for r in known}
    changed = False
    for remote in remotes:
        if by_url.get(remote.url) != remote:
            by_url[remote.url] = remote
            changed = True
    if not changed:
        return
    folder = common_dir / "datax"
    tmp = folder / f".{FILE}.{os.getpid()}"
    try:
        folder.mkdir(exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump([r._asdict() for r in by_url.values()], f, indent=1, sort_keys=True, default=str)
        os.replace(tmp, folder / FILE)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
