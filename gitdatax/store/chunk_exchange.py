"""Chunks moving between stores of our own: what another store lacks, found in batches, and the
entries sent or received as stored (packs.py says how each is checked), hard-linked whole for a
directory remote with `link`. Mixed into ObjectStore.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from gitdatax.errors import CorruptObject
from gitdatax.store.chunked import FETCH_BATCH, ChunkSink, ChunkSource, chunk_runs
from gitdatax.store.manifest import Manifest
from gitdatax.store.read_ahead import in_order, shared_workers
from gitdatax.store.packs import COPY, ENTRY, SHA256, Location, check_copied_entry, decode_entry

if TYPE_CHECKING:  # typed by name only: objectstore imports this module
    ObjectStore = Any

DECODE_BATCH = 2 << 20  # stored bytes of received entries checked by one task
DECODE_AHEAD = 4  # batches being checked on two threads while this one writes the last


class ChunkExchangeMixin:
    def fetch_chunks(self: ObjectStore, cids: list[bytes]) -> Iterator[tuple[bytes, Location, bytes]]:
        """ChunkSource for a store on this machine (a directory remote): the stored entries,
        adjacent ones read with one pread (each entry a view of it)."""
        index = self.chunk_index
        for run in chunk_runs(index, cids):
            first, last = run[0][1], run[-1][1]
            view = memoryview(index.read_span(first.pack, first.offset, last.offset + ENTRY.size + last.stored))
            for cid, loc in run:
                start = loc.offset - first.offset
                yield cid, loc, view[start:start + ENTRY.size + loc.stored]  # type: ignore[misc]

    def missing_chunks(self: ObjectStore, cids: list[bytes]) -> list[bytes]:
        self.chunk_index.refresh()
        return self.chunk_index.missing(cids)

    def receive_chunks(self: ObjectStore, entries: Iterable[tuple[bytes, Location, bytes]], check: str = SHA256,
                       seen: Any = None) -> None:
        """ChunkSink: entries checked against their ids (COPY: from a store of this machine, by
        their CRC-32), written into one new pack; `seen(id, raw chunk or None)` after each."""
        writer = self.new_pack()
        try:
            if check == COPY:  # a CRC-32: cheaper than handing the entries to other threads
                for cid, loc, entry in entries:
                    writer.add_entry(cid, loc, entry, check)
                    if seen is not None:
                        seen(cid, None)
            else:
                for cid, loc, entry, raw in decoded_ahead(entries, check):
                    writer.add_decoded(cid, loc, entry)
                    if seen is not None:
                        seen(cid, raw)
            self.publish_pack(writer)
        except BaseException:
            writer.abort()
            raise

    def fill_chunks(self: ObjectStore, oid: str, manifest: Manifest, source: ChunkSource | None,
                    whole: Any = None) -> bool:
        """Bring the chunks of `manifest` this store lacks from `source`, in batches, each
        checked before it is kept; ObjectMissing-like CorruptObject when no source has them.

        With `whole` (a hasher): when every chunk was missing, none twice, and they arrive in
        the manifest's order (a fresh clone from a directory remote), the whole content is fed
        to it as the chunks are checked, and True says so: the caller need not read them all
        back to hash the whole (on a clone, a second decompression of every chunk)."""
        wanted = self.missing_chunks(manifest.ids())
        if not wanted:
            return False
        if source is None:
            raise CorruptObject(oid, f"{len(wanted)} of its chunks are in no store at hand")
        in_order = whole is not None and len(wanted) == len(manifest.chunks)
        expected = iter(wanted)

        def seen(cid: bytes, raw: Any) -> None:
            nonlocal in_order
            if in_order and raw is not None and next(expected, None) == cid:
                whole.update(raw)
            else:
                in_order = False

        try:
            for start in range(0, len(wanted), FETCH_BATCH):
                self.receive_chunks(source.fetch_chunks(wanted[start:start + FETCH_BATCH]),
                                    seen=seen if in_order else None)
        except CorruptObject as exc:
            if exc.oid == oid:
                raise
            raise CorruptObject(oid, f"chunk {exc.oid[:16]}: {exc.why}") from None
        return in_order

    def link_packs_to(self: ObjectStore, other: ObjectStore, manifest: Manifest) -> int:
        """For a directory remote with `link` (space over safety, as for whole-file objects):
        hard-link into `other` each pack of this store holding chunks of `manifest` of which
        `other` has no chunk at all, after checking its entries (CRC-32); the number linked. The
        chunks still lacking afterwards (in packs `other` holds some of) are copied by
        send_chunks, which also makes sure of the rest: a pack another uploader is linking at the
        same moment costs at most a copy of its chunks, never a manifest with a hole."""
        index = self.chunk_index
        needed = {index.locate(cid).pack for cid in manifest.ids()}
        packs = index.packs()
        linked = 0
        for pack in sorted(needed):
            entries = packs.get(pack, [])
            if not entries or len(other.missing_chunks([cid for cid, _ in entries])) != len(entries):
                continue
            for run in chunk_runs(index, (cid for cid, _ in sorted(entries, key=lambda e: e[1].offset))):
                first, last = run[0][1], run[-1][1]
                view = memoryview(index.read_span(pack, first.offset, last.offset + ENTRY.size + last.stored))
                for cid, loc in run:
                    start = loc.offset - first.offset
                    check_copied_entry(cid, loc, view[start:start + ENTRY.size + loc.stored])
            other.chunks_dir.mkdir(parents=True, exist_ok=True)
            try:  # the pack, then its index: as publish_pack, a reader knows chunks by an index
                for suffix in (".pack", ".idx"):
                    os.link(self.chunks_dir / f"{pack}{suffix}", other.chunks_dir / f"{pack}{suffix}")
            except FileExistsError:
                continue  # another uploader links it; send_chunks copies what is not there yet
            except OSError:
                return linked  # another file system, or no links allowed: copies, as without `link`
            other.chunk_index.add_published(pack, entries)
            linked += 1
        return linked

    def send_chunks(self: ObjectStore, oid: str, sink: ChunkSink, copy: bool = False) -> Manifest | None:
        """Give `sink` the chunks of object `oid` it lacks (None: a whole-file object). With
        `copy`, `sink` is a store of this machine (a directory remote): it takes the entries as
        stored, checked by their CRC-32 (packs.COPY) instead of decompressed and hashed."""
        manifest = self.read_manifest(oid)
        if manifest is None:
            return None
        lacking = sink.missing_chunks(manifest.ids())
        for start in range(0, len(lacking), FETCH_BATCH):
            entries = self.fetch_chunks(lacking[start:start + FETCH_BATCH])
            if copy:
                sink.receive_chunks(entries, COPY)  # type: ignore[call-arg]
            else:
                sink.receive_chunks(entries)
        return manifest


def decoded_ahead(entries: Iterable[tuple[bytes, Location, bytes]],
                  check: str) -> Iterator[tuple[bytes, Location, bytes, Any]]:
    """(id, location, entry, raw chunk) of `entries`, in order, each decoded and checked as
    `check` says (decode_entry) on two threads, a few batches ahead, while the caller writes:
    zstd and SHA-256 release the GIL. Done in turn on one thread, checking and writing the
    chunks of a 128 MiB clone from a directory remote took 0.3 s against 0.2 s for a whole-file
    object. Entries must not change once given (bytes, or views of bytes): they are held a
    moment."""

    def decode(batch: list[tuple[bytes, Location, bytes]]) -> list[tuple[bytes, Location, bytes, Any]]:
        return [(cid, loc, entry, decode_entry(cid, loc, entry, check)) for cid, loc, entry in batch]

    for done in in_order(decode, _batches(iter(entries)), DECODE_AHEAD, "datax-check", shared_workers("datax-check")):
        yield from done


def _batches(entries: Iterator[tuple[bytes, Location, bytes]]) -> Iterator[list[tuple[bytes, Location, bytes]]]:
    batch: list[tuple[bytes, Location, bytes]] = []
    size = 0
    for item in entries:
        batch.append(item)
        size += len(item[2])
        if size >= DECODE_BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
