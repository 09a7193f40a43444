"""`git-datax merge-driver %O %A %B %P`, called directly with the three stubs git hands it."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import stub_bytes

BASE, OURS, THEIRS = (stub_bytes(b"version %d" % i) for i in range(3))


@pytest.mark.parametrize(
    "ancestor, ours, theirs, code, result",
    [
        (BASE, OURS, BASE, 0, OURS),      # only ours changed: keep ours
        (BASE, BASE, THEIRS, 0, THEIRS),  # only theirs changed: take theirs
        (BASE, OURS, OURS, 0, OURS),      # both made the same change
        (BASE, BASE, BASE, 0, BASE),
        (BASE, OURS, THEIRS, 1, OURS),    # both changed: conflict, ours stays
    ],
)
def test_merge_driver_outcomes(tmp_path: Path, ancestor: bytes, ours: bytes, theirs: bytes, code: int, result: bytes) -> None:
    files = []
    for name, data in (("O", ancestor), ("A", ours), ("B", theirs)):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    proc = subprocess.run(["git-datax", "merge-driver", *files, "models/it's big.bin"], capture_output=True, text=True)
    assert proc.returncode == code
    assert (tmp_path / "A").read_bytes() == result
    if code:
        assert proc.stderr == (
            "gitdatax: models/it's big.bin: both sides changed it; the work tree keeps our version. "
            "Use `git checkout --theirs -- 'models/it'\"'\"'s big.bin'` for theirs, then `git add` it.\n"
        )
    else:
        assert proc.stderr == ""
