from __future__ import annotations

import argparse

HELP = "compare metrics across iterations: a table of every revision's (show), or what changed (diff)"
DESCRIPTION = """Metrics files are those datax.yaml (or dvc.yaml) names: a stage's `metrics` and the
top-level `metrics` list; dvclive/metrics.json (what gitdatax.log and DVCLive write) is read too.
JSON, YAML or TOML; nested keys are shown with dots (`train.loss`). Each revision is read as it
was, from Git or, for a file gitdatax stores, from the store (fetched from the default remote
when missing). The work tree is the revision `workspace`.

  git datax metrics show                 the work tree's metrics
  git datax metrics show -A              the work tree and every commit, newest first
  git datax metrics show v1 v2 --md      those revisions, as a Markdown table
  git datax metrics diff v1 v2 --json    what changed, as DVC prints it: {file: {key: {old, new, diff}}}

A cell shows `-` where a revision has no such file or key, and `!` where the file could not be
read or parsed there; a line on stderr says why. An unknown revision is an error (exit 1)."""


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_common_options, add_diff_options, add_format_options, positive

    sub = parser.add_subparsers(dest="action", metavar="{show,diff}")
    sub.required = True
    show = sub.add_parser("show", help="a table: one row per revision, one column per metric",
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="""One row per revision (named by its tag, else its branch, else its short
id; the work tree is `workspace`, first), one column per metric (`key`, or `file:key` where two
files have the key). With no revision: the work tree. -A adds every commit of every branch and
tag, newest first; -n N the N newest commits (of HEAD, or with -A of all).""")
    show.add_argument("revs", nargs="*", metavar="REV", help="revisions to show besides the work tree")
    show.add_argument("-a", "--all-branches", action="store_true", help="the tip of every branch, by its name")
    show.add_argument("-T", "--all-tags", action="store_true", help="every tag, by its name")
    show.add_argument("-A", "--all-commits", action="store_true", help="every commit (all branches and tags)")
    show.add_argument("-n", "--num", type=positive, metavar="N", help="only the N newest commits")
    add_format_options(show, csv=True)
    show.add_argument("--sort-by", metavar="METRIC", help="order rows by this metric (`key` or `file:key`)")
    show.add_argument("--sort-order", choices=("asc", "desc"), default="asc",
                      help="with --sort-by: ascending (default) or descending")
    show.add_argument("--only-changed", action="store_true",
                      help="only the columns whose value differs between the rows")
    add_common_options(show)
    diff = sub.add_parser("diff", help="what changed between two revisions (A: HEAD, B: the work tree)",
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="""The metrics that differ between A (default HEAD) and B (default the work
tree, `workspace`): Path, Metric, the two values and the change (B - A) for numbers. --json
prints DVC's form, {file: {key: {"old": a, "new": b, "diff": b - a}}} (a value absent on one
side is null). Nothing changed prints nothing and exits 0.""")
    add_diff_options(diff, "metrics")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.metrics import tables, views
    from gitdatax.metrics.collect import repo_targets

    top = git.toplevel()
    colour = tables.use_colour()
    targets = repo_targets(top, args.targets)
    if args.action == "show":
        view = views.metrics_show(top, args.revs, all_commits=args.all_commits, limit=args.num, fmt=args.fmt,
                                  all_branches=args.all_branches, all_tags=args.all_tags,
                                  targets=targets, only_changed=args.only_changed, sort_by=args.sort_by,
                                  descending=args.sort_order == "desc", precision=args.precision,
                                  colour=colour)
    else:
        view = views.values_diff(top, args.a, args.b, kind="metrics", fmt=args.fmt, targets=targets,
                                 everything=args.everything, precision=args.precision, colour=colour)
    from gitdatax.cli.common import print_view

    return print_view(view)
