from __future__ import annotations

import argparse

HELP = "draw the plots of revisions into one HTML file that opens offline (show: the work tree; diff: compare)"
DESCRIPTION = """One self-contained HTML file (no script, nothing fetched: it opens offline and can be
mailed): for each plots file the step curves of every revision over one another (x: step, y: each
numeric column, or as datax.yaml's `x` and `y` say), the final metrics side by side, images
(confusion matrices, PNG/SVG outputs) next to each other, and the params that differ.

Plots files are those datax.yaml (or dvc.yaml) names (a stage's `plots`, the top-level `plots`
list; a folder stands for every TSV, CSV, JSON, YAML and image file under it) and
dvclive/plots/metrics, what gitdatax.log and DVCLive write.

  git datax plots show                    the work tree
  git datax plots diff                    HEAD against the work tree
  git datax plots diff v1 v2 v3 -o report.html --open"""


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="{show,diff}")
    sub.required = True
    show = sub.add_parser("show", help="the work tree's plots", description=DESCRIPTION,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(show)
    diff = sub.add_parser("diff", help="the plots of several revisions over one another (default: HEAD and "
                          "the work tree)", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    diff.add_argument("revs", nargs="*", metavar="REV",
                      help="revisions to compare (`workspace` is the work tree); default HEAD and the work tree")
    _common(diff)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", default="datax_plots/index.html", metavar="FILE.html",
                        help="where to write the report (default datax_plots/index.html, as DVC's dvc_plots/)")
    parser.add_argument("--open", action="store_true", help="open the report in the web browser")
    parser.add_argument("--targets", action="append", default=[], metavar="PATH",
                        help="only this plots file, or the files under this folder (repeatable)")


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from gitdatax import git, output
    from gitdatax.metrics import report, revisions

    top = git.toplevel()
    if args.action == "show":
        chosen = [revisions.Revision(revisions.WORKSPACE, None, revisions.WORKSPACE)]
    else:
        chosen = revisions.for_plots(top, args.revs)
    built = report.build(top, chosen, args.targets)
    out = Path(args.out).absolute()
    report.write(out, built.html)
    for note in built.notes:
        output.warn(note)
    shown = os.path.relpath(out) if not os.path.relpath(out).startswith("..") else str(out)
    if built.charts == 0:
        output.warn("no plots or metrics to draw at these revisions: name plots files in datax.yaml "
                    "(`plots: [plots/train.tsv]`) or log them with gitdatax.log")
    print(f"{shown}: {built.charts} chart(s) of {len(chosen)} revision(s)")
    if args.open:
        import webbrowser

        if not webbrowser.open(out.as_uri()):
            output.warn(f"no web browser to open {shown} with: open it by hand")
    return 0
