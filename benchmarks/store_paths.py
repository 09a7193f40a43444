"""Two store paths of gitdatax, A against B (two source trees), alternating rounds so that a busy
machine slows both alike; prints the median seconds of each and the ratio B/A.

    python3 benchmarks/store_paths.py checkout A_DIR B_DIR [--mib 128] [--repeat 3]
    python3 benchmarks/store_paths.py push A_DIR B_DIR [--mib 128] [--n-small 2000] [--repeat 3]

checkout: a MIB random-bytes model (weights: incompressible) stored whole (GIT_DATAX_CHUNKING=0)
and chunked; each round deletes it and times `git checkout -- model.bin` (git, the filter
process, the check before the first byte) and `git datax smudge` of its stub to /dev/null.
push: N_SMALL clips of 32 KiB and a MIB model, committed once; each round empties a directory
remote on the same file system and times `git datax push` to it.

A_DIR and B_DIR are source trees (clones) of gitdatax; each run puts one first on PYTHONPATH.
The same tree twice measures the noise. Work happens under --work (default: /dev/shm).
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


def run(cmd: str, cwd: Path, env: dict[str, str], stdin: Path | None = None) -> float:
    os.sync()
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as inp:
        proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, stdin=inp, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed in {cwd}: {proc.stderr.decode(errors='replace')[-1500:]}")
    return elapsed


def make_env(tree: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), PYTHONPATH=str(tree), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="b",
               GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b", **extra)
    return env


def write_random(path: Path, size: int, seed: int) -> None:
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(rnd.randbytes(1 << 20))


def new_repo(tree: Path, work: Path, **extra: str) -> tuple[Path, dict[str, str]]:
    home = work / "home"
    home.mkdir(parents=True)
    env = make_env(tree, home, **extra)
    repo = work / "repo"
    run(f"git init -q {repo}", work, env)
    run("git-datax install --global >/dev/null && git-datax track '*.bin' '*.wav' >/dev/null", repo, env)
    return repo, env


def setup_checkout(tree: Path, work: Path, model: Path, chunking: str) -> tuple[Path, dict[str, str]]:
    repo, env = new_repo(tree, work, GIT_DATAX_CHUNKING=chunking)
    shutil.copyfile(model, repo / "model.bin")
    run("git add -A && git commit -qm v1 --no-verify", repo, env)
    run("git show HEAD:model.bin > ../stub", repo, env)
    return repo, env


def round_checkout(repo: Path, env: dict[str, str]) -> dict[str, float]:
    os.unlink(repo / "model.bin")
    times = {"checkout": run("git checkout -q -- model.bin", repo, env)}
    times["smudge"] = run("git-datax smudge model.bin > /dev/null", repo, env, stdin=repo.parent / "stub")
    return times


def setup_push(tree: Path, work: Path, data: Path) -> tuple[Path, dict[str, str]]:
    repo, env = new_repo(tree, work)
    shutil.copytree(data, repo, dirs_exist_ok=True)
    run("git add -A && git commit -qm v1 --no-verify", repo, env)
    (work / "nas").mkdir()
    run(f"git-datax remote add -d nas {work / 'nas'} >/dev/null", repo, env)
    return repo, env


def round_push(repo: Path, env: dict[str, str]) -> dict[str, float]:
    nas = repo.parent / "nas"
    shutil.rmtree(nas)
    nas.mkdir()
    return {"push": run("git-datax push -q", repo, env)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("checkout", "push"))
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--mib", type=int, default=128)
    parser.add_argument("--n-small", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/dev/shm") if os.path.isdir("/dev/shm") else None)
    args = parser.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    with tempfile.TemporaryDirectory(dir=args.work, prefix="store-paths.") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        write_random(data / "model.bin", args.mib << 20, 1)
        setups: dict[str, tuple[Path, dict[str, str]]] = {}
        if args.mode == "checkout":
            for name, tree in trees.items():
                for kind, chunking in (("whole", "0"), ("chunked", "1")):
                    setups[f"{name} {kind}"] = setup_checkout(tree, root / f"{name}-{kind}", data / "model.bin", chunking)
            one_round = round_checkout
        else:
            rnd = random.Random(2)
            (data / "clips").mkdir()
            for i in range(args.n_small):
                (data / "clips" / f"clip{i:05d}.wav").write_bytes(rnd.randbytes(32 << 10))
            for name, tree in trees.items():
                setups[name] = setup_push(tree, root / name, data)
            one_round = round_push
        results: dict[str, dict[str, list[float]]] = {key: {} for key in setups}
        loads = []
        for _ in range(args.repeat):
            for key, (repo, env) in setups.items():
                for step, seconds in one_round(repo, env).items():
                    results[key].setdefault(step, []).append(seconds)
            loads.append(os.getloadavg()[0])
        for key, steps in results.items():
            for step, values in steps.items():
                print(f"{key:12} {step:9} median {statistics.median(values):6.3f} s  "
                      f"({' '.join(f'{v:.3f}' for v in values)})")
        if args.mode == "checkout":
            for name in trees:
                for step in ("checkout", "smudge"):
                    whole = statistics.median(results[f"{name} whole"][step])
                    chunked = statistics.median(results[f"{name} chunked"][step])
                    print(f"{name} {step}: chunked/whole {chunked / whole:.2f}")
        for step in next(iter(results.values())):
            keys = [k for k in results if k.startswith("B")]
            for key in keys:
                a = statistics.median(results["A" + key[1:]][step])
                b = statistics.median(results[key][step])
                print(f"{key[1:].strip() or 'all':8} {step}: B/A {b / a:.2f}")
        print(f"load average (1 min) after each round: {' '.join(f'{x:.2f}' for x in loads)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
