"""The pack commands of `git datax serve --stdio` (the client is remotes/ssh_packs.py): chunk
exchange between gitdatax ends over ssh, only the chunks the other side lacks."""
from __future__ import annotations

import os
import re
from typing import BinaryIO, Callable, Iterator

from gitdatax.errors import CorruptObject, FatalError
from gitdatax.remotes import frames
from gitdatax.remotes.frames import COMMAND, DATA, ERROR
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.packs import ENTRY, PACK_MAGIC, Location, parse_index

PACK_NAME = re.compile(r"pack-[0-9a-f]{32}\.(pack|idx)")
READ_LIMIT = 64 << 20
INDEX_LIMIT = 64 << 20  # a million chunks' index: more is not an index of ours


class PackRefused(FatalError):
    """Answered with an E frame; the session goes on."""


def pack_list(store: ObjectStore) -> str:
    try:
        names = sorted(n for n in os.listdir(store.chunks_dir) if PACK_NAME.fullmatch(n) and n.endswith(".idx"))
    except FileNotFoundError:
        names = []
    return "\n".join(["ok", *names])


def pack_read(store: ObjectStore, words: list[str], out: BinaryIO, send: Callable[[bytes, str], None]) -> None:
    if len(words) != 4 or not PACK_NAME.fullmatch(words[1]) or not words[2].isdigit() or not words[3].isdigit():
        raise PackRefused("usage pack-read NAME OFFSET LENGTH")
    name, offset, length = words[1], int(words[2]), int(words[3])
    if length > READ_LIMIT:
        raise PackRefused(f"range over {READ_LIMIT} bytes")
    try:
        with open(store.chunks_dir / name, "rb") as f:
            if length == 0:
                data = f.read(READ_LIMIT + 1)
                if len(data) > READ_LIMIT:
                    raise PackRefused(f"{name} is over {READ_LIMIT} bytes")
            else:
                data = os.pread(f.fileno(), length, offset)
    except FileNotFoundError:
        raise PackRefused(f"missing {name}") from None
    send(COMMAND, f"ok {len(data)}")
    for start in range(0, len(data), frames.DATA_CHUNK):
        frames.write_frame(out, DATA, data[start:start + frames.DATA_CHUNK])
    frames.write_frame(out, DATA)
    out.flush()


def pack_put(store: ObjectStore, inp: BinaryIO, send: Callable[[bytes, str], None]) -> None:
    """Take an index and its pack; keep every entry that decodes to its id, in a pack of ours."""
    send(COMMAND, "send")
    index_reader = frames.DataReader(inp, INDEX_LIMIT)
    try:
        index = parse_index("received", index_reader.read())
    except CorruptObject as exc:
        index_reader.drain()
        frames.DataReader(inp, 0).drain()
        raise PackRefused(f"corrupt index: {exc.why}") from None
    except OverflowError:
        index_reader.drain()
        frames.DataReader(inp, 0).drain()
        raise PackRefused("index too large") from None
    limit = len(PACK_MAGIC) + sum(ENTRY.size + loc.stored for _, loc in index.records)
    pack = frames.DataReader(inp, limit)
    try:
        store.receive_chunks(_entries(pack, index.records))
    except (CorruptObject, OverflowError) as exc:
        pack.drain()
        raise PackRefused(f"corrupt pack: {exc}") from None
    except OSError as exc:  # a full disk: said at once, then the rest read (see StdioServer.put)
        send(ERROR, f"failed {' '.join(str(exc).split())}")
        pack.drain()
        return
    if not pack.done:
        pack.drain()
    send(COMMAND, "ok")


def _entries(pack: frames.DataReader, records: list[tuple[bytes, Location]]) -> Iterator[tuple[bytes, Location, bytes]]:
    if pack.read(len(PACK_MAGIC)) != PACK_MAGIC:
        raise CorruptObject("received", "not a pack")
    position = len(PACK_MAGIC)
    for cid, loc in sorted(records, key=lambda item: item[1].offset):
        if loc.offset != position:
            raise CorruptObject("received", "index offsets do not follow the pack")
        entry = pack.read(ENTRY.size + loc.stored)
        position += len(entry)
        yield cid, loc, entry
