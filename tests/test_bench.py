"""benchmarks/bench.py runs end to end on a tiny workload and prints every row (the figures
themselves are the benchmark's business, not a test's)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
STEPS = ["add+commit v1", "add+commit v2", "checkout v1", "checkout v2", "status after checkout", "push",
         "clone with data"]


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="the comparison needs git-lfs (install.sh --dev)")
def test_bench_prints_every_step_with_ratio_and_floors(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--work", str(tmp_path / "work"), "--big-mib", "1", "--n-small", "20",
         "--repeat", "1", "--skip-2gib"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    number = r"\d+\.\d\d"
    for step in STEPS:
        row = next(line for line in lines if line.startswith(step))
        # gitdatax seconds, Git LFS seconds, ratio, target, verdict
        assert re.match(rf"{re.escape(step)}\s+{number}\s+{number}\s+{number}\s+<=\d\.\d+ (ok|MISS)", row), row
        if step.startswith(("add+commit", "checkout", "status")):  # the git-alone floor and its ratio
            assert len(re.findall(number, row)) >= 5, row
        if step.startswith("add+commit"):  # and the compressed floor, and the chunking one
            assert len(re.findall(number, row)) == 9, row
    store = next(line for line in lines if line.startswith("local store bytes"))
    assert re.search(r"\d+\.\dMi\s+\d+\.\dMi\s+\d\.\d\d\s+<=0\.75", store), store
    assert any(line.startswith("peak RSS of gitdatax processes: ") for line in lines)


def test_the_chunking_floor_cuts_as_the_store_does(tmp_path: Path) -> None:
    """null_filter.py --chunk does the work a chunked store cannot skip: it cuts a large file into
    the chunks gitdatax stores for it, fed in git's packets, and hashes each."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(BENCH.parent))
    try:
        import null_filter
    finally:
        sys.path.remove(str(BENCH.parent))
    from gitdatax.store.objectstore import ObjectStore

    data = random.Random(5).randbytes(12 << 20)
    with ThreadPoolExecutor(2) as pool:
        cutter = null_filter.ChunkHasher(pool)
        for i in range(0, len(data), 65516):  # a pkt-line's payload at most
            cutter.write(data[i:i + 65516])
        cutter.finish()
    store = ObjectStore(tmp_path / "store")
    stub = store.put(data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20))
    ids = store.read_manifest(stub.oid, stub.size).ids()
    assert len(ids) > 100 and cutter.ids == ids
