"""`git datax metrics show -A` against `dvc metrics show -A` on a generated history, in one run.

    python3 benchmarks/metrics_show.py [--work DIR] [--commits 200] [--runs 3] [--dvc dvc]

The history is shared/bench/pipeline_peer.py's: COMMITS commits, each rewriting three metrics
files (`{"wer": ..., "loss": ...}`) with the same seeded values for both tools. In gitdatax's
repository `eval.json` is stored by gitdatax (a stub in Git, its data in the store), as the issue
asks; DVC's repository keeps the three files in Git, as DVC's own metrics are. Both print JSON to
/dev/null. Prints the median seconds of RUNS runs each and the ratio, and checks that gitdatax
read every file at every commit.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

FILES = ("metrics.json", "eval.json", "more.json")


def sh(cmd: list[str], cwd: Path, env: dict[str, str], stdout: int | None = subprocess.DEVNULL) -> bytes:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-400:]}")
    return proc.stdout or b""


def values(commits: int) -> list[dict[str, str]]:
    rng = random.Random(1)
    return [{name: '{"wer": %f, "loss": %f}' % (rng.random(), rng.random()) for name in FILES}
            for _ in range(commits)]


def build(repo: Path, history: list[dict[str, str]], env: dict[str, str], *, tool: str) -> None:
    repo.mkdir(parents=True)
    sh(["git", "init", "-q"], repo, env)
    if tool == "dvc":
        sh([env["DVC"], "init", "-q"], repo, env)
        (repo / "dvc.yaml").write_text("metrics:\n" + "".join(f"  - {f}\n" for f in FILES))
    else:
        sh(["git", "datax", "install", "--local", "--skip-hooks"], repo, env)
        sh(["git", "datax", "track", "eval.json"], repo, env)
        (repo / "datax.yaml").write_text("metrics:\n" + "".join(f"  - {f}\n" for f in FILES))
    for i, files in enumerate(history):
        for name, text in files.items():
            (repo / name).write_text(text)
        sh(["git", "add", "-A"], repo, env)
        sh(["git", "commit", "-q", "--no-verify", "-m", f"c{i}"], repo, env)


def timed(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sh(cmd, cwd, env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="where to build the repositories (default: a temp dir); "
                        "repositories already built there by an earlier run are reused")
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dvc", default=shutil.which("dvc") or "dvc")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="datax-metrics-bench-"))
    env = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@b", GIT_COMMITTER_NAME="a",
               GIT_COMMITTER_EMAIL="a@b", DVC_NO_ANALYTICS="1", DVC=args.dvc)
    # Both tools run from compiled bytecode, as after a pip install: a session that sets
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    history = values(args.commits)
    print(f"building {args.commits} commits x {len(FILES)} metrics files in {work} ...", flush=True)
    have_dvc = shutil.which(args.dvc) is not None
    for tool in ("gitdatax", "dvc") if have_dvc else ("gitdatax",):
        if not (work / tool / ".git").is_dir():
            build(work / tool, history, env, tool=tool)

    shown = json.loads(sh(["git", "datax", "metrics", "show", "-A", "--json"], work / "gitdatax", env, stdout=None))
    read = sum(1 for rev in shown.values() for f in rev["data"].values() if "data" in f)
    expected = (args.commits + 1) * len(FILES)  # every commit and the work tree
    stub = sh(["git", "cat-file", "blob", "HEAD:eval.json"], work / "gitdatax", env, stdout=None)
    assert stub.startswith(b"version gitdatax/1\n"), "eval.json must be a gitdatax stub in Git"
    assert read == expected, f"gitdatax read {read} of {expected} files"

    sh([args.dvc, "metrics", "show", "-A", "--json"], work / "dvc", env) if have_dvc else None  # warm, as ours
    ours = timed(["git", "datax", "metrics", "show", "-A", "--json"], work / "gitdatax", env, args.runs)
    rows = [("git datax metrics show -A --json", ours)]
    if have_dvc:
        version = sh([args.dvc, "--version"], work / "dvc", env, stdout=None).decode().strip()
        theirs = timed([args.dvc, "metrics", "show", "-A", "--json"], work / "dvc", env, args.runs)
        rows.append((f"dvc {version} metrics show -A --json", theirs))
    print(f"\n{args.commits} commits x {len(FILES)} files (eval.json a gitdatax stub), median of {args.runs} runs")
    print(f"| {'command':<40} | seconds |")
    print(f"| {'-' * 40} | ------- |")
    for name, seconds in rows:
        print(f"| {name:<40} | {seconds:7.3f} |")
    if have_dvc:
        print(f"gitdatax / dvc = {ours / theirs:.2f} (DVC is {theirs / ours:.1f}x slower)")
    else:
        print(f"(no {args.dvc} on PATH: DVC not measured)")
    print(f"target: under 1 s and faster than DVC: {'met' if ours < 1 and (not have_dvc or ours < theirs) else 'NOT met'}")
    if not args.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
