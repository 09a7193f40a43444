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
    length = _payload_length(header)
    if length is None:
        return None
    payload = stream.read(length)
    if len(payload) != length:
        raise Truncated("truncated pkt-line payload")
    return payload


def _payload_length(header: bytes) -> int | None:
    """The payload length a packet's header gives; None for a flush packet."""
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
    return length - 4


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


def iter_content(stream: BinaryIO) -> "Content":
    """Binary packets up to the next flush."""
    return Content(stream)


class Content:
    """The binary packets of one file, up to the next flush: an iterator of payloads, which can
    also read them straight into a caller's buffer (`readinto`). The chunked store cuts 4 MiB
    blocks: reading packets into them spares a copy of every byte (bytes per packet, then joined),
    which cost a 128 MiB add about a fifth of its CPU."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._left = 0  # bytes of the current packet not read yet (readinto stopped inside it)
        self._ended = False

    def __iter__(self) -> "Content":
        return self

    def __next__(self) -> bytes:
        if self._left:
            payload = self._stream.read(self._left)
            if len(payload) != self._left:
                raise Truncated("truncated pkt-line payload")
            self._left = 0
            return payload
        if self._ended:
            raise StopIteration
        packet = read_packet(self._stream)
        if packet is None:
            self._ended = True
            raise StopIteration
        return packet

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill `buffer` with the content's next bytes; how many (fewer only at its end)."""
        view = memoryview(buffer)
        filled = 0
        while filled < len(view) and not self._ended:
            if not self._left:
                length = _payload_length(self._stream.read(4))
                if length is None:
                    self._ended = True
                    break
                self._left = length
            n = min(self._left, len(view) - filled)
            _read_exactly(self._stream, view[filled:filled + n])
            filled += n
            self._left -= n
        return filled


def _read_exactly(stream: BinaryIO, view: memoryview) -> None:
    while len(view):
        n = stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            raise Truncated("truncated pkt-line payload")
        view = view[n:]


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
