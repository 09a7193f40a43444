"""A long-running filter that stores nothing: git's own share of a step, for benchmarks/bench.py.

Clean reads the content, hashes it with SHA-256 (the least any content-addressed tool does) and
answers a stub; smudge answers as many bytes as the stub says, from memory: the stub itself, then
zeros (so that cleaning them again gives the same stub, and git sees no change). Run in place of
`git-datax filter-process`, the add and checkout steps then cost what git itself spends on them
(reading and writing the work tree, the pipe, the index, the loose objects) plus a Python
process. A tool that talks to git through a filter cannot be faster than this; bench.py prints it
as the "git alone" column, which says how much of each step a filter can still win.

    filter.datax.process = python3 benchmarks/null_filter.py [--compress]

With --compress, clean also compresses the content as gitdatax does (zstd level 1, two threads)
and throws the result away: the floor of a tool whose store is compressed. With --chunk as well,
content over gitdatax's threshold (4 MiB) is also cut by FastCDC with gitdatax's parameters and
every chunk hashed with SHA-256 for its id, on two threads: the floor of a store that keeps
content-defined chunks named by SHA-256 (design-proposals 24).
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # gitdatax.pktline, without installing

from gitdatax.filter import pktline  # noqa: E402
from gitdatax.store.chunked import CDC_AVG, CDC_MAX, CDC_MIN, CHUNKED_ABOVE, CUT_BLOCK  # noqa: E402

ZEROS = bytes(1 << 20)
STUB_START = b"version gitdatax/1\n"


def answer(out, chunks) -> None:  # type: ignore[no-untyped-def]
    pktline.write_text_list(out, ["status=success"])
    pktline.write_content(out, chunks)
    pktline.write_flush(out)


def padded(stub: bytes, size: int):  # type: ignore[no-untyped-def]
    yield stub
    size -= len(stub)
    while size > 0:
        yield ZEROS[: min(size, len(ZEROS))]
        size -= len(ZEROS)


class ChunkHasher:
    """Cuts a stream as gitdatax does and hashes each chunk, keeping only the ids: blocks of
    CUT_BLOCK are cut, every chunk but the last hashed on a pool of two threads (hashlib lets go
    of the GIL), the last carried into the next block, since it may not end there."""

    def __init__(self, pool) -> None:  # type: ignore[no-untyped-def]
        from pyfastcdc import FastCDC

        self.cdc = FastCDC(CDC_AVG, min_size=CDC_MIN, max_size=CDC_MAX)
        self.pool = pool
        self.pending = bytearray()
        self.size = 0
        self.futures: list = []  # type: ignore[type-arg]
        self.ids: list[bytes] = []

    def write(self, packet: bytes) -> None:
        self.pending += packet
        self.size += len(packet)
        if len(self.pending) >= CUT_BLOCK and self.size > CHUNKED_ABOVE:
            self._cut(final=False)

    def _cut(self, final: bool) -> None:
        block = self.pending  # never written again: the next bytes go into a new one
        view = memoryview(block)
        cuts = [(c.offset, c.length) for c in self.cdc.cut_buf(view)]
        keep = cuts if final else cuts[:-1]
        self.futures.append(self.pool.submit(lambda: [hashlib.sha256(view[o:o + n]).digest() for o, n in keep]))
        self.pending = bytearray() if final or not cuts else bytearray(view[cuts[-1][0]:])
        if len(self.futures) > 8:
            self.ids += self.futures.pop(0).result()

    def finish(self) -> None:
        if self.size > CHUNKED_ABOVE:
            self._cut(final=True)
        for future in self.futures:
            self.ids += future.result()
        self.futures = []


class Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def main() -> int:
    compressor = None
    if "--compress" in sys.argv:  # also compress as gitdatax does (level 1, two threads), keep nothing
        global zstandard
        import zstandard

        compressor = zstandard.ZstdCompressor(level=1, write_checksum=True, threads=2)
    pool = None
    if "--chunk" in sys.argv:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(2)
    stdin = open(0, "rb", buffering=1 << 20, closefd=False)
    out = open(1, "wb", buffering=1 << 20, closefd=False)
    pktline.read_text_list(stdin)
    pktline.write_text_list(out, ["git-filter-server", "version=2"])
    out.flush()
    pktline.read_text_list(stdin)
    pktline.write_text_list(out, ["capability=clean", "capability=smudge"])
    out.flush()
    while True:
        try:
            request = pktline.read_key_values(stdin)
        except EOFError:
            return 0
        hasher = hashlib.sha256()
        size = 0
        head = b""
        cleaning = request.get("command") == "clean"
        sink = compressor.stream_writer(Discard(), closefd=False) if compressor and cleaning else None
        cutter = ChunkHasher(pool) if pool is not None and cleaning else None
        for packet in pktline.iter_content(stdin):
            hasher.update(packet)
            size += len(packet)
            if len(head) < 1024:
                head += packet[:1024]
            if sink is not None:
                sink.write(packet)
            if cutter is not None:
                cutter.write(packet)
        if sink is not None:
            sink.flush(zstandard.FLUSH_FRAME)
        if cutter is not None:
            cutter.finish()
        stub = head[: head.index(b"\0")] if head.startswith(STUB_START) and b"\0" in head else head
        if request.get("command") == "clean":
            if stub.startswith(STUB_START) and len(stub) < 1024:  # what smudge wrote: its stub again
                answer(out, iter([stub]))
            else:
                answer(out, iter([b"%soid sha256:%s\nsize %d\n" % (STUB_START, hasher.hexdigest().encode(), size)]))
        else:
            wanted = stub.rsplit(b"size ", 1)[-1].strip() if stub.startswith(STUB_START) else b""
            if wanted.isdigit():  # the stub, then zeros up to the size: clean gives the stub back
                answer(out, padded(stub, int(wanted)))
            else:
                answer(out, iter([head]))
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
