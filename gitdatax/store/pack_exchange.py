"""Chunks exchanged with a store of our own that is reached through files, not a file system:
S3 (and any backend offering the four calls of PackFiles).

The remote keeps the local layout's `chunks/pack-<name>.pack` and `.idx`. Which chunks it holds
is read from its indexes, each downloaded once and cached under the local store (packs never
change once published, so a name is enough to know an index is current). Sending packs the chunks
it lacks into packs of at most PACK_LIMIT bytes, each uploaded whole and its index after it: a push
cut short keeps every finished pack, and the next run sends only the rest. Receiving reads the
wanted entries with ranged reads, neighbours coalesced into one request.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from gitdatax.errors import CorruptObject
from gitdatax.files import write_atomically
from gitdatax.store.packs import COPY, ENTRY, Location, PackWriter, parse_index

PACK_LIMIT = 64 << 20  # per uploaded pack: one PUT (multipart above) and the unit of resuming
GAP = 256 << 10  # entries closer than this are read in one ranged request
RANGE_LIMIT = 16 << 20


def send_in_packs(entries: Iterable[tuple[bytes, Location, bytes]], tmp_dir: Path, level: int, limit: int,
                  send: Callable[[PackWriter, Path], None]) -> None:
    """Pack stored entries of this store, each checked by its CRC-32 as it leaves, into packs of
    about `limit` bytes in a staging folder under `tmp_dir`, and hand each finished writer to
    `send` (with the folder):
    the unit of an upload and of resuming. The folder goes afterwards, whatever happens."""
    staging = Path(tempfile.mkdtemp(dir=_made(tmp_dir), prefix=f"{os.getpid()}.send-"))
    try:
        writer = PackWriter(staging, staging, level)
        for cid, loc, entry in entries:
            writer.add_entry(cid, loc, entry, COPY)  # this store's own entries: their CRC-32
            if writer.bytes_written >= limit:
                send(writer, staging)
                writer = PackWriter(staging, staging, level)
        send(writer, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class PackFiles(Protocol):
    def list_pack_indexes(self) -> list[str]: ...

    def read_pack_file(self, name: str) -> bytes: ...

    def read_pack_range(self, name: str, offset: int, length: int) -> bytes: ...

    def write_pack(self, name: str, pack: Path, index: Path) -> bool:
        """Upload the pack, then its index; whether it is stored under `name`."""


class RemotePacks:
    """ChunkSource and ChunkSink for a remote reached through PackFiles."""

    def __init__(self, files: PackFiles, cache_dir: Path, tmp_dir: Path, level: int = 1) -> None:
        self.files = files
        self.cache_dir = cache_dir
        self.tmp_dir = tmp_dir
        self.level = level
        self._entries: dict[bytes, Location] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()  # uploads of several objects run in parallel

    @classmethod
    def for_store(cls, files: PackFiles, store_root: Path, url: str, level: int = 1) -> "RemotePacks":
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        return cls(files, store_root / "remote-packs" / key, store_root / "tmp", level)

    def refresh(self) -> None:
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        for name in self.files.list_pack_indexes():
            if name in self._loaded or not name.startswith("pack-") or not name.endswith(".idx"):
                continue
            index = parse_index(name[: -len(".idx")], self._index_bytes(name))
            self._loaded.add(name)
            for cid, loc in index.records:
                self._entries.setdefault(cid, loc)

    def _index_bytes(self, name: str) -> bytes:
        cached = self.cache_dir / name
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        data = self.files.read_pack_file(name)
        parse_index(name[: -len(".idx")], data)  # never cache a broken one
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, data, durable=False)  # a cache: fetched again if lost
        return data

    # -- ChunkSink ---------------------------------------------------------------------------

    def missing_chunks(self, cids: list[bytes]) -> list[bytes]:
        self.refresh()
        return [c for c in dict.fromkeys(cids) if c not in self._entries]

    def receive_chunks(self, entries: Iterable[tuple[bytes, Location, bytes]]) -> None:
        send_in_packs(entries, self.tmp_dir, self.level, PACK_LIMIT, self._send)

    def _send(self, writer: PackWriter, staging: Path) -> None:
        published = writer.finish()
        if published is None:
            return
        name, records = published
        if not self.files.write_pack(name, staging / f"{name}.pack", staging / f"{name}.idx"):
            return  # stored under another name (ssh: the server writes its own): listed next time
        with self._lock:
            for cid, loc in records:
                self._entries.setdefault(cid, loc)
            self._loaded.add(f"{name}.idx")

    # -- ChunkSource -------------------------------------------------------------------------

    def fetch_chunks(self, cids: list[bytes]) -> Iterator[tuple[bytes, Location, bytes]]:
        if any(c not in self._entries for c in cids):
            self.refresh()
        by_pack: dict[str, list[tuple[bytes, Location]]] = {}
        for cid in cids:
            loc = self._entries.get(cid)
            if loc is None:
                raise CorruptObject(cid.hex(), "chunk is in no pack of the remote")
            by_pack.setdefault(loc.pack, []).append((cid, loc))
        for pack, wanted in by_pack.items():
            wanted.sort(key=lambda item: item[1].offset)
            for group in _coalesce(wanted):
                start = group[0][1].offset
                end = group[-1][1].offset + ENTRY.size + group[-1][1].stored
                data = self.files.read_pack_range(f"{pack}.pack", start, end - start)
                if len(data) != end - start:
                    raise CorruptObject(group[0][0].hex(), f"remote pack {pack} cut short")
                for cid, loc in group:
                    at = loc.offset - start
                    yield cid, loc, data[at:at + ENTRY.size + loc.stored]


def _coalesce(items: list[tuple[bytes, Location]]) -> Iterator[list[tuple[bytes, Location]]]:
    group: list[tuple[bytes, Location]] = []
    for item in items:
        if group:
            first, last = group[0][1], group[-1][1]
            end = last.offset + ENTRY.size + last.stored
            if item[1].offset - end > GAP or item[1].offset + ENTRY.size + item[1].stored - first.offset > RANGE_LIMIT:
                yield group
                group = []
        group.append(item)
    if group:
        yield group


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
