"""`git datax list`: the files at a path of a revision of any repository, their sizes, and which
are data (stubs) and which plain Git files, without a clone. Sizes of data come from the stubs:
nothing is downloaded from the data remote."""
from __future__ import annotations

from dataclasses import dataclass

from gitdatax.share.snapshot import SYMLINK, Entry, normal_path, open_snapshot


@dataclass(frozen=True)
class Listed:
    path: str  # relative to the path listed (the file's name when a file was listed)
    size: int  # the file's size: the data's for a stub
    is_data: bool
    is_dir: bool = False
    is_exec: bool = False
    is_symlink: bool = False
    oid: str | None = None  # sha256 of the data

    def as_json(self) -> dict[str, object]:
        record: dict[str, object] = {"path": self.path, "isdir": self.is_dir, "isdata": self.is_data,
                                     "isexec": self.is_exec}
        if not self.is_dir:
            record["size"] = self.size
        if self.oid is not None:
            record["oid"] = f"sha256:{self.oid}"
        return record


def list_files(url: str, path: str | None = None, *, rev: str | None = None, recursive: bool = False
               ) -> tuple[str, list[Listed]]:
    """(commit, entries). Without `recursive`, a folder's direct children only, sub-folders as
    one entry each (as `dvc list` and `ls`); only the blobs listed are fetched."""
    wanted = normal_path(path or "")
    with open_snapshot(url, rev) as snap:
        entries = snap.entries(wanted)
        if snap.is_single_file(wanted, entries):
            described = snap.describe(entries)
            return snap.commit, [_listed(described[0], described[0].path.rsplit("/", 1)[-1])]
        prefix = f"{wanted}/" if wanted else ""
        files = [e for e in entries if recursive or "/" not in e.path[len(prefix):]]
        folders = sorted({e.path[len(prefix):].split("/", 1)[0] for e in entries
                          if not recursive and "/" in e.path[len(prefix):]})
        listed = [_listed(e, e.path[len(prefix):]) for e in snap.describe(files)]
        listed += [Listed(name, -1, False, is_dir=True) for name in folders]
        return snap.commit, sorted(listed, key=lambda item: item.path)


def _listed(entry: Entry, name: str) -> Listed:
    return Listed(name, entry.data_size, entry.stub is not None, is_exec=entry.mode == "100755",
                  is_symlink=entry.mode == SYMLINK, oid=entry.stub.oid if entry.stub else None)
