"""Story 1: commit versions of data and a model, check out any old commit, get its bytes back."""
from __future__ import annotations

from pathlib import Path

from helpers import datax, git, git_bytes, random_bytes, sha256, stub_bytes, write


def test_three_versions_come_back_bit_for_bit(repo: Path) -> None:
    assert datax("track", "*.bin", "*.csv").returncode == 0
    git("add", ".gitattributes")
    git("commit", "-qm", "track")
    digests = []
    for version in (1, 2, 3):
        write(repo / "models/asr.bin", random_bytes((5 << 20) + version, seed=version))
        write(repo / "data/train.csv", b"id,label\n" + b"".join(b"%d,%d\n" % (i, i * version) for i in range(50000)))
        git("add", "-A")
        git("commit", "-qm", f"v{version}")
        git("tag", f"v{version}")
        digests.append({p: sha256(repo / p) for p in ("models/asr.bin", "data/train.csv")})
        for path in ("models/asr.bin", "data/train.csv"):
            # Git holds exactly the stub of the file's bytes, nothing else.
            assert git_bytes("cat-file", "-p", f"HEAD:{path}") == stub_bytes((repo / path).read_bytes())
    assert len({d["models/asr.bin"] for d in digests}) == len({d["data/train.csv"] for d in digests}) == 3
    for version in (1, 3, 2, 1):
        git("checkout", "-q", f"v{version}")
        assert {p: sha256(repo / p) for p in digests[0]} == digests[version - 1]
        assert git("status", "--porcelain").stdout == ""
        summary = datax("status").stdout
        assert summary.startswith("gitdatax: 2 tracked file(s), ") and summary.endswith(": 2 committed\n")


def test_same_size_new_version_of_a_large_file_is_stored(repo: Path) -> None:
    """A retrained model often keeps its size: the filter's guess that the content is already
    stored is then wrong, and the new bytes must still be stored and come back."""
    datax("track", "*.bin")
    size = 6 << 20  # over the in-memory limit, so the large-file path is taken
    write(repo / "model.bin", random_bytes(size, seed=1))
    git("add", "-A")
    git("commit", "-qm", "v1")
    first = sha256(repo / "model.bin")
    write(repo / "model.bin", random_bytes(size, seed=2))
    second = sha256(repo / "model.bin")
    git("add", "-A")
    git("commit", "-qm", "v2")
    git("checkout", "-q", "HEAD~1")
    assert sha256(repo / "model.bin") == first
    git("checkout", "-q", "-")
    assert sha256(repo / "model.bin") == second
    assert git("status", "--porcelain").stdout == ""
