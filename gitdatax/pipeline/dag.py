"""The stage graph: an edge A -> B where a dep of B is, is inside, or holds an out of A.

Built once per command; refuses cycles and two stages writing one out (or one inside another's),
each with one line naming the stages, before anything runs.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitdatax.errors import FatalError
from gitdatax.pipeline.model import Pipeline, Stage


def _ancestors(path: str) -> Iterable[str]:
    yield path
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


@dataclass
class Graph:
    stages: dict[str, Stage]
    upstream: dict[str, list[str]]  # stage -> the stages whose outs it reads, in pipeline order
    downstream: dict[str, list[str]]
    producer: dict[str, str]  # out path -> stage

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        """Every stage (or those named and what they need), upstream first, else pipeline order."""
        wanted = set(self.stages) if names is None else self.closure(names, self.upstream)
        return [name for name in self._topological() if name in wanted]

    def closure(self, names: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(edges[name])
        return seen

    def with_downstream(self, names: Iterable[str]) -> list[str]:
        wanted = self.closure(names, self.downstream)
        return [name for name in self._topological() if name in wanted]

    def _topological(self) -> list[str]:
        waiting = {name: len(ups) for name, ups in self.upstream.items()}
        ready = [name for name in self.stages if waiting[name] == 0]
        result: list[str] = []
        position = {name: i for i, name in enumerate(self.stages)}
        while ready:
            ready.sort(key=position.__getitem__)
            name = ready.pop(0)
            result.append(name)
            for down in self.downstream[name]:
                waiting[down] -= 1
                if waiting[down] == 0:
                    ready.append(down)
        return result

    def producer_of(self, dep: str) -> str | None:
        for candidate in _ancestors(dep):
            if candidate in self.producer:
                return self.producer[candidate]
        return None


def build(pipeline: Pipeline) -> Graph:
    producer: dict[str, str] = {}
    for stage in pipeline.stages.values():
        for out in stage.all_outs():
            other = producer.get(out.path)
            if other == stage.name:
                raise FatalError(f"{pipeline.path}: stage '{stage.name}' lists the out '{out.path}' twice")
            if other is not None:
                raise FatalError(f"{pipeline.path}: stages '{other}' and '{stage.name}' both write '{out.path}': "
                                 "an out has one stage")
            producer[out.path] = stage.name
    for path, name in producer.items():  # an out inside another stage's out folder
        for folder in list(_ancestors(path))[1:]:
            other = producer.get(folder)
            if other is not None and other != name:
                raise FatalError(f"{pipeline.path}: stages '{other}' and '{name}' both write '{folder}': "
                                 "an out has one stage")
    upstream: dict[str, list[str]] = {name: [] for name in pipeline.stages}
    downstream: dict[str, list[str]] = {name: [] for name in pipeline.stages}
    holding: dict[str, set[str]] = {}  # folder -> the stages with an out somewhere inside it
    for path, name in producer.items():
        for folder in list(_ancestors(path))[1:]:
            holding.setdefault(folder, set()).add(name)
    for stage in pipeline.stages.values():
        for dep in stage.deps:
            makers = {producer[a] for a in _ancestors(dep) if a in producer} | holding.get(dep, set())
            for maker in sorted(makers):
                if maker == stage.name:
                    raise FatalError(f"{pipeline.path}: stage '{stage.name}' depends on its own out '{dep}'")
                if maker not in upstream[stage.name]:
                    upstream[stage.name].append(maker)
                    downstream[maker].append(stage.name)
    graph = Graph(dict(pipeline.stages), upstream, downstream, producer)
    _refuse_cycles(graph, pipeline.path)
    return graph


def _refuse_cycles(graph: Graph, filename: str) -> None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for root in graph.stages:
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            name, index = stack.pop()
            if index == 0:
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    cycle = path[path.index(name):] + [name]
                    raise FatalError(f"{filename}: the stages form a cycle: {' -> '.join(cycle)}")
                state[name] = 1
                path.append(name)
            downs = graph.downstream[name]
            if index < len(downs):
                stack.append((name, index + 1))
                stack.append((downs[index], 0))
            else:
                state[name] = 2
                path.pop()


def render_text(graph: Graph, implicit: dict[str, list[str]] | None = None) -> str:
    """One block per stage, upstream first: what it reads from other stages, and its files."""
    lines = []
    for name in graph.order():
        stage = graph.stages[name]
        ups = graph.upstream[name]
        lines.append(f"{name}" + (f"  <- {', '.join(ups)}" if ups else ""))
        for dep in stage.deps:
            lines.append(f"    dep  {dep}")
        for dep in (implicit or {}).get(name, []):
            lines.append(f"    dep  {dep}  (implicit: imported by the stage's Python code)")
        for out in stage.all_outs():
            lines.append(f"    out  {out.path}" + ("" if out.cache else "  (plain Git)"))
    return "\n".join(lines) + ("\n" if lines else "")


def render_dot(graph: Graph) -> str:
    lines = ["digraph pipeline {", "  rankdir=TB;"]
    lines += [f'  "{name}";' for name in graph.order()]
    lines += [f'  "{up}" -> "{name}";' for name in graph.order() for up in graph.upstream[name]]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(graph: Graph) -> str:
    ids = {name: f"s{i}" for i, name in enumerate(graph.order())}
    lines = ["flowchart TD"]
    lines += [f'  {ids[name]}["{name}"]' for name in ids]
    lines += [f"  {ids[up]} --> {ids[name]}" for name in ids for up in graph.upstream[name]]
    return "\n".join(lines) + "\n"
