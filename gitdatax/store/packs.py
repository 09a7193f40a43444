"""Chunks of large objects, kept once each, in pack files with an index of offsets.

    chunks/pack-<name>.pack   b"GDXPACK1", then entries: chunk id (32 bytes, SHA-256 of the raw
                              chunk), kind (0 raw, 1 zstd frame), stored length (u32), the bytes
    chunks/pack-<name>.idx    b"GDXIDX02", count (u32), records sorted by id: id, offset of the
                              entry, stored length, raw length, kind, CRC-32 of the entry (header
                              and bytes); then SHA-256 of all before. b"GDXIDX01" indexes (the
                              same records without the CRC) are read too: written before the CRC,
                              and on the wire (pack_stream.py), where a receiver trusts no CRC.

A pack is written in tmp/ and published with its index last: a reader knows chunks only through
an index, so a pack a crash left without one is garbage for gc, never a half-read chunk. Packs
are immutable once published; gc repacks a mostly-unneeded pack into a new one and removes it.
Each entry repeats its id, so a reader checks it got the entry the index promised, and an index
can be rebuilt from its pack.

How much of an entry is checked as it is read (decode_entry, PackWriter.add_entry): SHA256,
hashed against its id (entries from another store, fsck); STORED, as a whole-file object is read
back (zstd entries by their frame checksum, the low 32 bits of XXH64; raw ones, which carry none,
by the CRC-32 their index records, or by SHA-256 under an index without CRCs); ONCE, for a
chunk this process hashed a moment ago (header, lengths and zstd checksum); COPY, an entry copied
as stored between stores of this machine (a push to a directory remote, gc's repack, a pack sent
to S3 or serve): by the CRC-32 its index records, never decompressed, as git copies pack data by
the CRC-32 of its .idx v2. Whoever receives an entry from elsewhere still hashes it (SHA256).
"""
from __future__ import annotations

import hashlib
import os
import struct
import threading
import uuid
from pathlib import Path
from typing import Iterable, NamedTuple

import zstandard

from gitdatax.errors import CorruptObject
from gitdatax.store import tmpfiles
from gitdatax.store.objectfile import rename_into_store

try:
    # zlib-ng's CRC-32 (the same polynomial, the same values) uses the CPU's carry-less multiply:
    # 6 times zlib's speed here (8 ms against 49 for 128 MiB), and every chunk is CRC'd on clean.
    from zlib_ng.zlib_ng import crc32
except ImportError:  # a platform without its wheel: the same figures, slower
    from zlib import crc32

PACK_MAGIC = b"GDXPACK1"
IDX_MAGIC = b"GDXIDX02"
IDX_MAGIC_V1 = b"GDXIDX01"
ENTRY = struct.Struct(">32sBI")  # id, kind, stored length
RECORD = struct.Struct(">32sQIIBI")  # id, offset, stored length, raw length, kind, CRC-32 of the entry
RECORD_V1 = struct.Struct(">32sQIIB")  # the same without the CRC
RAW, ZSTD = 0, 1
SHA256, STORED, ONCE, COPY = "sha256", "stored", "once", "copy"  # how an entry is checked (above)
# A chunk is kept compressed only when that saves at least this fraction: decompressing costs
# time on every read, and zstd on random bytes (weights, media) saves nothing.
MIN_SAVING = 0.03


class Location(NamedTuple):
    pack: str  # the pack's name, without folder or suffix
    offset: int
    stored: int
    raw: int
    kind: int
    crc: int | None = None  # CRC-32 of the entry; None from an index without (GDXIDX01)


class PackIndex(NamedTuple):
    name: str
    records: list[tuple[bytes, Location]]


def read_index(path: Path) -> PackIndex:
    """Parse one .idx file; CorruptObject (named by the pack) when it is not whole."""
    name = path.name[: -len(".idx")]
    data = path.read_bytes()
    return parse_index(name, data)


def parse_index(name: str, data: bytes) -> PackIndex:
    if len(data) < len(IDX_MAGIC) + 4 + 32 or not data.startswith((IDX_MAGIC, IDX_MAGIC_V1)):
        raise CorruptObject(name, "pack index has no valid header")
    body, trailer = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != trailer:
        raise CorruptObject(name, "pack index does not match its checksum")
    record = RECORD if data.startswith(IDX_MAGIC) else RECORD_V1
    (count,) = struct.unpack_from(">I", data, len(IDX_MAGIC))
    start = len(IDX_MAGIC) + 4
    if len(body) != start + count * record.size:
        raise CorruptObject(name, "pack index has the wrong length")
    records = [(fields[0], Location(name, *fields[1:])) for fields in record.iter_unpack(body[start:])]
    return PackIndex(name, records)


def encode_index(records: Iterable[tuple]) -> bytes:  # type: ignore[type-arg]
    """(id, offset, stored, raw, kind[, crc]) -> index bytes, sorted by id, with its checksum:
    GDXIDX02 when every record has its CRC (a pack this store wrote), else GDXIDX01 (an index
    for the wire, made from locations alone)."""
    ordered = sorted(records)
    with_crc = all(len(r) == 6 and r[5] is not None for r in ordered)
    magic, record = (IDX_MAGIC, RECORD) if with_crc else (IDX_MAGIC_V1, RECORD_V1)
    body = magic + struct.pack(">I", len(ordered)) + b"".join(record.pack(*(r if with_crc else r[:5])) for r in ordered)
    return body + hashlib.sha256(body).digest()


def entry_crc(cid: bytes, kind: int, stored: bytes | memoryview) -> int:
    """The CRC-32 of an entry as a pack holds it (header and bytes): what its index records."""
    return crc32(stored, crc32(ENTRY.pack(cid, kind, len(stored))))


def new_pack_name() -> str:
    return f"pack-{uuid.uuid4().hex}"


def decode_entry(cid: bytes, loc: Location, entry: bytes | memoryview, check: str = SHA256) -> bytes | memoryview:
    """The raw chunk from its stored entry (header included), checked as `check` says (SHA256,
    STORED or ONCE: see the module's docstring). A raw chunk comes back as a view of `entry`,
    not a copy."""
    _check_header(cid, loc, entry)
    data = memoryview(entry)[ENTRY.size:]
    if loc.kind == ZSTD:
        try:
            raw = _dctx().decompress(data, max_output_size=loc.raw)
        except zstandard.ZstdError as exc:
            raise CorruptObject(cid.hex(), f"chunk in {loc.pack}: zstd: {exc}") from None
    elif loc.kind == RAW:
        raw = data
    else:
        raise CorruptObject(cid.hex(), f"chunk in {loc.pack} of unknown kind {loc.kind}")
    if len(raw) != loc.raw:
        raise CorruptObject(cid.hex(), f"chunk in {loc.pack} does not hash to its id")
    if check == STORED and loc.kind == RAW and loc.crc is not None:
        # A raw chunk carries no checksum of its own; its index's CRC-32 of the entry is as
        # strong as the 32-bit frame checksum a zstd entry (or a whole-file object) is read by,
        # at a fortieth of SHA-256's cost.
        if crc32(entry) != loc.crc:
            raise CorruptObject(cid.hex(), f"chunk in {loc.pack} does not match its CRC-32")
    elif check == SHA256 or (check == STORED and loc.kind == RAW):
        if hashlib.sha256(raw).digest() != cid:
            raise CorruptObject(cid.hex(), f"chunk in {loc.pack} does not hash to its id")
    return raw


def check_copied_entry(cid: bytes, loc: Location, entry: bytes | memoryview) -> int | None:
    """COPY's check of an entry about to be copied as stored: its header, and the CRC-32 its index
    records (returned, for the copy's own index); an entry whose index records none is decoded
    and checked as STORED instead (None)."""
    if loc.crc is None:
        decode_entry(cid, loc, entry, STORED)
        return None
    _check_header(cid, loc, entry)
    if crc32(entry) != loc.crc:
        raise CorruptObject(cid.hex(), f"chunk in {loc.pack} does not match its CRC-32")
    return loc.crc


def _check_header(cid: bytes, loc: Location, entry: bytes | memoryview) -> None:
    """The entry is whole, and is the one its index promised (id, kind, stored length)."""
    if len(entry) != ENTRY.size + loc.stored:
        raise CorruptObject(cid.hex(), f"chunk cut short in {loc.pack}")
    got, kind, stored = ENTRY.unpack_from(entry)
    if got != cid or kind != loc.kind or stored != loc.stored:
        raise CorruptObject(cid.hex(), f"{loc.pack} holds another entry at offset {loc.offset}")


_local = threading.local()


def _dctx() -> zstandard.ZstdDecompressor:
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx


def pack_chunk(raw: bytes | memoryview, level: int) -> tuple[int, int, bytes | memoryview]:
    """(kind, raw length, stored bytes) of a chunk: zstd when that saves MIN_SAVING, else raw.
    Thread-safe (one compression context per thread): clean compresses on two threads."""
    cctx = getattr(_local, "cctx", None)
    if cctx is None or getattr(_local, "level", None) != level:
        cctx = _local.cctx = zstandard.ZstdCompressor(level=level, write_checksum=True)
        _local.level = level
    packed = cctx.compress(raw)
    if len(packed) <= len(raw) * (1 - MIN_SAVING):
        return ZSTD, len(raw), packed
    return RAW, len(raw), raw


class ChunkIndex:
    """Every chunk of one store's packs: id -> where it is. Loaded on first use from the .idx
    files (49 bytes a chunk on disk, about 200 in memory: 16,000 for a 1 GiB file); `refresh`
    picks up packs other processes published since."""

    def __init__(self, chunks_dir: Path) -> None:
        self.dir = chunks_dir
        self._entries: dict[bytes, Location] = {}
        self._loaded: set[str] = set()
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ready = False

    def refresh(self) -> None:
        with self._lock:
            self._load_new()
            # Only now: a thread asking while another loads waits on the lock, never reads a
            # half-loaded index (a push uploads on several threads; one saw a chunk as absent).
            self._ready = True

    def _load_new(self) -> None:
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".idx"))
        except FileNotFoundError:
            return
        for name in names:
            if name in self._loaded:
                continue
            try:
                index = read_index(self.dir / name)
            except FileNotFoundError:  # gc repacked it since the listing
                continue
            except CorruptObject:
                continue  # fsck names it; its chunks count as absent
            self._loaded.add(name)
            for cid, loc in index.records:
                self._entries.setdefault(cid, loc)

    def _ensure(self) -> None:
        if not self._ready:
            self.refresh()

    def get(self, cid: bytes) -> Location | None:
        self._ensure()
        return self._entries.get(cid)

    def has(self, cid: bytes) -> bool:
        self._ensure()
        return cid in self._entries

    def missing(self, cids: Iterable[bytes]) -> list[bytes]:
        """The ids of `cids` this store lacks, in order, each once."""
        self._ensure()
        return [c for c in dict.fromkeys(cids) if c not in self._entries]

    def forget(self, pack: str) -> None:
        """After gc or fsck removed `pack`: read the indexes again (a chunk it held may live on
        in the pack that replaced it)."""
        with self._lock:
            self._entries = {}
            self._loaded = set()
            for fd in self._fds.values():
                os.close(fd)
            self._fds = {}
        self.refresh()

    def packs(self) -> dict[str, list[tuple[bytes, Location]]]:
        self._ensure()
        found: dict[str, list[tuple[bytes, Location]]] = {}
        for cid, loc in self._entries.items():
            found.setdefault(loc.pack, []).append((cid, loc))
        return found

    def read_entry(self, loc: Location) -> bytes:
        """The stored entry (header and bytes) as it is in the pack: for copying to another store."""
        return self.read_span(loc.pack, loc.offset, loc.offset + ENTRY.size + loc.stored)

    def read_span(self, pack: str, start: int, end: int) -> bytes:
        """Bytes `start` to `end` of a pack as they are (entries for copying to another store,
        each checked by decode_entry where it lands: a short read fails there)."""
        return os.pread(self._fd(pack), end - start, start)

    def locate(self, cid: bytes) -> Location:
        """Where chunk `cid` is; CorruptObject when in no pack of the store."""
        loc = self.get(cid)
        if loc is None:
            self.refresh()  # another process may have published it since this one looked
            loc = self.get(cid)
        if loc is None:
            raise CorruptObject(cid.hex(), "chunk is not in any pack of the store")
        return loc

    def read(self, cid: bytes, check: str = SHA256) -> bytes | memoryview:
        """The raw chunk, checked as decode_entry does."""
        loc = self.locate(cid)
        try:
            entry = self.read_entry(loc)
        except FileNotFoundError:
            raise CorruptObject(cid.hex(), f"pack {loc.pack} is gone") from None
        return decode_entry(cid, loc, entry, check)

    def read_run(self, run: list[tuple[bytes, Location]], check: str = SHA256,
                 keep: bool = True, into: bytearray | None = None) -> list[bytes | memoryview]:
        """The raw chunks of `run`, entries that follow each other in one pack, read with one
        pread and each checked as decode_entry does (raw chunks: views of that one read, which
        is into `into` when it is given and large enough: the caller's to keep unchanged while
        it uses them). Without `keep`, only checked: nothing comes back."""
        first, last = run[0][1], run[-1][1]
        length = last.offset + ENTRY.size + last.stored - first.offset
        try:
            fd = self._fd(first.pack)
            if into is not None and len(into) >= length:
                view = memoryview(into)[:length]
                view = view[:os.preadv(fd, [view], first.offset)]
            else:
                view = memoryview(os.pread(fd, length, first.offset))
        except FileNotFoundError:
            raise CorruptObject(run[0][0].hex(), f"pack {first.pack} is gone") from None
        out = []
        for cid, loc in run:
            start = loc.offset - first.offset
            raw = decode_entry(cid, loc, view[start:start + ENTRY.size + loc.stored], check)
            if keep:
                out.append(raw)
        return out

    def _fd(self, pack: str) -> int:
        fd = self._fds.get(pack)
        if fd is None:
            with self._lock:
                fd = self._fds.get(pack)
                if fd is None:
                    fd = self._fds[pack] = os.open(self.dir / f"{pack}.pack", os.O_RDONLY)
        return fd

    def add_published(self, pack: str, records: Iterable[tuple[bytes, Location]]) -> None:
        """Know the chunks of a pack this process just published without re-reading its index."""
        with self._lock:
            self._loaded.add(pack + ".idx")
            for cid, loc in records:
                self._entries.setdefault(cid, loc)

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


class PackWriter:
    """One new pack, written in `tmp_dir` and published into `chunks_dir` by `finish`."""

    def __init__(self, chunks_dir: Path, tmp_dir: Path, level: int = 1) -> None:
        self.chunks_dir = chunks_dir
        self.tmp_dir = tmp_dir
        self.level = level
        self.name = new_pack_name()
        self._records: list[tuple[bytes, int, int, int, int, int]] = []
        self._ids: set[bytes] = set()
        self._file = None  # opened on the first chunk: a put that adds none writes nothing
        self._offset = 0
        self.bytes_written = 0

    def __contains__(self, cid: bytes) -> bool:
        return cid in self._ids

    def __len__(self) -> int:
        return len(self._records)

    def _open(self) -> None:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmpfiles.register(self.tmp_dir)  # a signal removes this process's partial pack
        # The pid leads the name: gc tells a killed writer's leftovers by it (gc.remove_stale_tmp).
        self._tmp = self.tmp_dir / f"{os.getpid()}.{self.name}.pack"
        self._file = open(self._tmp, "xb")
        self._file.write(PACK_MAGIC)
        self._offset = len(PACK_MAGIC)

    def add(self, cid: bytes, raw: bytes | memoryview) -> None:
        """Add a raw chunk: compressed once, kept raw when compressing does not pay."""
        self.add_stored(cid, *pack_chunk(raw, self.level))

    def add_stored(self, cid: bytes, kind: int, raw_len: int, stored: bytes | memoryview, crc: int | None = None) -> None:
        """Add a chunk as another store keeps it (no recompression on transfers); `crc`, its
        entry's CRC-32 when the caller has it (computed here otherwise)."""
        if cid in self._ids:
            return
        if self._file is None:
            self._open()
        assert self._file is not None
        header = ENTRY.pack(cid, kind, len(stored))
        if crc is None:
            crc = crc32(stored, crc32(header))
        self._file.write(header)
        self._file.write(stored)
        self._records.append((cid, self._offset, len(stored), raw_len, kind, crc))
        self._ids.add(cid)
        self._offset += ENTRY.size + len(stored)
        self.bytes_written = self._offset

    def add_entry(self, cid: bytes, loc: Location, entry: bytes | memoryview,
                  check: str = SHA256) -> bytes | memoryview | None:
        """Add a stored entry read from another pack, after checking it as `check` says: SHA256
        (it decodes to `cid`) for what comes from elsewhere, COPY for an entry of a store of
        this machine (its CRC-32). The raw chunk comes back when it was decoded (not on COPY)."""
        if check == COPY:
            crc = check_copied_entry(cid, loc, entry)
            self.add_stored(cid, loc.kind, loc.raw, memoryview(entry)[ENTRY.size:], crc)
            return None
        raw = decode_entry(cid, loc, entry, check)
        self.add_decoded(cid, loc, entry)
        return raw

    def add_decoded(self, cid: bytes, loc: Location, entry: bytes | memoryview) -> None:
        """Add a stored entry read from another pack that decode_entry has checked already."""
        self.add_stored(cid, loc.kind, loc.raw, memoryview(entry)[ENTRY.size:])

    def finish(self, sync: bool = False) -> tuple[str, list[tuple[bytes, Location]]] | None:
        """Publish the pack, then its index. None when no chunk was added."""
        if self._file is None:
            return None
        index = encode_index(self._records)
        idx_tmp = self.tmp_dir / f"{os.getpid()}.{self.name}.idx"
        try:
            if sync:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            with open(idx_tmp, "xb") as f:
                f.write(index)
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
            self.chunks_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self._tmp, 0o444)
            os.chmod(idx_tmp, 0o444)
            rename_into_store(str(self._tmp), str(self.chunks_dir / f"{self.name}.pack"))
            rename_into_store(str(idx_tmp), str(self.chunks_dir / f"{self.name}.idx"))
        except BaseException:
            self.abort()
            _unlink(idx_tmp)
            raise
        return self.name, [(r[0], Location(self.name, *r[1:])) for r in self._records]

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            _unlink(self._tmp)
            self._file = None


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
