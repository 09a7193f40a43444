"""Bounds on what a remote may send: a hostile or broken server must not fill the disk."""
from __future__ import annotations

from typing import BinaryIO

from gitdatax.errors import CorruptObject
from gitdatax.stub import Stub


class BoundedReader:
    """Reads from `source`, raising CorruptObject once more than `limit` bytes arrived."""

    def __init__(self, source: BinaryIO, stub: Stub, limit: int) -> None:
        self.source = source
        self.stub = stub
        self.limit = limit
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.count += len(data)
        if self.count > self.limit:
            raise CorruptObject(self.stub.oid, f"the remote sent more than {self.limit} bytes for a {self.stub.size}-byte object")
        return data
