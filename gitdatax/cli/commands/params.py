from __future__ import annotations

import argparse

HELP = "what changed in the params between two revisions (A: HEAD, B: the work tree)"
DESCRIPTION = """Params files are those datax.yaml (or dvc.yaml) names (a stage's `params`, the
top-level `params` list), plus params.yaml and dvclive/params.yaml when present, as DVC reads
them. YAML, JSON, TOML or Python (read, never run); nested keys are shown with dots (`train.lr`).

  git datax params diff                  HEAD against the work tree
  git datax params diff v1 v2 --json     {file: {key: {"old": a, "new": b}}}, as DVC prints it

Nothing changed prints nothing and exits 0; an unknown revision is an error (exit 1)."""


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_diff_options

    sub = parser.add_subparsers(dest="action", metavar="{diff}")
    sub.required = True
    diff = sub.add_parser("diff", help="the params that differ between A (default HEAD) and B (default the "
                          "work tree)", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_diff_options(diff, "params")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.cli.common import print_view
    from gitdatax.metrics import tables, views
    from gitdatax.metrics.collect import repo_targets

    top = git.toplevel()
    view = views.values_diff(top, args.a, args.b, kind="params", fmt=args.fmt, targets=repo_targets(top, args.targets),
                             everything=args.everything, precision=args.precision, colour=tables.use_colour())
    return print_view(view)
