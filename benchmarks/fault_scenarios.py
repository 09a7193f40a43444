"""The commands the fault-injection run interrupts, each with the state it starts from (a
template folder, copied whole for every trial) and what must be true once it has been re-run.

A trial folder holds `work/` (the author's repository, whose `.datax.toml` names the directory
store `../team-store` as the default remote), `origin.git/` (the bare Git remote), `team-store/`,
and, for the clone-side commands, `c/` (a clone) or `m/` (a repository for migrate import).
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Callable, NamedTuple

from reliability_common import (TRACKED, check_store, check_work_tree, generate, lost_objects, run,
                                 truth_of)


class Truth(NamedTuple):
    v1: dict[str, tuple[str, int]]  # path -> (sha256, size)
    v2: dict[str, tuple[str, int]]

    def oids(self) -> set[str]:
        return {oid for version in (self.v1, self.v2) for oid, _ in version.values()}


def stub_blob(oid: str, size: int) -> str:
    """Git's blob id (SHA-1) of the stub of (oid, size), computed without gitdatax."""
    text = b"version gitdatax/1\noid sha256:%s\nsize %d\n" % (oid.encode(), size)
    return hashlib.sha1(b"blob %d\0" % len(text) + text).hexdigest()


class Outcome(NamedTuple):
    lost: int  # objects needed by a commit that no store holds intact
    corrupt_files: int  # work tree files whose bytes are neither the truth nor its stub
    stub_files: int  # work tree files left as stubs after the re-run
    corrupt_objects: int  # object files that do not hash to their name, in any store
    problems: list[str]  # anything else that is not as it must be (each a short line)


class Scenario(NamedTuple):
    name: str
    cwd: str  # folder of the trial root the command runs in
    argv: list[str]
    verify: Callable[[Path, dict[str, str], Truth], Outcome]
    extra_env: dict[str, str] = {}


def _tree_blobs(repo: Path, rev: str, env: dict[str, str]) -> dict[str, str]:
    out = run(["git", "ls-tree", "-r", "-z", rev], repo, env).stdout
    blobs = {}
    for record in out.split("\0"):
        if record:
            meta, _, path = record.partition("\t")
            blobs[path] = meta.split()[2]
    return blobs


def _index_blobs(repo: Path, env: dict[str, str]) -> dict[str, str]:
    out = run(["git", "ls-files", "-s", "-z"], repo, env).stdout
    return {rec.partition("\t")[2]: rec.split()[1] for rec in out.split("\0") if rec}


def _stub_mismatches(blobs: dict[str, str], version: dict[str, tuple[str, int]], where: str) -> list[str]:
    bad = [p for p, (oid, size) in version.items() if blobs.get(p) != stub_blob(oid, size)]
    return [f"{where}: {len(bad)} path(s) without the right stub (first: {bad[0]})"] if bad else []


def _fsck(repo: Path, env: dict[str, str], *args: str) -> list[str]:
    proc = run(["git", "datax", "fsck", *args], repo, env, check=False)
    if proc.returncode == 0:
        return []
    return [f"fsck {' '.join(args)} exited {proc.returncode}: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}"]


def _outcome(root: Path, repo: Path, env: dict[str, str], truth: Truth, version: dict[str, tuple[str, int]],
             problems: list[str], stores: list[Path], needed: set[str] | None = None) -> Outcome:
    """`needed`: the oids some commit references (default: both versions')."""
    tree = check_work_tree(repo, {p: oid for p, (oid, _) in version.items()})
    corrupt_objects = sum(len(check_store(s).corrupt) for s in stores)
    lost = lost_objects(truth.oids() if needed is None else needed, *stores)
    return Outcome(len(lost), len(tree.corrupt), tree.stubs, corrupt_objects, problems)


def _verify_add(root: Path, env: dict[str, str], truth: Truth) -> Outcome:
    work = root / "work"
    problems = _stub_mismatches(_index_blobs(work, env), truth.v1, "index") + _fsck(work, env)
    store = work / ".git" / "datax"
    v1 = {oid for oid, _ in truth.v1.values()}
    missing = v1 - check_store(store).intact
    problems += [f"{len(missing)} staged object(s) not in the local store"] if missing else []
    tree = check_work_tree(work, {p: oid for p, (oid, _) in truth.v1.items()})
    return Outcome(len(missing), len(tree.corrupt), tree.stubs, len(check_store(store).corrupt), problems)


def _verify_commit(root: Path, env: dict[str, str], truth: Truth) -> Outcome:
    work = root / "work"
    problems = _stub_mismatches(_tree_blobs(work, "HEAD", env), truth.v1, "HEAD") + _fsck(work, env)
    return _outcome(root, work, env, truth, truth.v1, problems, [work / ".git" / "datax", root / "team-store"],
                    {oid for oid, _ in truth.v1.values()})


def _verify_push(root: Path, env: dict[str, str], truth: Truth) -> Outcome:
    work = root / "work"
    head = run(["git", "rev-parse", "HEAD"], work, env).stdout.strip()
    remote = run(["git", "rev-parse", "main"], root / "origin.git", env, check=False).stdout.strip()
    problems = [] if remote == head else ["origin's main is not the pushed commit"]
    team = check_store(root / "team-store").intact
    absent = truth.oids() - team
    if remote == head and absent:  # the refs moved without their data: a clone would get stubs
        problems.append(f"the push landed without {len(absent)} object(s) in the team store")
    out = _outcome(root, work, env, truth, truth.v2, problems + _fsck(work, env, "--remote"),
                   [work / ".git" / "datax", root / "team-store"])
    return out._replace(lost=max(out.lost, len(absent) if remote == head else 0))


def _verify_clone_like(root: Path, env: dict[str, str], truth: Truth) -> Outcome:
    clone = root / "c"
    problems = _stub_mismatches(_tree_blobs(clone, "HEAD", env), truth.v2, "HEAD") + _fsck(clone, env)
    status = run(["git", "status", "--porcelain"], clone, env).stdout
    problems += ["git status is not clean: " + status.splitlines()[0]] if status.strip() else []
    return _outcome(root, clone, env, truth, truth.v2, problems, [clone / ".git" / "datax", root / "team-store"])


def _verify_gc(root: Path, env: dict[str, str], truth: Truth) -> Outcome:
    clone = root / "c"
    problems = _fsck(clone, env, "--remote", "--all")
    return _outcome(root, clone, env, truth, truth.v2, problems, [clone / ".git" / "datax", root / "team-store"])


def _verify_migrate(root: Path, env: dict[str, str], truth: Truth) -> Outcome:
    repo = root / "m"
    problems = (_stub_mismatches(_tree_blobs(repo, "HEAD", env), truth.v2, "HEAD")
                + _stub_mismatches(_tree_blobs(repo, "HEAD~1", env), truth.v1, "HEAD~1")
                + _fsck(repo, env, "--all"))
    return _outcome(root, repo, env, truth, truth.v2, problems, [repo / ".git" / "datax"])


SCENARIOS = [
    Scenario("git add", "work", ["git", "add", "-A"], _verify_add),
    Scenario("git commit", "work", ["git", "commit", "-qm", "v1"], _verify_commit),
    Scenario("git push", "work", ["git", "push", "-q", "origin", "main"], _verify_push),
    Scenario("git clone", ".", ["git", "clone", "-q", "origin.git", "c"], _verify_clone_like),
    Scenario("git datax pull", "c", ["git", "datax", "pull", "-q"], _verify_clone_like),
    Scenario("git datax gc", "c", ["git", "datax", "gc", "--keep-days", "0", "--grace", "0"], _verify_gc),
    Scenario("migrate import", "m", ["git", "datax", "migrate", "import", "--include", ",".join(TRACKED),
                                     "--everything"], _verify_migrate),
]


# -- building the templates --------------------------------------------------------------------


def _sized(folder: Path) -> dict[str, tuple[str, int]]:
    return {p: (oid, (folder / p).stat().st_size) for p, oid in truth_of(folder).items()}


def build_templates(work: Path, env: dict[str, str], big_mib: int, n_small: int) -> tuple[dict[str, Path], Truth]:
    """One template per scenario; each is the state its command starts from."""
    data = work / "data"
    for version in (1, 2):
        generate(data / f"v{version}", version, big_mib, n_small)
    truth = Truth(_sized(data / "v1"), _sized(data / "v2"))
    t = work / "templates"
    no_push = {"GIT_DATAX_SKIP_PUSH": "1"}

    base = t / "base"
    repo = base / "work"
    run(["git", "init", "-q", str(repo)], work, env)
    run(["git", "init", "-q", "--bare", str(base / "origin.git")], work, env)
    (base / "team-store").mkdir()
    run(["git", "datax", "install", "--local"], repo, env)
    run(["git", "datax", "track", *TRACKED], repo, env)
    (repo / ".datax.toml").write_text('[remote.team]\nurl = "../team-store"\ndefault = true\n')
    run(["git", "remote", "add", "origin", "../origin.git"], repo, env)
    run(["git", "add", ".gitattributes", ".datax.toml"], repo, env)
    run(["git", "commit", "-qm", "track"], repo, env)

    def derive(name: str, source: str, build: Callable[[Path], None]) -> None:
        shutil.copytree(t / source, t / name, symlinks=True)
        build(t / name)

    def put(root: Path, version: int) -> None:
        for item in (data / f"v{version}").iterdir():
            target = root / "work" / item.name
            if item.is_dir():
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(item, target)
            else:
                shutil.copy2(item, target)

    derive("git add", "base", lambda r: put(r, 1))
    derive("git commit", "git add", lambda r: run(["git", "add", "-A"], r / "work", env))

    def two_commits(r: Path) -> None:
        run(["git", "commit", "-qm", "v1"], r / "work", env, extra=no_push)
        put(r, 2)
        run(["git", "add", "-A"], r / "work", env)
        run(["git", "commit", "-qm", "v2"], r / "work", env, extra=no_push)

    derive("git push", "git commit", two_commits)
    derive("git clone", "git push", lambda r: run(["git", "push", "-q", "origin", "main"], r / "work", env))
    derive("git datax pull", "git clone", lambda r: run(["git", "clone", "-q", "origin.git", "c"], r, env,
                                                         extra={"GIT_DATAX_SKIP_SMUDGE": "1"}))

    def full_clone(r: Path) -> None:
        run(["git", "clone", "-q", "origin.git", "c"], r, env)
        run(["git", "datax", "fetch", "--all", "-q"], r / "c", env)

    derive("git datax gc", "git clone", full_clone)

    def raw_history(r: Path) -> None:
        repo = r / "m"
        run(["git", "init", "-q", str(repo)], r, env)
        for version in (1, 2):
            for item in (data / f"v{version}").iterdir():
                target = repo / item.name
                if item.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(item, target)
                else:
                    shutil.copy2(item, target)
            run(["git", "-c", "core.hooksPath=/dev/null", "add", "-A"], repo, env)
            run(["git", "-c", "core.hooksPath=/dev/null", "commit", "-qm", f"raw v{version}"], repo, env)

    (t / "empty").mkdir()
    derive("migrate import", "empty", raw_history)
    return {s.name: t / s.name for s in SCENARIOS}, truth
