#!/usr/bin/env python3
"""`git datax get` of one 128 MiB model against a full `git clone`, from a 20-commit repository.

The team repository (a bare server with `install --server`) has 20 commits: every commit changes
the training code and adds a 256 KiB log (plain Git, incompressible), and commits 1, 5, 10, 15
and 20 each carry a new 128 MiB model (shared/bench/gen_data.py's generator: poorly
compressible, like real checkpoints). v1 is the first commit. Timed, median of --runs:

  get v1      git datax get SERVER models/asr.bin --rev v1    (the deployment case)
  get HEAD    git datax get SERVER models/asr.bin
  clone       git clone SERVER (history, then HEAD's data through the filter)

and for each the git bytes it fetched (packs and loose objects), the data bytes it stored or
wrote, and what it left on disk.

    python3 benchmarks/share_get.py [--mib 128] [--commits 20] [--runs 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = HERE.parent.parent / "shared" / "bench" / "gen_data.py"
if not GEN.exists():
    GEN = Path("/work/shared/bench/gen_data.py")


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stderr


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_data", GEN)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                total += os.stat(p).st_size
    return total


def build(root: Path, mib: int, commits: int) -> Path:
    gen = generator()
    server = root / "team.git"
    sh("git", "init", "-q", "--bare", str(server))
    sh("git-datax", "install", "--server", cwd=server)
    work = root / "work"
    sh("git", "clone", "-q", str(server), str(work))
    sh("git-datax", "install", "--local", cwd=work)
    sh("git-datax", "track", "*.bin", cwd=work)
    (work / "models").mkdir()
    (work / "src").mkdir()
    (work / "logs").mkdir()
    model_commits = {1, commits} | set(range(5, commits, 5))
    for i in range(1, commits + 1):
        (work / "src" / "train.py").write_text(f"LEARNING_RATE = {0.1 / i}\nEPOCHS = {i}\n")
        (work / "logs" / f"run{i:02d}.log").write_bytes(os.urandom(256 << 10))
        if i in model_commits:
            gen.model(str(work / "models" / "asr.bin"), mib, 100 + i)
        sh("git", "add", "-A", cwd=work)
        sh("git", "commit", "-qm", f"iteration {i}", cwd=work)
        if i == 1:
            sh("git", "tag", "v1", cwd=work)
    sh("git", "push", "-q", "origin", "HEAD:main", "--tags", cwd=work)
    shutil.rmtree(work)
    return server


def git_bytes(note: str) -> tuple[int, int]:
    """(git bytes, data bytes) from get's closing line."""
    import re

    match = re.search(r"git (\d+) object\(s\), ([\d.]+) (B|KiB|MiB)", note)
    scale = {"B": 1, "KiB": 1024, "MiB": 1 << 20}
    git = int(float(match[2]) * scale[match[3]]) if match else -1
    data = re.search(r"data ([\d.]+) (B|KiB|MiB|GiB)", note)
    scale["GiB"] = 1 << 30
    return git, int(float(data[1]) * scale[data[2]]) if data else 0


def run_get(server: Path, rev: str | None, dest: Path) -> tuple[float, int, int, int]:
    dest.mkdir()
    args = ["git-datax", "get", str(server), "models/asr.bin"] + (["--rev", rev] if rev else [])
    start = time.monotonic()
    note = sh(*args, cwd=dest)
    seconds = time.monotonic() - start
    gbytes, dbytes = git_bytes(note.strip().splitlines()[-1])
    return seconds, gbytes, dbytes, du(dest)


def run_clone(server: Path, dest: Path) -> tuple[float, int, int, int]:
    start = time.monotonic()
    sh("git", "clone", "-q", str(server), str(dest))
    seconds = time.monotonic() - start
    objects = dest / ".git" / "objects"
    store = dest / ".git" / "datax"  # whole-file objects and manifests, and the chunks
    return seconds, du(objects), du(store / "objects") + du(store / "chunks"), du(dest)


def mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.1f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=128)
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the repository here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="share-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    server = root / "team.git"
    if not server.exists():
        print(f"building a {args.commits}-commit repository with a {args.mib} MiB model in {root} ...", flush=True)
        build(root, args.mib, args.commits)
    results: dict[str, list[tuple[float, int, int, int]]] = {"get v1": [], "get HEAD": [], "clone": []}
    try:
        for n in range(args.runs):
            scratch = root / f"run{n}"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            results["get v1"].append(run_get(server, "v1", scratch / "get-v1"))
            results["get HEAD"].append(run_get(server, None, scratch / "get-head"))
            results["clone"].append(run_clone(server, scratch / "clone"))
            shutil.rmtree(scratch)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    clone_time = statistics.median(r[0] for r in results["clone"])
    clone_git = results["clone"][0][1]
    print(f"\n{args.commits} commits, {args.mib} MiB model, median of {args.runs} run(s)\n")
    print("| step | time | ratio to clone | git bytes fetched | data bytes | disk left |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        t = statistics.median(r[0] for r in rows)
        g, d, disk = rows[0][1], rows[0][2], rows[0][3]
        ratio = f"{t / clone_time:.2f}x" if name != "clone" else "1.00x"
        git_ratio = f" ({g / clone_git:.4f}x)" if name != "clone" and clone_git > 0 else ""
        print(f"| {name} | {t:.2f} s | {ratio} | {mib(g)}{git_ratio} | {mib(d)} | {mib(disk)} |")


if __name__ == "__main__":
    main()
