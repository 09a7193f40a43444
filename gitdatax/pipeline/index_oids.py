"""The oids git already knows, so a big dep is not read to learn what it is.

For a file gitdatax tracks, the index holds its stub, and git's own stat data (checked by `git
diff-files`, which re-reads racily clean files itself) say whether the work tree file is still
what was staged. When it is, the stub names its content: its oid and size, with no byte of the
file read. This is how the first `repro` after a clone, or after the stat cache was lost, knows
a 10 GiB data set in milliseconds. The stub journal (scan/stub_journal.py) answers for blobs the
filter wrote; the others are read from git in one `cat-file --batch`.
"""
from __future__ import annotations

from pathlib import Path

from gitdatax import git
from gitdatax.errors import FatalError
from gitdatax.scan import stub_journal
from gitdatax.scan.blobs import stubs_in

# Hashing a smaller file costs less than asking git (two processes, once per command).
WORTH_ASKING = 1 << 20


class IndexOids:
    def __init__(self, top: Path, store_root: Path) -> None:
        self.top = top
        self.store_root = store_root
        self._oids: dict[str, tuple[str, int]] | None = None

    def get(self, rel: str) -> tuple[str, int] | None:
        if self._oids is None:
            try:
                self._oids = self._load()
            except FatalError:  # not a repository any more, git failing: hash the file instead
                self._oids = {}
        return self._oids.get(rel)

    def _load(self) -> dict[str, tuple[str, int]]:
        changed = set(git.ls_files_z(["--name-only"], cwd=self.top, command="diff-files"))
        entries = [e for e in git.index_entries(cwd=self.top)
                   if e.stage == 0 and e.mode in ("100644", "100755") and e.path not in changed]
        journal = stub_journal.load(self.store_root)
        found: dict[str, tuple[str, int]] = {}
        unknown = []
        for entry in entries:
            stub = journal.get(entry.blob)
            if stub is not None:
                found[entry.path] = (stub.oid, stub.size)
            else:
                unknown.append(entry)
        staged = stubs_in((e.blob for e in unknown), cwd=self.top)
        for entry in unknown:
            stub = staged.get(entry.blob)
            if stub is not None:
                found[entry.path] = (stub.oid, stub.size)
        return found
