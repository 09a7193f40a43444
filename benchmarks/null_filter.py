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
and throws the result away: the floor of a tool whose store is compressed.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # gitdatax.pktline, without installing

from gitdatax.filter import pktline  # noqa: E402

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


class Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def main() -> int:
    compressor = None
    if "--compress" in sys.argv:  # also compress as gitdatax does (level 1, two threads), keep nothing
        global zstandard
        import zstandard

        compressor = zstandard.ZstdCompressor(level=1, write_checksum=True, threads=2)
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
        sink = compressor.stream_writer(Discard(), closefd=False) if compressor else None
        for packet in pktline.iter_content(stdin):
            hasher.update(packet)
            size += len(packet)
            if len(head) < 1024:
                head += packet[:1024]
            if sink is not None and request.get("command") == "clean":
                sink.write(packet)
        if sink is not None:
            sink.flush(zstandard.FLUSH_FRAME)
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
