from __future__ import annotations

import argparse

HELP = "show the pipeline's stages and how they connect (text, --dot or --mermaid)"
DESCRIPTION = """Print the stage graph of datax.yaml (or dvc.yaml), upstream first: for each stage
the stages it reads from, its deps (implicit ones, modules its Python code imports, marked so)
and its outs. --dot prints Graphviz (`git datax dag --dot | dot -Tsvg > dag.svg`), --mermaid a
Mermaid flowchart (GitHub and GitLab render it in Markdown)."""


def configure(parser: argparse.ArgumentParser) -> None:
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--dot", action="store_true", help="Graphviz dot")
    form.add_argument("--mermaid", action="store_true", help="a Mermaid flowchart")


def run(args: argparse.Namespace) -> int:
    from gitdatax.pipeline import dag
    from gitdatax.pipeline.changes import Workspace
    from gitdatax.pipeline.session import Session

    session = Session()
    graph = dag.build(session.pipeline)
    if args.dot:
        print(dag.render_dot(graph), end="")
    elif args.mermaid:
        print(dag.render_mermaid(graph), end="")
    else:
        ws = Workspace(session.top, session.hasher)
        implicit = {name: ws.implicit_deps(stage) for name, stage in graph.stages.items()}
        print(dag.render_text(graph, implicit), end="")
    return 0
