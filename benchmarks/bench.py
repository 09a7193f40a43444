"""gitdatax against Git LFS on the standard workload, in one run, on this machine.

    python3 benchmarks/bench.py [--work DIR] [--big-mib 128] [--n-small 2000] [--skip-2gib]

Runs the steps of shared/bench/peer_lfs.sh with each tool in a fresh HOME (both filters
installed globally there, so a clone smudges): add+commit v1 and v2, checkout of each version,
`git status` after checkout, push to a local bare repository, clone with data. Prints seconds per
step, the gitdatax/Git LFS ratio, the local store bytes of each, and the peak RSS of every
gitdatax process (a PATH shim runs each one under /usr/bin/time). Then times `git-datax clean` of
one 2 GiB stream and reports its peak RSS.

"git alone" runs the add, checkout and status steps with benchmarks/null_filter.py, a filter that hashes
and stores nothing: git's own share of each step, below which no filter-based tool can go.
"+zstd" runs the add steps with the same filter also compressing as gitdatax does (level 1, two
threads, output discarded): the floor of any tool whose store is compressed. "+cdc" also cuts
files over 4 MiB with FastCDC and hashes every chunk with SHA-256 (two threads), as chunked
objects need: the floor of a store of content-defined chunks.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {  # step -> the ratio DESIGN.md asks for (gitdatax / Git LFS)
    "add+commit v1": 0.5, "add+commit v2": 0.5, "checkout v1": 0.8, "checkout v2": 0.8,
    "status after checkout": 0.5, "push": 1.0, "clone with data": 0.8,
}


def sh(cmd: str, cwd: Path, env: dict[str, str]) -> float:
    # Each timed step starts with no dirty pages left by the step before: on a small VM the
    # write-back of one tool's output otherwise lands in the other tool's next step.
    os.sync()
    start = time.perf_counter()
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"step failed: {cmd} (in {cwd}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def make_env(home: Path, shim_dir: Path | None) -> dict[str, str]:
    # git's own variables would leak the caller's repository into the runs; gitdatax's own
    # (GIT_DATAX_CHUNKING=0: the whole-file store, for comparison) are meant for them
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k.startswith("GIT_DATAX_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b")
    if shim_dir is not None:
        env["PATH"] = f"{shim_dir}:{env['PATH']}"
    return env


def real_git_datax() -> str:
    """The git-datax script itself. A pyenv shim in front of it costs ~80 ms a start (bash and
    `pyenv exec`), more than the work of most hooks; `git datax install` bypasses it too."""
    found = shutil.which("git-datax")
    if found is None:
        raise SystemExit("git-datax is not on PATH: run ./install.sh first")
    if "/shims/" in found and shutil.which("pyenv"):
        direct = subprocess.run(["pyenv", "which", "git-datax"], capture_output=True, text=True).stdout.strip()
        if direct:
            return direct
    return found


def write_rss_shim(shim_dir: Path, log: Path) -> None:
    """`git-datax` on PATH that records each real run's peak RSS (KiB) in `log`."""
    real = real_git_datax()
    shim_dir.mkdir(parents=True, exist_ok=True)
    shim = shim_dir / "git-datax"
    shim.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o "{log}" -f "%M %C" "{real}" "$@"\n')
    shim.chmod(0o755)


def add_both_versions(repo: Path, data: Path, env: dict[str, str]) -> dict[str, float]:
    """The timed add+commit of v1, then of v2 (every file changed), as shared/bench/peer_lfs.sh."""
    times = {}
    sh(f"cp -r {data}/v1/. .", repo, env)
    times["add+commit v1"] = sh("git add -A && git commit -qm v1", repo, env)
    sh(f"rm -rf clips model.bin train.csv && cp -r {data}/v2/. .", repo, env)
    times["add+commit v2"] = sh("git add -A && git commit -qm v2", repo, env)
    return times


def settle(repo: Path, env: dict[str, str]) -> None:
    """Out of the clock: leave no "racily clean" file for the next step to re-clean.

    git stores file times in whole seconds here, so a file whose mtime is in the second the index
    was written could have changed unseen; git re-cleans such files (through the filter, the whole
    file) before it overwrites them. A step that ends within a second of writing its files leaves
    them so: a faster add+commit or checkout makes the next checkout pay for that. A pause alone
    changes nothing (the index keeps its time). A pause, then `git status`, does: it re-checks
    such files and, finding racy ones, writes the index anew (`git update-index --refresh`
    does not write an index it did not change)."""
    time.sleep(1.1)
    sh("git status --porcelain", repo, env)


def check_out_both_versions(repo: Path, env: dict[str, str], settled: bool = False) -> dict[str, float]:
    """The timed checkouts, as shared/bench/peer_lfs.sh; `settled`: each from a settled index."""
    times = {}
    for step, command in (("checkout v1", "git checkout -q HEAD~1"), ("checkout v2", "git checkout -q -")):
        if settled:
            settle(repo, env)
        times[step] = sh(command, repo, env)
    times["status after checkout"] = sh("git status", repo, env)
    return times


def run_tool(tool: str, data: Path, work: Path, env: dict[str, str], settled: bool = False,
             link: bool = False) -> tuple[dict[str, float], int]:
    work.mkdir(parents=True)
    sh("git init -q --bare -b main remote.git", work, env)
    repo = work / "repo"
    sh("git init -q -b main repo", work, env)
    if tool == "lfs":
        sh("git lfs install --local >/dev/null && git lfs track '*.bin' '*.csv' '*.wav'", repo, env)
    else:
        sh("git datax install --local && git datax track '*.bin' '*.csv' '*.wav'", repo, env)
    sh("git add .gitattributes && git commit -qm attrs && git remote add origin ../remote.git", repo, env)
    times = add_both_versions(repo, data, env)
    times.update(check_out_both_versions(repo, env, settled))
    if link and tool == "datax":  # the push hard-links, as Git LFS does to a local bare repository
        # configured only now: pre-commit uploads to a configured remote, which would move the
        # push's work into the add+commit steps (0.4-0.5 s of each on this workload)
        sh(f"git datax remote add --local --create -o link=true origin {work / 'remote.git' / 'datax'} >/dev/null", repo, env)
    times["push"] = sh("git push -q origin HEAD:refs/heads/main", repo, env)
    times["clone with data"] = sh("git clone -q remote.git clone", work, env)
    clone_dirty = subprocess.run("git status --porcelain", shell=True, cwd=work / "clone", env=env,
                                 capture_output=True, text=True).stdout
    if clone_dirty.strip():
        print(f"  warning: {tool} clone is not clean:\n{clone_dirty[:500]}", file=sys.stderr)
    if tool == "lfs":
        return times, du(repo / ".git" / "lfs" / "objects")
    # objects/ holds whole-file objects and the manifests of chunked ones, chunks/ their chunks:
    # counting objects/ alone (as this did until 2026-12-02) left out every chunked file's bytes
    store = repo / ".git" / "datax"
    return times, du(store / "objects") + du(store / "chunks")


def run_git_alone(data: Path, work: Path, env: dict[str, str], compress: bool = False,
                  chunk: bool = False) -> dict[str, float]:
    """The add, checkout and status steps with benchmarks/null_filter.py, which stores nothing: what git
    itself spends on them, the floor of any filter-based tool (no hooks, no store). With
    `compress`, the add steps only, the filter also compressing as gitdatax does: the floor of a
    tool whose store is compressed; with `chunk` as well, also cutting large files and hashing
    each chunk: the floor of a store of content-defined chunks."""
    work.mkdir(parents=True)
    repo = work / "repo"
    sh("git init -q -b main repo", work, env)
    (repo / ".gitattributes").write_text("".join(f"*.{ext} filter=datax -text\n" for ext in ("bin", "csv", "wav")))
    flag = (" --compress" if compress else "") + (" --chunk" if chunk else "")
    sh(f"git config filter.datax.process '{sys.executable} {HERE / 'null_filter.py'}{flag}' && "
       "git config filter.datax.required true && git add .gitattributes && git commit -qm attrs", repo, env)
    times = add_both_versions(repo, data, env)
    if not compress:
        # Its add+commit takes well under a second, so its index often shares a second with the
        # files' times, and git would re-clean every file before the first checkout (see
        # settle()). A floor measures the checkout itself: always from a settled index.
        times.update(check_out_both_versions(repo, env, settled=True))
    return times


def clean_2gib(work: Path, env: dict[str, str], log: Path) -> tuple[float, int]:
    repo = work / "big"
    sh("git init -q big", work, env)
    block = os.urandom(64 << 20)
    log.write_text("")
    start = time.perf_counter()
    proc = subprocess.Popen(["git-datax", "clean", "--", "big.bin"], cwd=repo, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    for _ in range(32):
        proc.stdin.write(block)
    proc.stdin.close()
    stub = proc.stdout.read() if proc.stdout else b""
    proc.wait()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or not stub.startswith(b"version gitdatax/1"):
        raise SystemExit("clean of the 2 GiB stream failed")
    peak = max((int(line.split()[0]) for line in log.read_text().splitlines() if line.strip()), default=0)
    return elapsed, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--big-mib", type=int, default=128)
    parser.add_argument("--n-small", type=int, default=2000)
    parser.add_argument("--skip-2gib", action="store_true")
    parser.add_argument("--only", choices=["datax", "lfs", "alone", "alone+zstd", "alone+zstd+cdc"],
                        help="run one tool only")
    parser.add_argument("--settle", action="store_true",
                        help="start every tool's checkouts from a settled index (pause, untimed refresh), as "
                             "the git-alone floor always does; without it, the tools run peer_lfs.sh's steps "
                             "back to back, and a tool whose previous step ended within a second of writing "
                             "its files pays git's re-clean of them in the checkout")
    parser.add_argument("--link", action="store_true",
                        help="push to a gitdatax remote with -o link=true: hard links, as Git LFS makes into a "
                             "local bare repository (gitdatax copies by default: a linked remote is no backup)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per tool, alternating tools; the median of each step is shown (default 3)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gitdatax-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    if not (data / "v2").is_dir():
        env = {**os.environ, "BIG_MIB": str(args.big_mib), "N_SMALL": str(args.n_small)}
        for v in (1, 2):
            subprocess.run([sys.executable, str(HERE / "gen_data.py"), str(data / f"v{v}"), str(v)], env=env, check=True)
    rss_log = work / "rss.log"
    rss_log.write_text("")
    tools = [t for t in ("datax", "lfs", "alone", "alone+zstd", "alone+zstd+cdc") if args.only in (None, t)]
    if "lfs" in tools and shutil.which("git-lfs") is None:
        print("git-lfs is not installed: gitdatax only", file=sys.stderr)
        tools.remove("lfs")
    runs: dict[str, list[tuple[dict[str, float], int]]] = {t: [] for t in tools}
    for round_ in range(args.repeat):
        for tool in tools:
            home = work / f"home-{tool}"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            env = make_env(home, work / "shim" if tool == "datax" else None)
            shutil.rmtree(work / tool, ignore_errors=True)
            if tool.startswith("alone"):
                runs[tool].append((run_git_alone(data, work / tool, env, compress=tool != "alone",
                                                         chunk=tool == "alone+zstd+cdc"), 0))
                print(f"  round {round_ + 1}/{args.repeat} git {tool}: " + ", ".join(
                    f"{k} {v:.2f}" for k, v in runs[tool][-1][0].items()), file=sys.stderr)
                continue
            if tool == "datax":
                write_rss_shim(work / "shim", rss_log)
                sh("git datax install --global >/dev/null", home, env)
            else:
                sh("git lfs install --skip-repo >/dev/null", home, env)
            runs[tool].append(run_tool(tool, data, work / tool, env, args.settle, args.link))
            print(f"  round {round_ + 1}/{args.repeat} {tool}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in runs[tool][-1][0].items()), file=sys.stderr)
    results = {tool: ({step: statistics.median(r[0][step] for r in rs) for step in rs[0][0]}, rs[-1][1])
               for tool, rs in runs.items() if rs}
    print(f"\nstandard workload: {args.big_mib} MiB model, {args.big_mib} MiB CSV, {args.n_small} x 32 KiB clips, "
          f"two versions; median of {args.repeat} alternating runs per tool"
          + ("; checkouts from a settled index" if args.settle else ""))
    header = (f"{'step':<24}{'gitdatax s':>12}{'Git LFS s':>12}{'ratio':>8}{'target':>8}{'':6}"
              f"{'git alone s':>12}{'its ratio':>10}{'+zstd s':>9}{'its ratio':>10}{'+cdc s':>9}{'its ratio':>10}")
    print(header)
    print("-" * len(header))
    datax = results.get("datax", ({}, 0))
    lfs = results.get("lfs", ({}, 0))
    alone = results.get("alone", ({}, 0))[0]
    alone_zstd = results.get("alone+zstd", ({}, 0))[0]
    alone_cdc = results.get("alone+zstd+cdc", ({}, 0))[0]
    for step, target in TARGETS.items():
        d = datax[0].get(step)
        l = lfs[0].get(step)
        ratio = f"{d / l:.2f}" if d is not None and l else "-"
        ok = "" if ratio == "-" else (" ok" if d / l <= target else " MISS")  # type: ignore[operator]
        a = alone.get(step)
        floor = f"{a:>12.2f}{(f'{a / l:.2f}' if l else '-'):>10}" if a is not None else " " * 22
        z = alone_zstd.get(step)
        floor += f"{z:>9.2f}{(f'{z / l:.2f}' if l else '-'):>10}" if z is not None else " " * 19
        c = alone_cdc.get(step)
        floor += f"{c:>9.2f}{(f'{c / l:.2f}' if l else '-'):>10}" if c is not None else ""
        print(f"{step:<24}{d if d is not None else float('nan'):>12.2f}{l if l is not None else float('nan'):>12.2f}"
              f"{ratio:>8}{'<=' + str(target):>8}{ok:<6}{floor}")
    if alone or alone_zstd or alone_cdc:
        print("git alone: the same step with a filter that only hashes and stores nothing "
              "(benchmarks/null_filter.py), the floor of any filter-based tool; +zstd: that filter also "
              "compresses as gitdatax does, the floor of a compressed store; +cdc: it also cuts files over "
              "4 MiB and hashes each chunk, the floor of a store of chunks named by SHA-256; ratios are to Git LFS")
    if datax[1] and lfs[1]:
        r = datax[1] / lfs[1]
        print(f"{'local store bytes':<24}{datax[1] / 2**20:>10.1f}Mi{lfs[1] / 2**20:>10.1f}Mi{r:>8.2f}{'<=0.75':>8}{' ok' if r <= 0.75 else ' MISS'}")
    rows = [line.split(None, 1) for line in rss_log.read_text().splitlines() if line.strip()]
    if rows:
        peak_kib, cmd = max(((int(k), c) for k, c in rows), key=lambda kv: kv[0])
        print(f"peak RSS of gitdatax processes: {peak_kib / 1024:.1f} MiB ({len(rows)} runs; max in: {cmd.strip()[:80]})")
    if not args.skip_2gib and "datax" in tools:
        env = make_env(work / "home-datax", work / "shim")
        elapsed, peak = clean_2gib(work, env, rss_log)
        print(f"clean of one 2 GiB stream: {elapsed:.2f} s, peak RSS {peak / 1024:.1f} MiB (target < 200 MiB)")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
