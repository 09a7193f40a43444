from __future__ import annotations

import argparse

HELP = ("build a throwaway repository, commit two versions of data and a model, travel back to v1, run a "
        "pipeline, compare iterations")
DESCRIPTION = """Shows the main job end to end in a temporary repository: track *.csv and *.bin,
commit v1 of a data set and a model, commit v2, `git checkout v1`, and check that every byte of v1
came back (SHA-256), that Git holds only stubs, and that `git status` is clean.

Then a pipeline: prepare and train stages (`git datax stage add`), `git datax repro` runs both,
a param change re-runs only train, and going back to the old param brings the old model back
from the run cache without running anything (--no-pipeline skips this part).

Then a comparison: three runs of a training loop logged with gitdatax.log, committed and tagged
exp1..exp3; `metrics show`, `metrics diff`, `params diff` and `plots diff` (an HTML report, kept
with --keep or --dir) show which was best (--no-compare skips this part)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="build the repository here (default: a new temporary folder)")
    parser.add_argument("--size-mib", type=int, default=16, help="size of the model file (default 16)")
    parser.add_argument("--keep", action="store_true", help="keep the repository afterwards")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the pipeline part")
    parser.add_argument("--no-compare", action="store_true", help="skip the comparison part")


def run(args: argparse.Namespace) -> int:
    import hashlib
    import os
    import random
    import shutil
    import tempfile
    import time
    from pathlib import Path

    from gitdatax import git, output
    from gitdatax.errors import FatalError

    if shutil.which("git-datax") is None:
        raise FatalError("git-datax is not on PATH; run ./install.sh first")
    if args.size_mib < 1 or args.size_mib > 4096:
        raise FatalError("--size-mib must be between 1 and 4096")
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gitdatax-demo-"))
    repo = base / "repo"
    if repo.exists():
        raise FatalError(f"{repo} already exists; pick another --dir")
    repo.mkdir(parents=True)

    def sh(*cmd: str) -> str:
        return git.output(list(cmd), cwd=repo)

    def write_version(version: int) -> dict[str, str]:
        rnd = random.Random(version)
        (repo / "data").mkdir(exist_ok=True)
        (repo / "models").mkdir(exist_ok=True)
        with open(repo / "data/train.csv", "w") as f:
            f.write("id,speaker,duration,label\n")
            for i in range(60000 * version):
                f.write(f"{i},spk{rnd.randrange(300)},{rnd.random() * 12:.3f},{rnd.choice(['yes', 'no'])}\n")
        with open(repo / "models/asr.bin", "wb") as f:
            for _ in range(args.size_mib):
                f.write(rnd.randbytes(1 << 20))
        return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in ("data/train.csv", "models/asr.bin")}

    def step(message: str) -> None:
        output.info(f"==> {message}")

    start = time.monotonic()
    step(f"new repository in {repo}")
    sh("init", "-q", "-b", "main")
    sh("config", "user.name", "gitdatax demo")
    sh("config", "user.email", "demo@gitdatax.invalid")
    from gitdatax.cli.main import main as datax

    def datax_in_repo(*argv: str) -> None:
        here = os.getcwd()
        os.chdir(repo)
        try:
            if datax(list(argv)) != 0:
                raise FatalError(f"`git datax {' '.join(argv)}` failed in the demo repository")
        finally:
            os.chdir(here)

    datax_in_repo("install", "--local")
    datax_in_repo("track", "*.csv", "*.bin")
    step("commit v1 of data/train.csv and models/asr.bin")
    v1 = write_version(1)
    sh("add", "-A")
    sh("commit", "-q", "-m", "v1: first data and model")
    sh("tag", "v1")
    step("retrain: commit v2")
    v2 = write_version(2)
    sh("add", "-A")
    sh("commit", "-q", "-m", "v2: more data, new model")
    step("git cat-file -p HEAD:models/asr.bin  (what Git stores)")
    for line in sh("cat-file", "-p", "HEAD:models/asr.bin").splitlines():
        output.info(f"    {line}")
    step("git checkout v1")
    t0 = time.monotonic()
    sh("checkout", "-q", "v1")
    elapsed = time.monotonic() - t0
    ok = True
    for path, digest in v1.items():
        got = hashlib.sha256((repo / path).read_bytes()).hexdigest()
        same = got == digest
        ok &= same
        output.info(f"    {path}: {'v1 restored bit for bit' if same else 'WRONG CONTENT'} (sha256 {got[:16]}...)")
    status = sh("status", "--porcelain")
    output.info(f"    git status: {'clean' if not status else status}")
    ok &= not status and v1 != v2
    step(f"checkout took {elapsed:.2f}s")
    if ok and not args.no_pipeline:
        from gitdatax.pipeline.demo import run_pipeline_demo

        sh("checkout", "-q", "main")
        ok &= run_pipeline_demo(repo, datax_in_repo, sh, step, output.info)
    if ok and not args.no_compare:
        from gitdatax.metrics.demo import run_comparison_demo

        if sh("status", "--porcelain"):
            sh("add", "-A")
            sh("commit", "-q", "-m", "pipeline: back to lr 0.1")
        ok &= run_comparison_demo(repo, sh, step, output.info, base / "report.html")
    step(f"whole demo {time.monotonic() - start:.1f}s")
    if args.keep or args.dir:
        output.info(f"the repository is kept in {repo}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    if not ok:
        raise FatalError("the demo did not get v1 back intact")
    output.info("demo passed: v1's data and model came back exactly"
                + ("" if args.no_pipeline else "; repro ran only what changed and restored the rest")
                + ("" if args.no_compare else "; the comparison found the best run"))
    return 0
