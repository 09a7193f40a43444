from __future__ import annotations

import argparse

HELP = "a model registry in Git tags (GTO's format): register versions, assign stages, show them"
DESCRIPTION = """Versions and stages of models are annotated Git tags in GTO's format, so GTO (`gto
show`) and DVC Studio's model registry list them as their own:
  git datax model register asr 1.2.0 [REV]   tag REV (default HEAD) asr@v1.2.0 (SemVer)
  git datax model assign asr prod [--version 1.2.0]
                                             tag that version's commit asr#prod#N (N counts
                                             the model's stage tags; default: the greatest version)
  git datax model show [asr] [--json]        versions and the version each stage points at
Tags stay local until pushed (--push pushes the new tag to origin). `git datax get REPO --rev
asr#prod` and `gitdatax.api.open(..., rev="asr@latest")` then find the model; its path comes
from `artifacts:` in datax.yaml (as in DVC 3's dvc.yaml):
  artifacts:
    asr: {path: models/asr.bin, type: model}"""


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="{register,assign,show}")
    sub.required = True
    reg = sub.add_parser("register", help="register a version of a model at a commit",
                         description="Write the annotated tag NAME@vVERSION on REV (default HEAD).")
    reg.add_argument("name", metavar="NAME")
    reg.add_argument("version", metavar="VERSION", help="SemVer: 1.2.0 or v1.2.0")
    reg.add_argument("rev", metavar="REV", nargs="?", default="HEAD")
    reg.add_argument("--push", action="store_true", help="push the tag to origin")
    assign = sub.add_parser("assign", help="assign a stage to a version of a model",
                            description="Write the annotated tag NAME#STAGE#N on the version's commit.")
    assign.add_argument("name", metavar="NAME")
    assign.add_argument("stage", metavar="STAGE")
    assign.add_argument("--version", metavar="VERSION", help="the version (default: the greatest registered)")
    assign.add_argument("--push", action="store_true", help="push the tag to origin")
    show = sub.add_parser("show", help="list models, versions and stages",
                          description="One line per model (latest version, stages), or per version of NAME.")
    show.add_argument("name", metavar="NAME", nargs="?")
    show.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git, output
    from gitdatax.share import models

    top = git.toplevel()
    if args.action == "register":
        tag = models.register(args.name, args.version, args.rev, top)
        output.info(f"created tag {tag} (registers {args.name} {tag.rsplit('@', 1)[1]})")
        _push(args, tag, top)
    elif args.action == "assign":
        tag, version = models.assign(args.name, args.stage, args.version, top)
        output.info(f"created tag {tag} (assigns {args.stage} to {args.name} {version})")
        _push(args, tag, top)
    else:
        _show(models.show_rows(top, args.name), args.name, args.json)
    return 0


def _push(args: argparse.Namespace, tag: str, top: object) -> None:
    from gitdatax import output
    from gitdatax.share.models import push_tag

    if args.push:
        push_tag(tag, top)  # type: ignore[arg-type]
        output.info(f"pushed {tag} to origin")
    else:
        output.info(f"share it with `git push origin {tag}`")


def _show(rows: list[dict], name: str | None, as_json: bool) -> None:  # type: ignore[type-arg]
    import json

    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if name is None:
        for row in rows:
            stages = ", ".join(f"{s}={v}" for s, v in sorted(row["stages"].items())) or "-"
            print(f"{row['name']}\t{row['latest']}\t{stages}")
        return
    for version in rows[0]["versions"]:
        stages = ", ".join(version["stages"]) or "-"
        print(f"{version['version']}\t{version['commit'][:12]}\t{stages}")
