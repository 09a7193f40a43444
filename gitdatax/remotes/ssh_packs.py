"""The chunk packs of an ssh remote, through `git-datax serve --stdio` (server/stdio_packs.py):
the four calls store/pack_exchange.py needs (PackFiles), each one request on a pooled session.

    pack-list                        ok, then one index name a line
    pack-read NAME OFFSET LENGTH     ok N, then N bytes in D frames (LENGTH 0: the whole file)
    pack-put                         send; the index, then the pack, each as D frames ending
                                     with an empty one; ok once every entry checked and published
The server re-hashes every chunk it receives and writes them into a pack of its own naming, so
what it holds is never what a client claimed, only what it verified.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gitdatax.remotes import frames
from gitdatax.remotes.base import RemoteError
from gitdatax.errors import ProtocolError
from gitdatax.remotes.frames import COMMAND, DATA, ERROR


READ_LIMIT = 64 << 20  # per pack-read: the largest range pack_exchange asks for, and then some


class SshPackFiles:
    def __init__(self, remote: Any) -> None:  # the SshRemote (not imported: it imports this module)
        self.remote = remote

    def list_pack_indexes(self) -> list[str]:
        reply = self.remote._call(lambda conn: conn.request("pack-list"))
        lines = reply.split("\n")
        if lines[0] != "ok":
            raise RemoteError(f"remote {self.remote.url}: pack-list: bad answer {reply[:80]!r}")
        return [line for line in lines[1:] if line]

    def read_pack_file(self, name: str) -> bytes:
        return self.remote._call(lambda conn: self._read(conn, name, 0, 0))

    def read_pack_range(self, name: str, offset: int, length: int) -> bytes:
        return self.remote._call(lambda conn: self._read(conn, name, offset, length))

    def _read(self, conn: Any, name: str, offset: int, length: int) -> bytes:
        reply = conn.request(f"pack-read {name} {offset} {length}")
        words = reply.split(" ")
        if len(words) != 2 or words[0] != "ok" or not words[1].isdigit() or int(words[1]) > READ_LIMIT:
            raise RemoteError(f"remote {self.remote.url}: pack-read {name}: bad answer {reply[:80]!r}")
        reader = frames.DataReader(conn.inp, int(words[1]))
        try:
            data = reader.read()
        except (ProtocolError, OverflowError) as exc:
            raise conn.lost(str(exc)) from None
        return data

    def write_pack(self, name: str, pack: Path, index: Path) -> bool:
        self.remote._call(lambda conn: self._put(conn, pack, index))
        return False  # the server names the pack it writes

    def _put(self, conn: Any, pack: Path, index: Path) -> None:
        if conn.request("pack-put") != "send":
            raise RemoteError(f"remote {self.remote.url}: pack-put: unexpected answer")
        for path in (index, pack):
            with open(path, "rb") as f:
                while chunk := f.read(frames.DATA_CHUNK):
                    conn.send_stream(DATA, chunk)
            conn.send_stream(DATA, b"")
        kind, payload = conn.read()
        text = payload.decode("utf-8", "replace")
        if kind == ERROR:
            raise conn.refused(text)
        if kind != COMMAND or text != "ok":
            raise RemoteError(f"remote {self.remote.url}: pack-put: unexpected answer {text[:80]!r}")
