"""The stub format v1: one canonical encoding; anything else is content, never a stub."""
from __future__ import annotations

import pytest

from gitdatax import stub as stubs
from gitdatax.stub import Stub
from helpers import MALFORMED_STUBS as MALFORMED, oid_of, stub_bytes

DATA = b"the bytes of a model\n"
OID = oid_of(DATA)
GOOD = stub_bytes(DATA)


@pytest.fixture(autouse=True)
def isolated_git() -> None:
    """Pure unit tests: no git and no HOME needed (overrides conftest's fixture, for speed)."""


def test_encode_is_the_documented_format() -> None:
    assert Stub(OID, 21).encode() == b"version gitdatax/1\noid sha256:" + OID.encode() + b"\nsize 21\n"
    assert Stub(OID, 21).encode() == GOOD


def test_parse_round_trips_the_canonical_encoding() -> None:
    assert stubs.parse(GOOD) == Stub(OID, len(DATA))
    for size in (0, 1, 1023, 1024, 2**63 - 1, 10**19 - 1):
        encoded = Stub(OID, size).encode()
        assert stubs.parse(encoded) == Stub(OID, size)
        assert len(encoded) <= stubs.MAX_STUB_SIZE


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_stub_is_content(name: str) -> None:
    assert stubs.parse(MALFORMED[name]) is None


def test_largest_possible_stub_is_far_under_1024_bytes() -> None:
    assert stubs.MAX_STUB_SIZE == 1023
    assert len(Stub("f" * 64, 10**19 - 1).encode()) < 200


def test_is_valid_oid() -> None:
    assert stubs.is_valid_oid(OID)
    for bad in (OID.upper(), OID[:63], OID + "0", "../" + OID[3:], "", None, 42, OID[:62] + "/x"):
        assert not stubs.is_valid_oid(bad)


def test_git_lfs_pointer_is_recognised_for_migration() -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 21\n" % OID.encode()
    assert stubs.parse_lfs_pointer(pointer) == Stub(OID, 21)
    assert Stub(OID, 21).to_lfs_pointer() == pointer
    # A Git LFS pointer is not a gitdatax stub, and a stub is not an LFS pointer.
    assert stubs.parse(pointer) is None
    assert stubs.parse_lfs_pointer(GOOD) is None
    # Pointers with extensions or CRLF are not canonical: content.
    assert stubs.parse_lfs_pointer(pointer.replace(b"\n", b"\r\n")) is None
    ext = pointer.replace(b"oid", b"ext-0-foo sha256:%s\noid" % OID.encode(), 1)
    assert stubs.parse_lfs_pointer(ext) is None
