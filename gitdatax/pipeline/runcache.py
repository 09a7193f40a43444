"""The run cache: `runs/<key>` in the store, key -> the outs a run with those inputs made.

The key (lock.run_key) is the SHA-256 of the canonical JSON of cmd, deps' oids and params'
values. An entry is written after every successful run, here; and every committed `datax.lock`
is itself a list of entries (each stage's inputs and outs), so the run cache travels with Git:
after `git fetch` or `git pull`, the locks of the commits that arrived (any branch, remote-
tracking refs included) are indexed the first time a stage would run. Their outs are in those
commits as stubs (objects on the remote, as `pre-push` made sure) or as plain Git blobs, so every
kind of remote, a Git LFS server included, carries them with nothing more than the data pushes
it already does, and only the runs of the commits being pushed travel (treeverse/dvc#10449: a
push of the whole run cache is what made DVC revert sharing it).

    runs/<key>      JSON {"stage": name, "outs": [{path, oid, size[, nfiles]}], "commit": id?}
    runs/indexed    the commits whose lock has been read already, one id a line
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gitdatax import git
from gitdatax.pipeline.hashing import FileState
from gitdatax.pipeline.lock import parse_lock
from gitdatax.files import write_atomically

RUNS = "runs"
INDEXED = "indexed"


@dataclass(frozen=True)
class RunRecord:
    stage: str
    outs: dict[str, FileState]
    commit: str | None = None  # the commit whose lock named it: its tree holds the outs


class RunCache:
    def __init__(self, store_root: Path) -> None:
        self.folder = store_root / RUNS

    def get(self, key: str) -> RunRecord | None:
        try:
            data = json.loads((self.folder / key).read_text("utf-8"))
            outs = {item["path"]: FileState(item["oid"], int(item["size"]), item.get("nfiles"))
                    for item in data["outs"]}
            return RunRecord(str(data["stage"]), outs, data.get("commit"))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none, or damaged: the stage runs, and its entry is written afresh

    def put(self, key: str, stage: str, outs: dict[str, FileState], commit: str | None = None) -> None:
        record: dict[str, object] = {"stage": stage, "outs": [
            {"path": p, "oid": s.oid, "size": s.size, **({"nfiles": s.nfiles} if s.nfiles is not None else {})}
            for p, s in outs.items()]}
        if commit:
            record["commit"] = commit
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / key, json.dumps(record, sort_keys=True))

    def index_history(self, top: Path, lock_name: str) -> int:
        """Read the locks of the commits not read before; returns how many entries were added.
        One `rev-list` and one git.CatFile whatever the number of commits."""
        listed = git.run(["rev-list", "--all", "--", lock_name], cwd=top, check=False).stdout.decode().split()
        done_path = self.folder / INDEXED
        try:
            done = set(done_path.read_text().split())
        except OSError:
            done = set()
        todo = [commit for commit in listed if commit not in done]
        if not todo:
            return 0
        added = 0
        for commit, text in _read_at(top, todo, lock_name):
            try:
                entries = parse_lock(text, f"{commit[:12]}:{lock_name}")
            except Exception:  # noqa: BLE001 - an old, broken lock is no run cache entry
                continue
            for name, entry in entries.items():
                key = entry.run_key()
                if entry.outs and self.get(key) is None:
                    self.put(key, name, dict(entry.outs), commit)
                    added += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(done_path, "a", encoding="ascii") as f:
            f.write("".join(f"{commit}\n" for commit in todo))
        return added


def _read_at(top: Path, commits: list[str], path: str) -> list[tuple[str, bytes]]:
    """(commit, content of `path` there) for each commit that has it (a deleted lock is left out)."""
    with git.CatFile(top) as cat:
        return [(rev[:-len(path) - 1], data) for rev, info, data in cat.contents(f"{c}:{path}" for c in commits)
                if info.kind == "blob"]
