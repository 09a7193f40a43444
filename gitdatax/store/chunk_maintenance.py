"""Keeping the chunk packs right: dropping corrupt chunks (fsck), removing and repacking what no
object needs (gc), and the lock that keeps gc from removing a chunk a put is about to reuse.

A writer that finds a chunk already stored does not write it again, so between that look-up and
its manifest's publication the chunk must not go: writers hold `chunk_lock()` shared for that
time, gc holds it exclusive while it decides and deletes (an flock: it dies with its process).
Mixed into ObjectStore.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Any, Collection, Iterator, NamedTuple

from gitdatax.errors import CorruptObject, ObjectMissing
from gitdatax.store.objectfile import rename_into_store
from gitdatax.store.packs import COPY

# A pack whose needed chunks take less than this share of its bytes is rewritten with those
# alone (git's gc repacks for the same reason); one needing none is removed.
REPACK_BELOW = 0.5


class PrunedChunks(NamedTuple):
    packs_removed: int
    packs_rewritten: int
    bytes_freed: int


class ChunkMaintenanceMixin:
    root: Any
    chunks_dir: Any
    bad_dir: Any
    chunk_index: Any

    @contextlib.contextmanager
    def chunk_lock(self, exclusive: bool = False) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "chunks.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def needed_chunks(self, ignoring: Collection[str] = ()) -> set[bytes]:
        """Every chunk a manifest in this store names (but those of the objects `ignoring`)."""
        needed: set[bytes] = set()
        for oid in self.iter_oids():  # type: ignore[attr-defined]
            if oid in ignoring:
                continue
            try:
                manifest = self.read_manifest(oid)  # type: ignore[attr-defined]
            except (CorruptObject, ObjectMissing):
                continue  # fsck's business; a corrupt manifest protects nothing
            if manifest is not None:
                needed.update(manifest.ids())
        return needed

    def prune_chunks(self, dry_run: bool = False, ignoring: Collection[str] = (),
                     written_before: float | None = None) -> PrunedChunks:
        """Remove the packs no object needs, rewrite those mostly unneeded. Never a chunk a kept
        object needs: decided and done under the exclusive chunk lock. With `dry_run`, only say
        what would go; `ignoring`: objects to count as deleted already (gc's dry run).

        `written_before` (a time.time()): packs written later are left alone. A push to a
        server's store (ssh, serve) sends an object's chunks first and its manifest last, from
        another process that holds no lock in between: until the manifest lands, its chunks
        look like garbage. gc's grace period covers them as it covers new objects."""
        with self.chunk_lock(exclusive=True):
            self.chunk_index.refresh()
            needed = self.needed_chunks(ignoring)
            removed = rewritten = freed = 0
            for pack, entries in sorted(self.chunk_index.packs().items()):
                if written_before is not None and self._pack_written_after(pack, written_before):
                    continue
                keep = [(cid, loc) for cid, loc in entries if cid in needed]
                total = sum(loc.stored for _, loc in entries)
                kept = sum(loc.stored for _, loc in keep)
                if keep and kept >= REPACK_BELOW * total:
                    continue
                # What goes: the pack and its index, less the new pack of the chunks kept.
                size = self._pack_bytes(pack) - (_repacked_bytes(keep) if keep else 0)
                if dry_run:
                    removed += not keep
                    rewritten += bool(keep)
                    freed += size
                    continue
                if keep:
                    self._rewrite_pack(pack, keep)
                    rewritten += 1
                else:
                    removed += 1
                self._remove_pack(pack)
                freed += size
            return PrunedChunks(removed, rewritten, freed)

    def drop_chunks(self, cids: set[bytes]) -> None:
        """Take corrupt chunks out of their packs (each pack rewritten without them, the old one
        moved to bad/), so that a later download brings good copies."""
        with self.chunk_lock(exclusive=True):
            for pack, entries in sorted(self.chunk_index.packs().items()):
                if not any(cid in cids for cid, _ in entries):
                    continue
                self._rewrite_pack(pack, [(c, l) for c, l in entries if c not in cids])
                self.bad_dir.mkdir(parents=True, exist_ok=True)
                for suffix in (".idx", ".pack"):
                    try:
                        rename_into_store(str(self.chunks_dir / f"{pack}{suffix}"), str(self.bad_dir / f"{pack}{suffix}"))
                    except FileNotFoundError:
                        pass
                self.chunk_index.forget(pack)

    def bad_chunks(self, oid: str) -> set[bytes]:
        """The chunks of object `oid` that are corrupt (or absent) in this store."""
        manifest = self.read_manifest(oid)  # type: ignore[attr-defined]
        bad = set()
        for cid in dict.fromkeys(manifest.ids() if manifest else []):
            try:
                self.chunk_index.read(cid)
            except (CorruptObject, OSError):
                bad.add(cid)
        return bad

    def _rewrite_pack(self, pack: str, keep: list) -> None:  # type: ignore[type-arg]
        writer = self.new_pack()  # type: ignore[attr-defined]
        try:
            for cid, loc in sorted(keep, key=lambda item: item[1].offset):
                try:
                    writer.add_entry(cid, loc, self.chunk_index.read_entry(loc), COPY)
                except CorruptObject:
                    continue  # not carried over: its objects fail fsck and come back whole
            self.publish_pack(writer)  # type: ignore[attr-defined]
        except BaseException:
            writer.abort()
            raise

    def _remove_pack(self, pack: str) -> None:
        # The index first: from then on no reader looks in the pack.
        for suffix in (".idx", ".pack"):
            try:
                os.unlink(self.chunks_dir / f"{pack}{suffix}")
            except FileNotFoundError:
                pass
        self.chunk_index.forget(pack)

    def _pack_written_after(self, pack: str, cutoff: float) -> bool:
        try:
            st = os.stat(self.chunks_dir / f"{pack}.pack")
        except FileNotFoundError:
            return False
        return max(st.st_mtime, st.st_ctime) > cutoff  # ctime: a rename into place sets it

    def _pack_bytes(self, pack: str) -> int:
        """The bytes of a pack and its index on disk."""
        total = 0
        for suffix in (".idx", ".pack"):
            try:
                total += os.stat(self.chunks_dir / f"{pack}{suffix}").st_size
            except FileNotFoundError:
                pass
        return total


def _repacked_bytes(keep: list) -> int:  # type: ignore[type-arg]
    """The bytes of the pack and index that repacking `keep` (id, location) writes."""
    from gitdatax.store.packs import ENTRY, IDX_MAGIC, PACK_MAGIC, RECORD

    pack = len(PACK_MAGIC) + sum(ENTRY.size + loc.stored for _, loc in keep)
    return pack + len(IDX_MAGIC) + 4 + len(keep) * RECORD.size + 32
