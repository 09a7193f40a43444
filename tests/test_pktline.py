"""pkt-line framing (gitprotocol-common(5)), byte for byte."""
from __future__ import annotations

import io

import pytest

from gitdatax.filter import pktline
from gitdatax.errors import ProtocolError


@pytest.fixture(autouse=True)
def isolated_git() -> None:
    """Pure unit tests: no git needed (overrides conftest's fixture, for speed)."""


def test_write_packet_and_flush_bytes() -> None:
    out = io.BytesIO()
    pktline.write_packet(out, b"a\n")
    pktline.write_flush(out)
    pktline.write_text_list(out, ["git-filter-server", "version=2"])
    assert out.getvalue() == b"0006a\n0000" b"0016git-filter-server\n000eversion=2\n0000"


def test_read_packets_up_to_flush() -> None:
    stream = io.BytesIO(b"0016git-filter-client\n000eversion=2\n0000" b"0009x=yz\n0000")
    assert pktline.read_text_list(stream) == ["git-filter-client", "version=2"]
    assert pktline.read_key_values(stream) == {"x": "yz"}
    with pytest.raises(EOFError):
        pktline.read_packet(stream)


def test_key_value_keeps_equals_signs_in_values() -> None:
    payload = "pathname=a=b c/d\u00e9.bin\n".encode()
    stream = io.BytesIO(b"%04x" % (len(payload) + 4) + payload + b"0000")
    assert pktline.read_key_values(stream) == {"pathname": "a=b c/d\u00e9.bin"}


def test_pathnames_round_trip_byte_for_byte() -> None:
    # A path is bytes to git: one that is not UTF-8, or that ends with a newline, is its name.
    raw = b"0016pathname=caf\xe9.bin\n" b"0010pathname=x\n\n" b"0000"
    lines = pktline.read_text_list(io.BytesIO(raw))
    assert lines == ["pathname=caf\udce9.bin", "pathname=x\n"]
    out = io.BytesIO()
    pktline.write_text_list(out, lines)
    assert out.getvalue() == raw


def test_content_is_split_at_the_largest_packet() -> None:
    data = bytes(range(256)) * 600  # 153600 bytes: two full packets and a rest
    out = io.BytesIO()
    pktline.write_content(out, iter([data]))
    raw = out.getvalue()
    assert raw[:4] == b"fff0"  # 65516 + 4
    assert raw.endswith(b"0000")
    back = io.BytesIO(raw)
    packets = list(pktline.iter_content(back))
    assert [len(p) for p in packets] == [65516, 65516, 153600 - 2 * 65516]
    assert b"".join(packets) == data
    assert back.read() == b""


def test_empty_content_is_a_lone_flush() -> None:
    out = io.BytesIO()
    pktline.write_content(out, iter([b"", b""]))
    assert out.getvalue() == b"0000"


def test_largest_packet_is_accepted_and_one_more_byte_refused() -> None:
    biggest = b"fff0" + b"x" * 65516
    assert pktline.read_packet(io.BytesIO(biggest)) == b"x" * 65516
    with pytest.raises(ProtocolError, match="bad pkt-line length 65521"):
        pktline.read_packet(io.BytesIO(b"fff1" + b"x" * 65517))


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"00", "truncated pkt-line header"),
        (b"zzzz", "bad pkt-line header"),
        (b"0003", "bad pkt-line length 3"),
        (b"0001", "bad pkt-line length 1"),
        (b"000ashort", "truncated pkt-line payload"),
    ],
)
def test_broken_framing_is_a_protocol_error(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        pktline.read_packet(io.BytesIO(raw))


def test_content_read_into_a_buffer_across_packets_then_iterated() -> None:
    """The chunked store reads git's packets straight into its blocks (readinto), which may
    stop inside a packet; iterating afterwards gives the rest of that packet first, and the
    stream is left just after the content's flush."""
    data = bytes(range(256)) * 1000  # 256,000 bytes: 4 packets, the last one short
    framed = io.BytesIO()
    pktline.write_content(framed, iter([data]))
    pktline.write_text_list(framed, ["status=next"])
    framed.seek(0)
    content = pktline.iter_content(framed)
    first = bytearray(100_000)  # ends inside the second packet
    assert content.readinto(first) == 100_000
    rest = b"".join(content)
    assert bytes(first) + rest == data
    assert content.readinto(bytearray(10)) == 0  # ended: nothing more, the flush is not read twice
    assert pktline.read_text_list(framed) == ["status=next"]


@pytest.mark.parametrize("cut", [2, 7, 70_000])  # inside a header, inside the first payload, inside the second
def test_content_cut_short_is_truncated_when_read_into_a_buffer(cut: int) -> None:
    framed = io.BytesIO()
    pktline.write_content(framed, iter([b"x" * 100_000]))
    content = pktline.iter_content(io.BytesIO(framed.getvalue()[:cut]))
    with pytest.raises(pktline.Truncated):
        content.readinto(bytearray(200_000))


def test_bad_header_inside_content_read_into_a_buffer_is_a_protocol_error() -> None:
    content = pktline.iter_content(io.BytesIO(b"0008abcdzz!!"))
    with pytest.raises(ProtocolError, match="bad pkt-line header"):
        content.readinto(bytearray(100))
