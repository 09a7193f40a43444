"""What a second version of a large file costs, chunked (today) against whole-file objects (the
store before issue 15, GIT_DATAX_CHUNKING=0), in one run on this machine.

    python3 benchmarks/chunked_store.py [--work DIR] [--scale 1.0] [--repeat 3]

Two files, two versions each (issue 15's benchmark):
  model.bin  1 GiB of random bytes; v2 changes 1% of it in 16 places and inserts 100 bytes near
             the start (a fine-tuned model: most layers unchanged, one header field longer)
  train.csv  512 MiB of rows; v2 appends 1% more rows
For each store kind, in a fresh HOME with gitdatax installed and a bare origin whose
`<bare>/datax` is the remote: add+commit, push and clone of v1, then of v2, checkout of v1 and of
v2 again; bytes the local store and the remote store grew by for v2 (on a directory remote,
exactly what the push sent); the peak RSS of every git-datax process. Each timed step also
gives its CPU seconds (user + system of every process it ran): on this project's VMs the system
time of writing fresh pages moves by seconds between runs of one command, and CPU figures are
the steadier. `--repeat N` runs whole and chunked N times each, alternating, and shows medians.
Prints a table and the chunked/whole ratios. `--scale 0.25` runs the same at a quarter of the
sizes.
"""
from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import du, make_env, sh, write_rss_shim  # noqa: E402

BLOCK = 64 << 20


def write_model(path: Path, size: int, version: int) -> None:
    """v1: seeded random bytes; v2: 1% overwritten in 16 regions, 100 bytes inserted at 4096."""
    rng = random.Random(7)
    regions = sorted(rng.randrange(8192, size - size // 1600) for _ in range(16))
    edits = random.Random(8)
    with open(path, "wb") as out:
        for start in range(0, size, BLOCK):
            block = bytearray(random.Random(start).randbytes(min(BLOCK, size - start)))
            if version == 2:
                for offset in regions:
                    lo, hi = max(offset, start), min(offset + size // 1600, start + len(block))
                    if lo < hi:
                        block[lo - start:hi - start] = edits.randbytes(hi - lo)
                if start == 0:
                    block[4096:4096] = edits.randbytes(100)
            out.write(block)


def write_csv(path: Path, size: int, version: int) -> None:
    with open(path, "wb") as out:
        written = n = 0
        target = size if version == 1 else size + size // 100
        while written < target:
            rows = b"".join(b"%d,%d,%.5f,speaker%03d,clip_%07d.wav,%d\n"
                            % (i, i * 7919 % 10007, (i * 0.6180339) % 1, i % 241, i, i % 5)
                            for i in range(n, n + 20000))
            n += 20000
            if version == 1 and written + len(rows) > size:
                rows = rows[:rows.rfind(b"\n", 0, size - written) + 1] or rows
            out.write(rows)
            written += len(rows)
            if version == 1 and written >= size:
                break


def timed(result: dict[str, float], step: str, cmd: str, cwd: Path, env: dict[str, str]) -> None:
    """`cmd`'s seconds as `step s`, and its processes' CPU seconds as `step cpu s`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result[f"{step} s"] = sh(cmd, cwd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result[f"{step} cpu s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def run_kind(kind: str, data: Path, work: Path, name: str, pattern: str) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    rss_log = work / "rss.log"
    write_rss_shim(work / "shim", rss_log)
    env = make_env(home, work / "shim")
    if kind == "whole":
        env["GIT_DATAX_CHUNKING"] = "0"
    sh("git config --global init.defaultBranch main && git datax install --global >/dev/null", home, env)
    sh("git init -q --bare remote.git && git init -q repo", work, env)
    repo = work / "repo"
    sh(f"git datax track '{pattern}' >/dev/null && git add .gitattributes && git commit -qm attrs"
       " && git remote add origin ../remote.git", repo, env)
    store, remote_store = repo / ".git" / "datax", work / "remote.git" / "datax"
    result: dict[str, float] = {}
    for version in (1, 2):
        shutil.copyfile(data / f"v{version}" / name, repo / name)
        local0, remote0 = du(store), du(remote_store)
        timed(result, f"add+commit v{version}", f"git add -A && git commit -qm v{version}", repo, env)
        timed(result, f"push v{version}", "git push -q origin HEAD:refs/heads/main", repo, env)
        result[f"local store +v{version} MiB"] = (du(store) - local0) / 2**20
        result[f"remote store +v{version} MiB"] = (du(remote_store) - remote0) / 2**20
        clone = work / f"clone{version}"
        timed(result, f"clone v{version}", f"git clone -q remote.git {clone.name}", work, env)
        shutil.rmtree(clone)
    timed(result, "checkout v1", "git checkout -q HEAD~1", repo, env)
    timed(result, "checkout v2", "git checkout -q -", repo, env)
    rss = [int(line.split()[0]) for line in rss_log.read_text().splitlines() if line.split() and line.split()[0].isdigit()]
    result["peak RSS MiB"] = max(rss) / 1024 if rss else 0.0
    shutil.rmtree(work)  # a run holds several GiB: on tmpfs, the next one needs the memory
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="where to run (default: a temporary folder, removed)")
    parser.add_argument("--scale", type=float, default=1.0, help="sizes times this (default 1: 1 GiB and 512 MiB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind, alternating; medians shown (default 1)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="datax-chunked-"))
    model_size, csv_size = int((1 << 30) * args.scale), int((512 << 20) * args.scale)
    try:
        data = work / "data"
        for version in (1, 2):
            (data / f"v{version}").mkdir(parents=True, exist_ok=True)
            write_model(data / f"v{version}" / "model.bin", model_size, version)
            write_csv(data / f"v{version}" / "train.csv", csv_size, version)
        sizes = {name: (data / "v2" / name).stat().st_size for name in ("model.bin", "train.csv")}
        rows = []
        for name, pattern in (("model.bin", "*.bin"), ("train.csv", "*.csv")):
            sub = data / name
            for version in (1, 2):
                (sub / f"v{version}").mkdir(parents=True, exist_ok=True)
                shutil.move(str(data / f"v{version}" / name), sub / f"v{version}" / name)
            runs: dict[str, list[dict[str, float]]] = {"whole": [], "chunked": []}
            for round_ in range(args.repeat):
                for kind in runs:
                    runs[kind].append(run_kind(kind, sub, work / f"{name}-{kind}", name, pattern))
                    print(f"  {name} round {round_ + 1}/{args.repeat} {kind}: " + ", ".join(
                        f"{k} {v:.2f}" for k, v in runs[kind][-1].items() if k.endswith(" s")), file=sys.stderr)
            results = {kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for kind, rs in runs.items()}
            rows.append((name, sizes[name], results))
        print(f"scale {args.scale}: model.bin {sizes['model.bin'] / 2**20:.0f} MiB, train.csv "
              f"{sizes['train.csv'] / 2**20:.0f} MiB; median of {args.repeat} alternating runs of each kind")
        for name, size, results in rows:
            print(f"\n{name} ({size / 2**20:.0f} MiB)")
            print(f"{'':28} {'whole':>10} {'chunked':>10} {'ratio':>7}")
            for key in results["whole"]:
                whole, chunked = results["whole"][key], results["chunked"][key]
                ratio = f"{chunked / whole:.2f}" if whole else "-"
                print(f"{key:28} {whole:10.2f} {chunked:10.2f} {ratio:>7}")
            for key in ("local store +v2 MiB", "remote store +v2 MiB"):
                share = results["chunked"][key] * 2**20 / size
                print(f"{'chunked ' + key.split(' +')[0] + ' +v2, of size':28} {share:10.2%}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    subprocess.run(["git", "--version"], check=True, stdout=subprocess.DEVNULL)
    sys.exit(main())
