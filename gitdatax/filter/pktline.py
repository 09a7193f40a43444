"""Git's pkt-line framing, as used by the long-running filter protocol (gitprotocol-common(5))."""
from __future__ import annotations

from typing import BinaryIO, Iterator

from gitdatax.errors import ProtocolError

MAX_DATA = 65516  # LARGE_PACKET_DATA_MAX: 65520 minus the 4-byte length header
FLUSH = b"0000"


class Truncated(ProtocolError, EOFError):
    """The stream ended inside a packet: the peer went away (git killed mid-file)."""


def read_packet(stream: BinaryIO) -> bytes | None:
    """The next packet's payload, or None for a flush packet. EOFError at a clean end of stream."""
    header = stream.read(4)
    if not header:
        raise EOFError
    if len(header) != 4:
        raise Truncated("truncated pkt-line header")
    try:
        length = int(header, 16)
    except ValueError:
        raise ProtocolError(f"bad pkt-line header {header!r}") from None
    if length == 0:
        return None
    if length < 4 or length > MAX_DATA + 4:
        raise ProtocolError(f"bad pkt-line length {length}")
    payload = stream.read(length - 4)
    if len(payload) != length - 4:
        raise Truncated("truncated pkt-line payload")
    return payload


def read_text_list(stream: BinaryIO) -> list[str]:
    """Text packets up to the next flush, each without its one trailing newline. Paths are
    bytes to git: one that is not UTF-8 survives as surrogates, and one that ends with a newline
    keeps it (git adds one newline to a packet and strips one)."""
    lines = []
    while (packet := read_packet(stream)) is not None:
        line = packet.decode("utf-8", "surrogateescape")
        lines.append(line[:-1] if line.endswith("\n") else line)
    return lines


def read_key_values(stream: BinaryIO) -> dict[str, str]:
    out = {}
    for line in read_text_list(stream):
        key, _, value = line.partition("=")
        out[key] = value
    return out


def iter_content(stream: BinaryIO) -> Iterator[bytes]:
    """Binary packets up to the next flush."""
    while (packet := read_packet(stream)) is not None:
        yield packet


def write_packet(stream: BinaryIO, payload: bytes | memoryview) -> None:
    stream.write(b"%04x" % (len(payload) + 4))
    stream.write(payload)


def write_flush(stream: BinaryIO) -> None:
    stream.write(FLUSH)


def write_text_list(stream: BinaryIO, lines: list[str]) -> None:
    for line in lines:
        write_packet(stream, (line + "\n").encode("utf-8", "surrogateescape"))  # see read_text_list
    write_flush(stream)


def write_content(stream: BinaryIO, chunks: Iterator[bytes]) -> None:
    """Packetize `chunks` and end with a flush."""
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), MAX_DATA):
            write_packet(stream, view[start : start + MAX_DATA])
    write_flush(stream)
