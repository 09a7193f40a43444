"""The stub that stands in Git for a large file (format v1), and Git LFS pointers for migration.

A stub has exactly one valid encoding; any other bytes are content, never a stub. Parsing is
strict on purpose: a file that merely looks like a stub (CRLF, uppercase hex, extra keys) must be
stored as data, or a user's file could be silently replaced by an object of the same name.
"""
from __future__ import annotations

import re
from typing import NamedTuple

VERSION_LINE = b"version gitdatax/1\n"
LFS_VERSION_LINE = b"version https://git-lfs.github.com/spec/v1\n"
MAX_STUB_SIZE = 1023  # "under 1024 bytes in all"

_OID_RE = re.compile(r"[0-9a-f]{64}")
_STUB_RE = re.compile(rb"version gitdatax/1\noid sha256:([0-9a-f]{64})\nsize (0|[1-9][0-9]{0,18})\n")
_LFS_RE = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (0|[1-9][0-9]{0,18})\n"
)


class Stub(NamedTuple):
    oid: str  # 64 lowercase hex digits of the SHA-256 of the content
    size: int

    def encode(self) -> bytes:
        return b"version gitdatax/1\noid sha256:%s\nsize %d\n" % (self.oid.encode(), self.size)

    def to_lfs_pointer(self) -> bytes:
        return b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
            self.oid.encode(),
            self.size,
        )


def is_valid_oid(oid: object) -> bool:
    return isinstance(oid, str) and _OID_RE.fullmatch(oid) is not None


def parse(data: bytes) -> Stub | None:
    """The stub encoded by `data`, or None when `data` is content."""
    return _parse(data, VERSION_LINE, _STUB_RE)


def parse_lfs_pointer(data: bytes) -> Stub | None:
    """A canonical Git LFS pointer (spec v1, no extensions) as a Stub, or None."""
    return _parse(data, LFS_VERSION_LINE, _LFS_RE)


def _parse(data: bytes, version_line: bytes, pattern: re.Pattern[bytes]) -> Stub | None:
    if len(data) > MAX_STUB_SIZE or not data.startswith(version_line):
        return None
    match = pattern.fullmatch(data)
    return None if match is None else Stub(match.group(1).decode(), int(match.group(2)))
