"""Bad input through real git: malformed stubs are content, corrupt or missing objects never put
garbage in the work tree, and no oid can reach outside the store."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import (
    MALFORMED_STUBS, _DATA, datax, git, git_bytes, make_writable, object_path, oid_of, random_bytes,
    stub_bytes, write,
)

NAMES = {name: f"malformed/{i:02d}.bin" for i, name in enumerate(sorted(MALFORMED_STUBS))}


def test_malformed_stubs_are_stored_and_checked_out_as_content(data_repo: Path) -> None:
    # The object that every malformed stub points at is in the store: a parser that took any of
    # them for a stub would put these bytes in the work tree instead of the file's own.
    write(data_repo / "real.bin", _DATA)
    for name, path in NAMES.items():
        write(data_repo / path, MALFORMED_STUBS[name])
    git("add", "-A")
    git("commit", "-qm", "malformed stubs as files")
    for name, path in NAMES.items():
        data = MALFORMED_STUBS[name]
        expected = stub_bytes(data) if data else b""
        assert git_bytes("cat-file", "-p", f"HEAD:{path}") == expected, name
    git("rm", "-rq", "--cached", "malformed")
    for path in NAMES.values():
        (data_repo / path).unlink()
    git("checkout", "HEAD", "--", "malformed")
    for name, path in NAMES.items():
        assert (data_repo / path).read_bytes() == MALFORMED_STUBS[name], name
    assert git("status", "--porcelain").stdout == ""


def test_malformed_stub_blobs_in_git_are_checked_out_unchanged(data_repo: Path) -> None:
    """Blobs that reached Git without the filter (another tool, or before tracking): smudge
    passes them through; it never looks an object up for them."""
    write(data_repo / "real.bin", _DATA)
    git("add", "real.bin")
    for name, path in NAMES.items():
        blob = git("hash-object", "-w", "--no-filters", "--stdin", input=MALFORMED_STUBS[name]).stdout.strip()
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    git("commit", "-q", "--no-verify", "-m", "raw blobs")
    git("rm", "-rq", "--cached", "malformed")
    proc = git("checkout", "HEAD", "--", "malformed")
    for name, path in NAMES.items():
        assert (data_repo / path).read_bytes() == MALFORMED_STUBS[name], name
    assert proc.stderr == ""  # no lookup was attempted, so nothing is reported missing


def corrupt_object(repo: Path, data: bytes, at: int) -> Path:
    path = object_path(repo, oid_of(data))
    make_writable(path)
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("where", ["start", "end"])
def test_corrupt_object_is_reported_and_its_garbage_never_reaches_the_work_tree(data_repo: Path, where: str) -> None:
    # Over 16 MiB: verified through a spool file, not in memory. Compressible, to stay cheap.
    big = b"".join(b"row %08d,%s\n" % (i, b"x" * (i % 50)) for i in range(500_000))
    assert len(big) > 16 << 20
    write(data_repo / "data/big.csv", big)
    # A whole-file zstd object, as stores written before chunking hold them (and still read);
    # a corrupt chunk of a chunked object is tests/test_chunked.py's.
    git("add", "-A", env={"GIT_DATAX_CHUNKING": "0"})
    git("commit", "-qm", "big", env={"GIT_DATAX_CHUNKING": "0"})
    compressed = object_path(data_repo, oid_of(big)).stat().st_size
    corrupt_object(data_repo, big, 100 if where == "start" else compressed - 20)
    (data_repo / "data/big.csv").unlink()
    proc = git("checkout", "--", "data/big.csv")
    assert (data_repo / "data/big.csv").read_bytes() == stub_bytes(big)
    oid = oid_of(big)
    assert proc.stderr.startswith(f"git-datax: data/big.csv: object {oid} is corrupt in the store (zstd: ")
    assert proc.stderr.endswith("; the stub was checked out instead\n")
    assert proc.stderr.count("\n") == 1
    assert os.listdir(data_repo / ".git/datax/tmp") == []  # the spool file was removed
    status = datax("status")
    assert status.returncode == 0
    assert "stub only" in status.stdout


def test_missing_object_leaves_the_stub_and_a_clear_message(data_repo: Path) -> None:
    data = random_bytes(5000, seed=1)
    other = random_bytes(5000, seed=2)
    write(data_repo / "models/gone.bin", data)
    write(data_repo / "models/here.bin", other)
    git("add", "-A")
    git("commit", "-qm", "two models")
    path = object_path(data_repo, oid_of(data))
    make_writable(path)
    path.unlink()
    for name in ("gone.bin", "here.bin"):
        (data_repo / "models" / name).unlink()
    proc = git("checkout", "--", "models")
    assert (data_repo / "models/gone.bin").read_bytes() == stub_bytes(data)
    assert (data_repo / "models/here.bin").read_bytes() == other
    assert proc.stderr == (
        f"git-datax: models/gone.bin: object {oid_of(data)} is not in the local store; "
        "the stub was checked out (run `git datax pull` to fill it in)\n"
    )
    assert git("status", "--porcelain").stdout == ""
    status = datax("status")
    assert "  object missing, stub only" in status.stdout and "models/gone.bin" in status.stdout
