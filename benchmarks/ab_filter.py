"""The filter's hot path, two checkouts of gitdatax against each other: `git add` then a checkout
of many small files and a few larger ones, the two trees alternating so that a busy machine
slows both alike. Prints the median seconds of each and the ratio B/A.

    python3 benchmarks/ab_filter.py A_DIR B_DIR [--files 2000] [--size 32768] [--big 2] [--repeat 5]

A_DIR and B_DIR are source trees (clones) of gitdatax; each run puts one first on PYTHONPATH.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode(errors='replace')[-1000:]}")
    return time.perf_counter() - start


def one_round(tree: Path, data: Path, work: Path) -> tuple[float, float]:
    home = work / "home"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), PYTHONPATH=str(tree), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="b",
               GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b")
    repo = work / "repo"
    run(["git", "init", "-q", str(repo)], work, env)
    run(["git-datax", "install", "--global"], repo, env)
    run(["git-datax", "track", "*.bin"], repo, env)
    shutil.copytree(data, repo / "data")
    add = run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "v1", "--no-verify"], repo, env)
    shutil.rmtree(repo / "data")
    checkout = run(["git", "checkout", "-q", "--", "."], repo, env)  # every file smudged again
    return add, checkout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32768)
    parser.add_argument("--big", type=int, default=2, help="files of 64 MiB besides the small ones")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        rnd = random.Random(1)
        for i in range(args.files):
            (data / f"c{i:05}.bin").write_bytes(rnd.randbytes(args.size))
        for i in range(args.big):
            (data / f"big{i}.bin").write_bytes(rnd.randbytes(64 << 20))
        times: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
        for n in range(args.repeat):
            for name, tree in (("A", args.a), ("B", args.b)) if n % 2 == 0 else (("B", args.b), ("A", args.a)):
                work = Path(tmp) / f"{name}{n}"
                times[name].append(one_round(tree.resolve(), data, work))
                shutil.rmtree(work)
    print(f"{args.files} x {args.size} B + {args.big} x 64 MiB, median of {args.repeat} alternating rounds")
    print(f"{'step':<12} {'A s':>8} {'B s':>8} {'B/A':>6}")
    for i, step in enumerate(("git add", "checkout")):
        a = statistics.median(t[i] for t in times["A"])
        b = statistics.median(t[i] for t in times["B"])
        print(f"{step:<12} {a:>8.2f} {b:>8.2f} {b / a:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
