"""A pack as one HTTP body: the chunk exchange of `git datax serve` between gitdatax ends
(docs/http-chunks.md; the client is remotes/http_chunks.py, the server server/http_chunks.py).

    b"GDXPSTR1", index length (u32), the index (store/packs.py: sorted records and checksum),
    the pack (b"GDXPACK1", then the entries in the order of their offsets)

The index comes first so that a receiver knows every entry's id, kind and lengths before its
bytes arrive, and bounds the body by them; each entry is then decoded and hashed against its id
by the store that keeps it (PackWriter.add_entry), so nothing a sender claims is taken on trust.
A list of chunk ids (which to fetch, which are missing) is their 32-byte ids back to back.
"""
from __future__ import annotations

import struct
from typing import Callable, Iterable, Iterator

from gitdatax.errors import CorruptObject
from gitdatax.store.packs import ENTRY, PACK_MAGIC, Location, encode_index, parse_index

TRANSFER = "datax-chunks"  # the LFS batch transfer adapter that only gitdatax ends list
MAGIC = b"GDXPSTR1"
HEAD = struct.Struct(">I")
CONTENT_TYPE = "application/x-gitdatax-pack"
IDS_TYPE = "application/x-gitdatax-chunk-ids"
INDEX_LIMIT = 64 << 20  # a million chunks' index: more is not an index of ours
# A chunk is at most 256 KiB (store/chunked.py's CDC_MAX) and stored raw when zstd does not pay:
# an entry claiming more is not one of ours, and is never read into memory.
ENTRY_LIMIT = 4 << 20
ID = 32


def head(index: bytes) -> bytes:
    """What precedes the pack file in a body."""
    return MAGIC + HEAD.pack(len(index)) + index


def index_for(entries: Iterable[tuple[bytes, Location]]) -> tuple[bytes, int]:
    """The index of a pack holding `entries` in this order, and the pack's length: for a body
    made of entries read from other packs (a server answering a fetch)."""
    records, offset = [], len(PACK_MAGIC)
    for cid, loc in entries:
        records.append((cid, offset, loc.stored, loc.raw, loc.kind))
        offset += ENTRY.size + loc.stored
    return encode_index(records), offset


def encode_ids(cids: Iterable[bytes]) -> bytes:
    return b"".join(cids)


def decode_ids(data: bytes) -> list[bytes]:
    if len(data) % ID:
        raise ValueError(f"a list of chunk ids is a multiple of {ID} bytes, not {len(data)}")
    return [data[i:i + ID] for i in range(0, len(data), ID)]


class Pieces:
    """A body that arrives in pieces (a request body, a streamed response) as `read(n)`, which
    returns at most n bytes (fewer at a piece's end: read_exact and copyfileobj loop) without
    copying the rest of the piece on every read."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._piece = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        while not self._piece:
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._piece = memoryview(piece)
        if n < 0:
            n = len(self._piece)
        data, self._piece = self._piece[:n], self._piece[n:]
        return bytes(data)

    def read_upto(self, n: int) -> bytes:
        """Up to `n` bytes: fewer only at the end of the body."""
        parts, left = [], n
        while left and (data := self.read(left)):
            parts.append(data)
            left -= len(data)
        return b"".join(parts)


def read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    """`n` bytes from `read`, which may return fewer; CorruptObject when the body ends first."""
    parts, left = [], n
    while left:
        data = read(left)
        if not data:
            raise CorruptObject("pack", f"the body ends {left} bytes early")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def read_index(read: Callable[[int], bytes]) -> list[tuple[bytes, Location]]:
    """The header and index of a body; CorruptObject when they are not whole."""
    if read_exact(read, len(MAGIC)) != MAGIC:
        raise CorruptObject("pack", "not a gitdatax pack body")
    (length,) = HEAD.unpack(read_exact(read, HEAD.size))
    if length > INDEX_LIMIT:
        raise CorruptObject("pack", f"an index of {length} bytes (at most {INDEX_LIMIT})")
    records = parse_index("received", read_exact(read, length)).records
    for cid, loc in records:
        if loc.stored > ENTRY_LIMIT or loc.raw > ENTRY_LIMIT:
            raise CorruptObject(cid.hex(), f"an entry of {max(loc.stored, loc.raw)} bytes (at most {ENTRY_LIMIT})")
    return sorted(records, key=lambda item: item[1].offset)


def body_length(records: list[tuple[bytes, Location]]) -> int:
    """Bytes of the pack the index describes (what a receiver reads, and no more)."""
    return len(PACK_MAGIC) + sum(ENTRY.size + loc.stored for _, loc in records)


def entries(read: Callable[[int], bytes], records: list[tuple[bytes, Location]]) -> Iterator[tuple[bytes, Location, bytes]]:
    """The pack's entries (id, location, stored entry), in the index's offset order: each one
    still to be checked against its id by whoever keeps it."""
    if read_exact(read, len(PACK_MAGIC)) != PACK_MAGIC:
        raise CorruptObject("pack", "the pack has no valid header")
    position = len(PACK_MAGIC)
    for cid, loc in records:
        if loc.offset != position:
            raise CorruptObject("pack", "index offsets do not follow the pack")
        entry = read_exact(read, ENTRY.size + loc.stored)
        position += len(entry)
        yield cid, loc, entry
