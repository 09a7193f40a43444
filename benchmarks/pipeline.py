"""gitdatax's `repro` against DVC's on the same generated pipeline, in one run.

    python3 benchmarks/pipeline.py [--work DIR] [--dvc PATH] [--stages 100] [--files 1000] [--skip-dvc]

The workload is shared/bench/pipeline_peer.py's: 100 stages, each depending on `stage.py` and
one of 10 folders of 1,000 files of 2 KiB (10,000 files), each writing one small output. Timed:
the first run (gitdatax with -j 1 and -j 2), a no-op repro (median of five), and a repro after
one file of one folder changed (10 stages re-run; their outputs come out the same). gitdatax's
own cost per stage is the first run minus the same 100 commands run by a plain loop.

DVC: `--dvc PATH`, else `dvc` on PATH, else it is pip-installed into its own virtual environment
(`~/.cache/gitdatax-bench/dvc-venv`, made once; PyPI must be reachable).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@b", GIT_COMMITTER_NAME="a",
           GIT_COMMITTER_EMAIL="a@b", DVC_NO_ANALYTICS="1", GIT_CONFIG_NOSYSTEM="1")
# Without byte-code files every start compiles the modules again (100 ms for gitdatax): a user's
# Python writes them, so both tools get them here too.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
CPU: dict[str, float] = {}  # command -> CPU seconds (user + sys) of its last run, children included
STAGE_PY = "import sys, os\nos.makedirs('out', exist_ok=True)\nopen(f'out/{sys.argv[1]}.txt', 'w').write(sys.argv[1])\n"


def sh(cmd: str, cwd: Path) -> float:
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    after = os.times()
    CPU[cmd] = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {cmd} (in {cwd}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def median_of(cmd: str, cwd: Path, n: int = 5) -> tuple[float, float]:
    """Median seconds of n runs, and the median CPU seconds (the machine may be shared: CPU
    time says what the tool itself costs when wall-clock time is inflated by others' load)."""
    walls, cpus = [], []
    for _ in range(n):
        walls.append(sh(cmd, cwd))
        cpus.append(CPU[cmd])
    return statistics.median(walls), statistics.median(cpus)


def make_project(root: Path, pipeline_file: str, stages: int, files: int) -> None:
    root.mkdir(parents=True)
    rng = random.Random(1)
    for part in range(10):
        folder = root / "data" / f"part{part}"
        folder.mkdir(parents=True)
        for i in range(files):
            (folder / f"f{i:04d}.bin").write_bytes(rng.randbytes(2048))
    (root / "stage.py").write_text(STAGE_PY)
    lines = ["stages:"]
    for i in range(stages):
        lines += [f"  s{i}:", f"    cmd: python3 stage.py {i}", f"    deps: [stage.py, data/part{i % 10}]",
                  f"    outs: [out/{i}.txt]"]
    (root / pipeline_file).write_text("\n".join(lines) + "\n")


def find_dvc(given: str | None) -> str:
    if given:
        return given
    on_path = shutil.which("dvc")
    if on_path:
        return on_path
    venv = Path.home() / ".cache" / "gitdatax-bench" / "dvc-venv"
    if not (venv / "bin" / "dvc").exists():
        print(f"installing dvc into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "dvc"], check=True)
    return str(venv / "bin" / "dvc")


def dvc_version(dvc: str) -> str:
    proc = subprocess.run([dvc, "--version"], capture_output=True, text=True, env=ENV)
    return proc.stdout.strip() or "?"


def bench_gitdatax(work: Path, stages: int, files: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for jobs in (1, 2):
        repo = work / f"datax-j{jobs}"
        make_project(repo, "datax.yaml", stages, files)
        sh("git init -q && git datax install --local && git add -A && git commit -qm data", repo)
        results[f"first run -j {jobs}"] = sh(f"git datax repro -q -j {jobs}", repo)
    repo = work / "datax-j1"
    sh("git add -A && git commit -qm run", repo)
    sh("git datax repro -q", repo)  # warm-up: byte-code written, caches settled
    results["no-op"], results["no-op cpu"] = median_of("git datax repro -q", repo)
    results["start-up"], results["start-up cpu"] = median_of("git datax --version", repo)
    (repo / "data/part0/f0000.bin").write_bytes(b"changed")
    results["one dep changed"] = sh("git datax repro -q", repo)
    loop = work / "loop"
    loop.mkdir()
    (loop / "stage.py").write_text(STAGE_PY)
    results["commands alone"] = sh(" && ".join(f"python3 stage.py {i}" for i in range(stages)), loop)
    return results


def bench_dvc(work: Path, dvc: str, stages: int, files: int) -> dict[str, float]:
    repo = work / "dvc"
    make_project(repo, "dvc.yaml", stages, files)
    sh(f"git init -q && {dvc} init -q && git add -A && git commit -qm data", repo)
    results = {"first run -j 1": sh(f"{dvc} repro -q", repo)}
    sh("git add -A && git commit -qm run", repo)
    sh(f"{dvc} repro -q", repo)
    results["no-op"], results["no-op cpu"] = median_of(f"{dvc} repro -q", repo)
    (repo / "data/part0/f0000.bin").write_bytes(b"changed")
    results["one dep changed"] = sh(f"{dvc} repro -q", repo)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed after)")
    parser.add_argument("--dvc", help="the dvc executable to compare with")
    parser.add_argument("--skip-dvc", action="store_true")
    parser.add_argument("--stages", type=int, default=100)
    parser.add_argument("--files", type=int, default=1000, help="files in each of the 10 data folders")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        ours = bench_gitdatax(work, args.stages, args.files)
        theirs: dict[str, float] = {}
        version = ""
        if not args.skip_dvc:
            dvc = find_dvc(args.dvc)
            version = dvc_version(dvc)
            theirs = bench_dvc(work, dvc, args.stages, args.files)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"pipeline of {args.stages} stages, deps hold {10 * args.files} files; DVC {version or 'skipped'}")
    print(f"{'step':<22} {'gitdatax s':>11} {'DVC s':>8} {'ratio':>7}")
    for step in ("first run -j 1", "first run -j 2", "no-op", "no-op cpu", "one dep changed"):
        mine, peer = ours[step], theirs.get(step)
        ratio = f"{mine / peer:.3f}" if peer else "-"
        print(f"{step:<22} {mine:>11.3f} {peer if peer is not None else float('nan'):>8.2f} {ratio:>7}")
    own = (ours["first run -j 1"] - ours["commands alone"]) / args.stages
    print(f"the {args.stages} commands alone: {ours['commands alone']:.2f} s; gitdatax's own cost per stage "
          f"beyond its command: {own * 1000:.1f} ms (-j 1)")
    if theirs:
        dvc_own = (theirs["first run -j 1"] - ours["commands alone"]) / args.stages
        print(f"DVC's own cost per stage: {dvc_own * 1000:.0f} ms")
    print(f"gitdatax's start-up alone (git datax --version, git included): {ours['start-up']:.3f} s, "
          f"{ours['start-up cpu']:.3f} s CPU; the no-op repro's own work: {ours['no-op'] - ours['start-up']:.3f} s")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"targets: no-op under 0.3 s ({'met' if ours['no-op'] < 0.3 else 'MISSED'})"
          + (f", under 1/5 of DVC's ({'met' if ours['no-op'] < theirs['no-op'] / 5 else 'MISSED'})" if theirs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
