from __future__ import annotations

import argparse

HELP = "add a stage to the pipeline (datax.yaml): stage add -n NAME [-d DEP] [-o OUT] ... COMMAND"
DESCRIPTION = """Write a stage into datax.yaml (dvc.yaml when the project has only that), as
`dvc stage add` does, and the .gitattributes lines its outs need so that `git commit` after
`git datax repro` records them as stubs. Nothing runs: `git datax repro` does.

The command is everything after the options; a single argument is taken as it is
('python3 train.py --lr 0.1' in quotes), several are joined with shell quoting.

  git datax stage add -n prepare -d prepare.py -d data/raw.csv -o data/clean.csv python3 prepare.py
  git datax stage add -n train -d train.py -d data/clean.csv -p train.lr,train.epochs \\
      -o models/model.bin -M metrics.json python3 train.py

Paths are relative to the stage's wdir (-w, default the top of the work tree). -p takes
KEY[,KEY...] of params.yaml, or FILE:KEY[,KEY...] of another YAML, JSON, TOML or Python file."""


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="stage_command", metavar="{add}")
    sub.required = True
    add = sub.add_parser("add", help="add (or with -f replace) a stage", description=DESCRIPTION,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("-n", "--name", required=True, help="the stage's name")
    add.add_argument("-d", "--deps", action="append", default=[], metavar="DEP", help="a file or folder it reads")
    add.add_argument("-o", "--outs", action="append", default=[], metavar="OUT",
                     help="a file or folder it writes, stored by gitdatax")
    add.add_argument("-O", "--outs-no-cache", action="append", default=[], metavar="OUT",
                     help="an out that stays plain Git")
    add.add_argument("-p", "--params", action="append", default=[], metavar="[FILE:]KEYS",
                     help="params it reads: KEY[,KEY...] of params.yaml, or FILE:KEY[,KEY...]")
    add.add_argument("-M", "--metrics-no-cache", dest="metrics", action="append", default=[], metavar="METRICS",
                     help="a metrics file it writes (plain Git)")
    add.add_argument("--plots", action="append", default=[], metavar="FILE", help="a plots file it writes")
    add.add_argument("-w", "--wdir", help="the folder the command runs in (default: the top)")
    add.add_argument("--always-changed", action="store_true", help="run it on every repro")
    add.add_argument("-f", "--force", action="store_true", help="replace a stage of that name")
    add.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command to run")


def run(args: argparse.Namespace) -> int:
    import shlex

    from gitdatax import git, output
    from gitdatax.pipeline.stage_add import StageRequest, add_stage

    words = list(args.command)
    if words[:1] == ["--"]:
        words = words[1:]
    cmd = words[0] if len(words) == 1 else shlex.join(words)
    top = git.toplevel()
    path, stage = add_stage(top, StageRequest(
        name=args.name, cmd=cmd, deps=args.deps, outs=args.outs, outs_no_cache=args.outs_no_cache,
        params=args.params, metrics=args.metrics, plots=args.plots, wdir=args.wdir,
        always_changed=args.always_changed, force=args.force))
    output.info(f"{'updated' if args.force else 'added'} stage '{stage.name}' in {path.name}; "
                "`git datax repro` runs it")
    return 0
