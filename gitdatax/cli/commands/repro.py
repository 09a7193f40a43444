from __future__ import annotations

import argparse

HELP = "run the pipeline's stages whose code, data or params changed; skip or restore the rest"
DESCRIPTION = """Run the stages of datax.yaml (or dvc.yaml) in dependency order, as `dvc repro`.
A stage runs when it is new, its cmd, a dep's content, a param's value or an out differs from
datax.lock, or an out is missing; each line says why ("params train.lr 0.1 -> 0.2", "dep
prepare.py changed"). Touching a file changes nothing. A stage whose inputs were run before,
here or by a teammate whose commits you fetched, is restored from the run cache instead of run.
A stage whose outs come out identical does not make the stages after it run.

Each stage that ran or was restored is recorded in datax.lock at once; `git add` the lock and
the outs (stored as stubs) and commit. A failing command stops the run with its exit status and
leaves its stage's old outs and lock entry as they were.

Stages whose Python code (`python3 train.py`, `python -m pkg.train`) imports modules of the
repository depend on those files too (implicit deps; `implicit_deps: false` in a stage stops it)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", metavar="STAGE",
                        help="stages (or foreach/matrix groups) to bring up to date, with what they need")
    parser.add_argument("-f", "--force", action="store_true", help="run the stages even if nothing changed")
    parser.add_argument("-s", "--single-item", action="store_true", help="only the named stages, not their upstream")
    parser.add_argument("--downstream", action="store_true", help="the named stages and every stage after them")
    parser.add_argument("--dry", action="store_true", help="say what would run, run nothing")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="run up to N independent stages at once")
    parser.add_argument("-q", "--quiet", action="store_true", help="say nothing but errors (commands still print)")
    parser.add_argument("--no-run-cache", action="store_true", help="run instead of restoring from the run cache")


def run(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.errors import FatalError
    from gitdatax.pipeline.runner import Repro, ReproOptions, StageFailed
    from gitdatax.pipeline.session import Session

    if args.jobs < 1:
        raise FatalError(f"-j {args.jobs}: the number of jobs must be 1 or more")
    session = Session()
    options = ReproOptions(targets=args.targets, force=args.force, single=args.single_item, dry=args.dry,
                           jobs=args.jobs, quiet=args.quiet, downstream=args.downstream,
                           run_cache=not args.no_run_cache)

    def say(message: str) -> None:
        print(message, flush=True)

    try:
        with session.exclusive():
            outcome = Repro(session, options, say).run()
    except StageFailed as exc:
        output.error(str(exc))
        return exc.status or 1
    if outcome.changed_paths and not args.quiet:
        import shlex

        paths = " ".join(shlex.quote(p) for p in dict.fromkeys([session.pipeline.lock_path, *outcome.changed_paths]))
        print(f"To record this run: git add {paths} && git commit")
    elif not (outcome.ran or outcome.restored or outcome.would_run) and not args.quiet:
        print("Everything is up to date.")
    return 0
