"""Does pygit2 beat a git process where issue 10 said it might? Prints a table and ratios.

    python3 benchmarks/pygit2_vs_git.py [--files 2000] [--revs 50] [--repeat 5]

The two places named: reading the index's entries (the pipeline's change checks, `status`,
the filter's racily-clean guess) and reading many small blobs across revisions (metrics files
at each of many commits). Each is timed as gitdatax would pay for it in a fresh process: for
pygit2 that includes `import pygit2` (the filter and hooks start on every git command), for git
the start of `git ls-files` or of one `git.CatFile`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

INDEX_GIT = "from gitdatax import git; e = git.index_entries(); assert len(e) >= {n}"
INDEX_PYGIT2 = ("import pygit2; r = pygit2.Repository('.'); e = [(x.path, str(x.id), x.mode) for x in r.index]; "
                "assert len(e) >= {n}")
BLOBS_GIT = ("from gitdatax import git\nrevs = open('revs').read().split()\n"
             "with git.CatFile() as c:\n    d = [x for _, _, x in c.contents(f'{{r}}:metrics.json' for r in revs)]\n"
             "assert len(d) == {n}")
BLOBS_PYGIT2 = ("import pygit2\nr = pygit2.Repository('.')\nrevs = open('revs').read().split()\n"
                "d = [r.revparse_single(f'{{x}}:metrics.json').data for x in revs]\nassert len(d) == {n}")


def sh(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def timed(code: str, cwd: Path, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--revs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        sh("git", "init", "-q", ".", cwd=repo)
        for i in range(args.files):
            (repo / f"f{i:05}.txt").write_text(f"file {i}\n")
        env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
        os.environ.update(env)
        revs = []
        for i in range(args.revs):
            (repo / "metrics.json").write_text('{"loss": %f, "pad": "%s"}\n' % (1 / (i + 1), "x" * 2000))
            sh("git", "add", "-A", cwd=repo)
            sh("git", "commit", "-qm", f"r{i}", cwd=repo)
            revs.append(subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                       text=True).stdout.strip())
        (repo / "revs").write_text("\n".join(revs))
        rows = [
            (f"index entries ({args.files} files)", timed(INDEX_GIT.format(n=args.files), repo, args.repeat),
             timed(INDEX_PYGIT2.format(n=args.files), repo, args.repeat)),
            (f"metrics.json at {args.revs} revisions", timed(BLOBS_GIT.format(n=args.revs), repo, args.repeat),
             timed(BLOBS_PYGIT2.format(n=args.revs), repo, args.repeat)),
            ("start-up alone", timed("import gitdatax.git", repo, args.repeat),
             timed("import pygit2", repo, args.repeat)),
        ]
    print(f"median of {args.repeat} fresh processes each")
    print(f"{'task':<36} {'git process s':>14} {'pygit2 s':>10} {'pygit2/git':>11}")
    for name, with_git, with_pygit2 in rows:
        print(f"{name:<36} {with_git:>14.3f} {with_pygit2:>10.3f} {with_pygit2 / with_git:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
