"""The stages `repro` would run and why, without running or hashing more than `repro` would
(`git datax status`, and `repro --dry`'s answer without the lock)."""
from __future__ import annotations

from dataclasses import dataclass

from gitdatax.errors import FatalError
from gitdatax.pipeline import dag
from gitdatax.pipeline.changes import Workspace, reasons
from gitdatax.pipeline.dvc_lock import dvc_records_it, read_dvc_lock
from gitdatax.pipeline.model import DVC_FILE
from gitdatax.pipeline.session import Session


@dataclass(frozen=True)
class StageStatus:
    name: str
    reasons: tuple[str, ...]  # empty: up to date
    frozen: bool = False
    from_dvc: bool = False  # up to date as dvc.lock records it; repro takes it over without running
    implicit: tuple[str, ...] = ()  # the implicit deps found in its Python code


def pipeline_status(session: Session) -> list[StageStatus]:
    graph = dag.build(session.pipeline)
    lock = session.read_lock()
    ws = Workspace(session.top, session.hasher)
    # A dvc.yaml project DVC ran: its stages are read from dvc.lock, as repro would
    dvc_stages = read_dvc_lock(session.top) if session.pipeline.path == DVC_FILE else {}
    result: list[StageStatus] = []
    changed: set[str] = set()
    for name in graph.order():
        stage = graph.stages[name]
        if stage.frozen:
            result.append(StageStatus(name, (), frozen=True))
            continue
        try:
            inputs = ws.inputs(stage, pending_ok=True)
        except FatalError as exc:  # a missing dep or param: status says it, repro refuses
            result.append(StageStatus(name, (str(exc).split(": ", 1)[-1],)))
            changed.add(name)
            continue
        upstream = [f"upstream '{up}' would run" for up in graph.upstream[name] if up in changed]
        if not upstream and dvc_records_it(session.top, session.pipeline, stage, name in lock,
                                           inputs.params, dvc_stages):
            result.append(StageStatus(name, (), from_dvc=True, implicit=tuple(inputs.implicit)))
            continue
        why = reasons(stage, lock.get(name), inputs, session.hasher) + upstream
        if why:
            changed.add(name)
        result.append(StageStatus(name, tuple(why), implicit=tuple(inputs.implicit)))
    session.hasher.cache.save()
    return result


def status_lines(session: Session, show_all: bool = False) -> list[str]:
    """The pipeline's part of `git datax status`: the stages repro would run and why; with
    `show_all`, every stage, and the implicit deps found in each one's Python code."""
    stages = pipeline_status(session)
    to_run = [s for s in stages if s.reasons]
    head = (f"pipeline ({session.pipeline.path}): {len(stages)} stage(s), "
            + (f"{len(to_run)} would run (`git datax repro`)" if to_run else "up to date"))
    lines = [head]
    for stage in stages:
        if stage.reasons:
            state = "; ".join(stage.reasons)
        elif not show_all:
            continue
        else:
            state = "frozen" if stage.frozen else "up to date as dvc.lock records it" if stage.from_dvc \
                else "up to date"
        implicit = f"  (implicit deps: {', '.join(stage.implicit)})" if show_all and stage.implicit else ""
        lines.append(f"  {stage.name}: {state}{implicit}")
    return lines
