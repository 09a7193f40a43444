"""`repro`: run, in dependency order, the stages whose inputs changed; skip or restore the rest.

For each stage in order (upstream first): frozen -> skipped; up to date -> skipped; else its
run-cache key is looked up (a hit restores the outs and updates the lock without running); else
its outs are moved aside, its commands run, the outs are stored and the lock and the run cache
get the stage's new entry. The lock is written after every stage, so stages that succeeded stay
recorded whatever happens next; a failure or Ctrl-C puts the failed stage's old outs back and
leaves its entries alone. Because deps are compared by content, a stage whose outs come out
identical does not make its downstream stages run (early cutoff). With `-j N` independent stages
run at once; decisions, hashing of outs and lock writes stay in the main thread.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING
from dataclasses import dataclass, field
from pathlib import Path

from gitdatax.errors import FatalError
from gitdatax.pipeline import dag, outputs
from gitdatax.pipeline.changes import Inputs, Workspace, reasons
from gitdatax.pipeline.execute import Running, run_commands
from gitdatax.pipeline.lock import LockEntry, LockWriter
from gitdatax.pipeline.dvc_lock import dvc_records_it, read_dvc_lock
from gitdatax.pipeline.model import DVC_FILE, Pipeline, Stage
from gitdatax.pipeline.params_file import is_missing, lookup
from gitdatax.pipeline.runcache import RunCache
from gitdatax.pipeline.session import Session


if TYPE_CHECKING:  # concurrent.futures costs 6 ms to import: only -j N and a stage to run need it
    from concurrent.futures import Future, ThreadPoolExecutor


class StageFailed(FatalError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ReproOptions:
    targets: list[str] = field(default_factory=list)
    force: bool = False
    single: bool = False  # -s: only the named stages, not what they depend on
    dry: bool = False
    jobs: int = 1
    quiet: bool = False
    downstream: bool = False
    run_cache: bool = True


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    would_run: list[str] = field(default_factory=list)
    changed_paths: list[str] = field(default_factory=list)


def select(graph: dag.Graph, targets: list[str], single: bool, downstream: bool) -> list[str]:
    """The stages to consider, in order. A target is a stage name or a foreach/matrix group."""
    if not targets:
        return graph.order()
    names: list[str] = []
    for target in targets:
        matched = [n for n in graph.stages if n == target or n.startswith(target + "@")]
        if not matched:
            raise FatalError(f"no stage named '{target}' (`git datax dag` lists them)")
        names += matched
    if single:
        return [name for name in graph.order() if name in set(names)]
    if downstream:
        return graph.with_downstream(names)
    return graph.order(names)


class Repro:
    def __init__(self, session: Session, options: ReproOptions, say: Callable[[str], None]) -> None:
        self.s = session
        self.o = options
        self.say = (lambda message: None) if options.quiet else say
        self.pipeline: Pipeline = session.pipeline
        self.graph = dag.build(self.pipeline)
        self.ws = Workspace(session.top, session.hasher)
        self.lock = session.read_lock()
        self.lock_writer = LockWriter(session.top, self.pipeline.lock_path)
        self.to_track: list[tuple[outputs.Out, bool]] = []  # .gitattributes lines, written at the end
        self.cache = RunCache(session.store_root)
        self.running = Running()
        self.outcome = Outcome()
        self._indexed = False
        self._pending: set[str] = set()  # stages a dry run would run
        self._dvc_lock: dict | None = None  # type: ignore[type-arg]

    # -- deciding ----------------------------------------------------------------------------
    def decide(self, stage: Stage) -> tuple[list[str], Inputs | None]:
        if stage.frozen:
            return [], None
        inputs = self.ws.inputs(stage, pending_ok=self.o.dry)
        why = reasons(stage, self.lock.get(stage.name), inputs, self.s.hasher)
        if self.o.dry:
            why += [f"upstream '{up}' would run" for up in self.graph.upstream[stage.name] if up in self._pending]
        if not why and self.o.force:
            why = ["forced (-f)"]
        return why, inputs

    def lookup(self, stage: Stage, key: str):  # type: ignore[no-untyped-def]
        if not self.o.run_cache or self.o.force or not stage.run_cacheable:
            return None
        record = self.cache.get(key)
        if record is None and not self._indexed:
            self._indexed = True  # once per repro: locks of commits that arrived by fetch/pull
            self.cache.index_history(self.s.top, self.pipeline.lock_path)
            record = self.cache.get(key)
        wanted = {out.path for out in stage.all_outs()}
        if record is None or set(record.outs) != wanted:
            return None
        return record

    # -- doing -------------------------------------------------------------------------------
    def record(self, stage: Stage, inputs: Inputs, outs: dict) -> None:  # type: ignore[type-arg]
        self.lock[stage.name] = LockEntry(cmd=stage.cmd, deps=dict(inputs.deps), params=inputs.params,
                                          outs=outs, implicit=frozenset(inputs.implicit), wdir=stage.wdir)
        ordered = {name: self.lock[name] for name in self.pipeline.stages if name in self.lock}
        self.lock_writer.write(ordered)
        self.lock = ordered
        self.outcome.changed_paths += [out.path for out in stage.all_outs()]
        self.to_track += [(out, outs[out.path].nfiles is not None) for out in stage.all_outs() if out.path in outs]

    def restore(self, stage: Stage, inputs: Inputs, why: list[str]) -> bool:
        record = self.lookup(stage, inputs.key(stage))
        if record is None:
            return False
        restorer = outputs.Restorer(self.s.top, self.s.store, quiet=self.o.quiet)
        if not restorer.restore(record.outs, record.commit):
            return False
        for path in record.outs:
            self.s.hasher.forget(path)
        self.record(stage, inputs, dict(record.outs))
        self.outcome.restored.append(stage.name)
        self.say(f"Restored stage '{stage.name}' from the run cache ({'; '.join(why)})")
        return True

    def start(self, stage: Stage, pool: ThreadPoolExecutor | None, why: list[str]) -> Future[tuple[int, str]] | tuple[int, str]:
        self.say(f"Running stage '{stage.name}' ({'; '.join(why)}):")
        prefix = self.o.jobs > 1
        if pool is None:
            return run_commands(stage, self.s.top, self.running, prefix, self.say)
        return pool.submit(run_commands, stage, self.s.top, self.running, prefix, self.say)

    def finish(self, stage: Stage, inputs: Inputs, result: tuple[int, str], moved: list) -> None:  # type: ignore[type-arg]
        status, command = result
        if status != 0:
            outputs.put_back(moved)
            if status == 130 and self.running.stopping:
                raise StageFailed(f"stage '{stage.name}' interrupted: datax.lock keeps the stages that "
                                  "finished", status)
            raise StageFailed(f"stage '{stage.name}' failed: `{command}` exited with status {status}", status)
        try:
            saved = outputs.save_outs(stage, self.s.store, self.s.hasher)
        except FatalError:
            outputs.put_back(moved)
            raise
        outputs.drop(moved)
        self.record(stage, inputs, saved)
        self.cache.put(inputs.key(stage), stage.name, saved)
        self.outcome.ran.append(stage.name)

    def dvc_ran_it(self, stage: Stage, inputs: Inputs) -> bool:
        """A dvc.yaml stage new to datax.lock that DVC ran with these very inputs and outs."""
        if self.o.force or self.pipeline.path != DVC_FILE:
            return False
        if self._dvc_lock is None:
            self._dvc_lock = read_dvc_lock(self.s.top)
        return dvc_records_it(self.s.top, self.pipeline, stage, stage.name in self.lock, inputs.params,
                              self._dvc_lock)

    def adopt_from_dvc(self, stage: Stage, inputs: Inputs) -> bool:
        if not self.dvc_ran_it(stage, inputs):
            return False
        states = outputs.save_outs(stage, self.s.store, self.s.hasher)  # in the store, as a run leaves them
        self.record(stage, inputs, states)
        self.cache.put(inputs.key(stage), stage.name, states)
        self.outcome.restored.append(stage.name)
        self.say(f"Stage '{stage.name}' is as dvc.lock records it: taken into datax.lock, not run")
        return True

    def remember_up_to_date(self, stage: Stage, inputs: Inputs) -> None:
        """An up-to-date stage whose key the run cache lacks (a checkout of an old commit) gets
        its entry: going back to these inputs later is then a restore, not a run."""
        entry = self.lock.get(stage.name)
        if entry is not None and entry.outs and self.cache.get(inputs.key(stage)) is None:
            self.cache.put(inputs.key(stage), stage.name, dict(entry.outs))

    def check_sources(self, names: list[str]) -> None:
        """Deps no stage makes must exist, and params be readable, before anything runs: a
        mistake found by the tenth stage would cost the nine before it."""
        for name in names:
            stage = self.graph.stages[name]
            if stage.frozen:
                continue
            for dep in stage.deps:
                if self.graph.producer_of(dep) is None and self.s.hasher.state(dep) is None:
                    raise FatalError(f"stage '{name}': dep '{dep}' does not exist")
            for ref in stage.params:
                values = self.ws.params_file(stage, ref.file)
                for key in ref.keys:
                    if is_missing(lookup(values, key)):
                        raise FatalError(f"stage '{name}': param '{key}' is not in {ref.file}")

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> Outcome:
        names = select(self.graph, self.o.targets, self.o.single, self.o.downstream)
        selected = set(names)
        self.check_sources(names)
        scratch = Path(tempfile.mkdtemp(prefix="repro-", dir=self.s.scratch_root()))
        pool = None
        if self.o.jobs > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=self.o.jobs)
        running: dict[Future[tuple[int, str]], tuple[Stage, Inputs, list]] = {}  # type: ignore[type-arg]
        done: set[str] = set()
        failure: StageFailed | None = None
        todo = list(names)
        try:
            while todo or running:
                started = False
                for name in list(todo):
                    if failure is not None or len(running) >= self.o.jobs:
                        break
                    ups = [u for u in self.graph.upstream[name] if u in selected]
                    if any(u not in done for u in ups):
                        continue
                    todo.remove(name)
                    started = True
                    job = self.step(self.graph.stages[name], pool, scratch / name.replace("/", "_"))
                    if job is None:
                        done.add(name)
                    else:
                        running[job[0]] = job[1]
                if failure is not None and not running:
                    break
                if not running:
                    if todo and not started:
                        break  # nothing can start: only after a failure
                    continue
                from concurrent.futures import FIRST_COMPLETED, wait

                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    stage, inputs, moved = running.pop(future)
                    try:
                        self.finish(stage, inputs, future.result(), moved)
                        done.add(stage.name)
                    except StageFailed as exc:
                        failure = failure or exc  # the others under way finish; none starts
                    except FatalError as exc:
                        failure = failure or StageFailed(str(exc), 1)
            if failure is not None:
                raise failure
        except KeyboardInterrupt:
            self.running.stop_all()
            for future, (stage, _inputs, moved) in running.items():
                future.cancel()
                outputs.put_back(moved)
            raise StageFailed("interrupted: datax.lock keeps the stages that finished", 130) from None
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            self.s.hasher.cache.save()
            if self.to_track and outputs.track_outs(self.s.top, self.to_track):
                self.outcome.changed_paths.append(".gitattributes")
            _remove_empty(scratch)
        return self.outcome

    def step(self, stage: Stage, pool: ThreadPoolExecutor | None, scratch: Path):  # type: ignore[no-untyped-def]
        """Decide and, for a stage that must run, start it. None when it is settled already."""
        why, inputs = self.decide(stage)
        if inputs is None:
            self.say(f"Stage '{stage.name}' is frozen, skipping")
            self.outcome.skipped.append(stage.name)
            return None
        if not why:
            self.say(f"Stage '{stage.name}' didn't change, skipping")
            self.outcome.skipped.append(stage.name)
            self.remember_up_to_date(stage, inputs)
            return None
        if self.o.dry:
            if self.dvc_ran_it(stage, inputs):
                self.say(f"Stage '{stage.name}' is as dvc.lock records it: would be taken into datax.lock, not run")
                return None
            self.say(f"Would run stage '{stage.name}' ({'; '.join(why)})")
            self.outcome.would_run.append(stage.name)
            self._pending.add(stage.name)
            return None
        if self.adopt_from_dvc(stage, inputs):
            return None
        if self.restore(stage, inputs, why):
            return None
        moved = outputs.move_aside(stage, self.s.top, scratch)
        try:
            result = self.start(stage, pool, why)
        except BaseException:
            outputs.put_back(moved)
            raise
        if isinstance(result, tuple):
            self.finish(stage, inputs, result, moved)
            return None
        return result, (stage, inputs, moved)


def _remove_empty(scratch: Path) -> None:
    """The folders outs waited in; one that is not empty holds outs a crash left (kept)."""
    for folder in [*scratch.iterdir(), scratch] if scratch.exists() else []:
        try:
            folder.rmdir()
        except OSError:
            pass
