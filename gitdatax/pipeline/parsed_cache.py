"""Parsed pipeline and lock files, kept between commands while the files they came from are
unchanged (same size, mtime, ctime, inode), so a no-op `repro` does not pay PyYAML's pure-Python
constructor again (60 ms for a 100-stage pipeline and its lock). The cache is private to the
git dir and only ever a shortcut: any doubt (a file changed, racily clean, unreadable cache)
means parsing again."""
from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable

from gitdatax.pipeline.hashing import RACY_NS
from gitdatax.files import write_atomically

VERSION = 1
StatKey = tuple[int, int, int, int] | None


def stat_key(path: Path) -> StatKey:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class ParsedCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, tuple[dict[str, StatKey], Any]] | None = None
        self._written_ns = 0

    def _load(self) -> dict[str, tuple[dict[str, StatKey], Any]]:
        if self._data is None:
            self._data = {}
            try:
                with open(self.path, "rb") as f:
                    version, written, data = pickle.load(f)  # noqa: S301 - our own file in the git dir
                if version == VERSION:
                    self._data, self._written_ns = data, written
            except Exception:  # noqa: BLE001 - missing, or from another version: parse again
                pass
        return self._data

    def get(self, name: str, top: Path) -> Any | None:
        entry = self._load().get(name)
        if entry is None:
            return None
        files, value = entry
        for rel, key in files.items():
            now = stat_key(top / rel)
            if now != key or (now is not None and now[1] >= self._written_ns - RACY_NS):
                return None
        return value

    def put(self, name: str, top: Path, files: list[str], value: Any) -> None:
        data = self._load()
        data[name] = ({rel: stat_key(top / rel) for rel in files}, value)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pickled = pickle.dumps((VERSION, time.time_ns(), data), protocol=pickle.HIGHEST_PROTOCOL)
            write_atomically(self.path, pickled, durable=False)
        except (OSError, pickle.PicklingError):
            pass

    def cached(self, name: str, top: Path, build: Callable[[Callable[[str], None]], Any]) -> Any:
        """`build(note)` parses, calling `note(rel)` for every file it read (or found missing)."""
        value = self.get(name, top)
        if value is not None:
            return value
        read: list[str] = []
        value = build(read.append)
        self.put(name, top, read, value)
        return value
