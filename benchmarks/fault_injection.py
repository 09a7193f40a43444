"""Fault injection: kill -9, SIGINT and SIGTERM at random moments of git add, git commit, git push,
git clone, git datax pull, gc and migrate import on a scaled-down standard workload; each trial
re-runs the command, then checks every store (each object decompressed and re-hashed) and every
work tree file (SHA-256 against the workload) without trusting gitdatax's own report.

    PYTHONPATH=. python3 benchmarks/fault_injection.py [--trials 210] [--seed 11] [--work DIR]
                                                       [--big-mib 5] [--n-small 40] [--max-minutes 25] [--jobs 2]

The signal goes either to the command's whole process group (Ctrl-C in a terminal, a closed
terminal, a killed job) or only to gitdatax's processes (the filter or a hook dies while git
lives on). A trial whose command was still running 60 s after the signal counts as a hang, and
so does a re-run that takes over 120 s. Re-running is the only recovery allowed, with two
exceptions that are git's own and are counted apart: a `.git/index.lock` left by a git killed
with -9 (git says to remove it), and a clone folder left by a `git clone` killed with -9.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fault_scenarios import SCENARIOS, Scenario, build_templates  # noqa: E402
from reliability_common import copy_tree, make_env  # noqa: E402

SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)
HANG_AFTER_SIGNAL = 60.0
RERUN_TIMEOUT = 120.0


class Trial(NamedTuple):
    scenario: str
    sig: str
    target: str  # "group" or "gitdatax"
    delay: float
    landed: bool  # the command was still running when the signal was sent
    hung: bool
    recovery: str  # "re-run", "re-run after removing git's index.lock", ... or "FAILED: ..."
    lost: int
    corrupt_files: int
    stub_files: int
    corrupt_objects: int
    problems: list[str]


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process in session `sid` (the command was started with setsid)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) != sid:  # field 6 of stat: the session id
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                found.append((int(entry), f.read().replace(b"\0", b" ").decode(errors="replace")))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _kill_session(sid: int) -> None:
    for pid, _ in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def interrupt(scenario: Scenario, root: Path, env: dict[str, str], sig: signal.Signals, target: str,
              delay: float) -> tuple[bool, bool, int | None]:
    """Start the command, signal it after `delay` s; (landed, hung, its exit code)."""
    proc = subprocess.Popen(scenario.argv, cwd=root / scenario.cwd, env={**env, **scenario.extra_env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(delay)
    landed = proc.poll() is None
    if landed:
        if target == "group":
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                landed = False
        else:
            victims = [pid for pid, cmd in session_processes(proc.pid) if "git-datax" in cmd]
            for pid in victims:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            landed = bool(victims)
    try:
        proc.wait(HANG_AFTER_SIGNAL)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
    _kill_session(proc.pid)  # whatever is left of it (a hung filter, an orphaned helper)
    if hung:
        proc.wait()
    return landed, hung, None if hung else proc.returncode


def rerun(scenario: Scenario, root: Path, env: dict[str, str]) -> str:
    """Run the command again to completion; what it took."""
    cwd = root / scenario.cwd

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(scenario.argv, cwd=cwd, env={**env, **scenario.extra_env}, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=RERUN_TIMEOUT)

    try:
        proc = once()
        if proc.returncode == 0:
            return "re-run"
        steps = []
        for lock in (root / "work" / ".git" / "index.lock", root / "c" / ".git" / "index.lock",
                     root / "m" / ".git" / "index.lock"):
            if lock.exists():
                lock.unlink()
                steps.append("removing git's index.lock")
        if scenario.name == "git clone" and (root / "c").exists():
            shutil.rmtree(root / "c")
            steps.append("removing the clone folder git left")
        if steps:
            proc = once()
            if proc.returncode == 0:
                return "re-run after " + " and ".join(steps)
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return f"FAILED: {last[:160]}"
    except subprocess.TimeoutExpired:
        return "FAILED: the re-run hung"


def calibrate(templates: dict[str, Path], work: Path, env: dict[str, str]) -> dict[str, float]:
    """How long each command takes uninterrupted (the window the signals are drawn from)."""
    durations = {}
    for scenario in SCENARIOS:
        root = work / "calibrate" / scenario.name.replace(" ", "-")
        copy_tree(templates[scenario.name], root)
        start = time.perf_counter()
        proc = subprocess.run(scenario.argv, cwd=root / scenario.cwd, env={**env, **scenario.extra_env},
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        durations[scenario.name] = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{scenario.name} fails even uninterrupted: {proc.stderr[-1500:]}")
        shutil.rmtree(root)
    return durations


def run_trials(args: argparse.Namespace, work: Path) -> tuple[list[Trial], dict[str, float]]:
    env = make_env(work / "home")
    templates, truth = build_templates(work, env, args.big_mib, args.n_small)
    durations = calibrate(templates, work, env)
    rnd = random.Random(args.seed)
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    plan = [(s, sig, target) for s in chosen for sig in SIGNALS for target in ("group", "gitdatax")]
    draws = [(plan[n % len(plan)], rnd.uniform(0.0, 0.95)) for n in range(args.trials)]
    deadline = time.monotonic() + args.max_minutes * 60

    def one(n: int) -> Trial | None:
        if time.monotonic() > deadline:
            return None
        (scenario, sig, target), fraction = draws[n]
        root = work / "trials" / str(n)
        copy_tree(templates[scenario.name], root)
        delay = fraction * durations[scenario.name]
        landed, hung, code = interrupt(scenario, root, env, sig, target, delay)
        # A command that still succeeded (the signal came as it finished, or a hook's end was
        # cut after its work) is done: re-running a commit or a clone would only fail.
        recovery = "completed" if code == 0 else rerun(scenario, root, env)
        outcome = scenario.verify(root, env, truth)
        if outcome.problems or recovery.startswith("FAILED") or hung:
            print(f"trial {n} ({scenario.name}, {sig.name} to {target} at {delay:.2f}s): {recovery}; "
                  f"{'; '.join(outcome.problems)}", file=sys.stderr)
            if args.keep_failed:
                shutil.move(str(root), str(work / "kept" / str(n)))
        if root.exists():
            shutil.rmtree(root)
        return Trial(scenario.name, sig.name, target, delay, landed, hung, recovery, *outcome)

    (work / "kept").mkdir(exist_ok=True)
    # Trials are independent (each in its own folder): a second one runs while the first waits.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        trials = [t for t in pool.map(one, range(args.trials)) if t is not None]
    if len(trials) < args.trials:
        print(f"fault_injection: time budget spent after {len(trials)} trials", file=sys.stderr)
    return trials, durations


def table(trials: list[Trial], durations: dict[str, float]) -> str:
    rows = defaultdict(list)
    for t in trials:
        rows[t.scenario].append(t)
    lines = ["| command | trials (signal landed; completed anyway) | kill -9 / INT / TERM | objects lost | corrupt work tree files "
             "| files left as stubs | corrupt objects | hangs | needed more than re-running |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for scenario in SCENARIOS:
        group = rows.get(scenario.name, [])
        if not group:
            continue
        by_sig = "/".join(str(sum(t.sig == s.name for t in group)) for s in SIGNALS)
        more = [t.recovery for t in group if t.recovery not in ("re-run", "completed")]
        kinds = sorted({m for m in more})
        more_text = "; ".join(f"{sum(m == k for m in more)}: {k}" for k in kinds) or "0"
        lines.append(f"| {scenario.name} ({durations[scenario.name]:.2f} s) | {len(group)} "
                     f"({sum(t.landed for t in group)}; {sum(t.recovery == 'completed' for t in group)}) | {by_sig} | {sum(t.lost for t in group)} | "
                     f"{sum(t.corrupt_files for t in group)} | {sum(t.stub_files for t in group)} | "
                     f"{sum(t.corrupt_objects for t in group)} | {sum(t.hung for t in group)} | {more_text} |")
    total = len(trials)
    lines.append(f"| all | {total} ({sum(t.landed for t in trials)}; {sum(t.recovery == 'completed' for t in trials)}) | "
                 + "/".join(str(sum(t.sig == s.name for t in trials)) for s in SIGNALS)
                 + f" | {sum(t.lost for t in trials)} | {sum(t.corrupt_files for t in trials)} | "
                 f"{sum(t.stub_files for t in trials)} | {sum(t.corrupt_objects for t in trials)} | "
                 f"{sum(t.hung for t in trials)} | {sum(t.recovery not in ('re-run', 'completed') for t in trials)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=210)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--work", type=Path, help="a folder to work in (default: a new temporary one, removed)")
    parser.add_argument("--big-mib", type=int, default=5, help="size of the model and of the CSV (default 5)")
    parser.add_argument("--n-small", type=int, default=40, help="number of 32 KiB clips (default 40)")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="stop starting trials after this long")
    parser.add_argument("--keep-failed", action="store_true", help="keep the folders of failed trials")
    parser.add_argument("--jobs", type=int, default=2, help="trials run at once (default 2)")
    parser.add_argument("--only", action="append", metavar="COMMAND",
                        help="only this command's trials, e.g. 'migrate import' (repeatable)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="datax-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        trials, durations = run_trials(args, work)
    finally:
        if args.work is None and not args.keep_failed:
            shutil.rmtree(work, ignore_errors=True)
    print(f"fault injection: {len(trials)} trials in {time.monotonic() - start:.0f} s "
          f"(workload: 2 x {args.big_mib} MiB + {args.n_small} x 32 KiB, two versions; seed {args.seed})")
    print(table(trials, durations))
    failed = [t for t in trials if t.lost or t.corrupt_files or t.corrupt_objects or t.hung
              or t.recovery.startswith("FAILED") or t.problems]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
