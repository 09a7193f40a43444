"""Reading a repository's blobs: sizes and small contents in one batch each, and large blobs as
a stream (one long-lived `git cat-file --batch`, never a blob held whole in memory)."""
from __future__ import annotations

import os
import subprocess
from typing import BinaryIO, Iterable, Iterator

from gitdatax import git
from gitdatax.errors import FatalError

CHUNK = 1 << 20


class BlobReader:
    def __init__(self, cwd: str | os.PathLike[str]) -> None:
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    def sizes(self, blobs: Iterable[str]) -> dict[str, int]:
        """blob id -> size, for the blobs present (missing ones are left out)."""
        wanted = list(dict.fromkeys(blobs))
        if not wanted:
            return {}
        out = git.run(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], cwd=self.cwd,
                      input="".join(f"{b}\n" for b in wanted).encode()).stdout.decode()
        sizes = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob":
                sizes[parts[0]] = int(parts[2])
        return sizes

    def read_small(self, blobs: Iterable[str], limit: int = 1023) -> dict[str, bytes]:
        """The content of each blob of at most `limit` bytes (the larger are left out)."""
        result = {}
        for blob in dict.fromkeys(blobs):
            head = self._header(blob)
            if head is None:
                continue
            size = head
            if size > limit:
                self._skip(size)
                continue
            result[blob] = self._read_exactly(size)
            self._read_exactly(1)
        return result

    def stream(self, blob: str) -> Iterator[bytes]:
        """The blob's bytes, CHUNK at a time. The generator must be run to its end before the
        next call (one pipe serves every blob)."""
        size = self._header(blob)
        if size is None:
            raise FatalError(f"blob {blob} is missing from the fetched revision")
        remaining = size
        while remaining:
            chunk = self._pipe().read(min(remaining, CHUNK))
            if not chunk:
                raise FatalError(f"git cat-file ended in the middle of blob {blob}")
            remaining -= len(chunk)
            yield chunk
        self._read_exactly(1)

    def copy_to(self, blob: str, out: BinaryIO) -> int:
        written = 0
        for chunk in self.stream(blob):
            out.write(chunk)
            written += len(chunk)
        return written

    # -- the pipe ------------------------------------------------------------------------------

    def _pipe(self) -> BinaryIO:
        if self._proc is None:
            self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.cwd, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, bufsize=1 << 16)
        assert self._proc.stdout is not None
        return self._proc.stdout  # type: ignore[return-value]

    def _header(self, blob: str) -> int | None:
        self._pipe()
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(blob.encode() + b"\n")
        self._proc.stdin.flush()
        line = self._pipe().readline().rstrip(b"\n")
        parts = line.split()
        if len(parts) != 3 or parts[1] != b"blob":
            if len(parts) == 3:  # another kind of object: skip its body
                self._skip(int(parts[2]))
            return None
        return int(parts[2])

    def _skip(self, size: int) -> None:
        remaining = size + 1
        while remaining:
            got = len(self._pipe().read(min(remaining, CHUNK)))
            if not got:
                return
            remaining -= got

    def _read_exactly(self, size: int) -> bytes:
        data = self._pipe().read(size)
        if len(data) != size:
            raise FatalError("git cat-file ended early")
        return data

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
