"""What a pipeline file declares, as frozen records (the parser is spec.py).

Every path is relative to the top of the work tree, POSIX-style, with the stage's `wdir`
already applied, so that callers never join paths themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATAX_FILE = "datax.yaml"
DVC_FILE = "dvc.yaml"
LOCK_FILE = "datax.lock"
DVC_LOCK_FILE = "dvc.lock"


@dataclass(frozen=True)
class Out:
    """An output. `cache=False` keeps it plain Git (DVC's meaning: not in the data store's care);
    gitdatax still keeps a copy in the store so the run cache can bring it back."""

    path: str
    cache: bool = True
    persist: bool = False
    push: bool = True
    remote: str | None = None
    desc: str | None = None


@dataclass(frozen=True)
class ParamRef:
    """Keys of one params file a stage depends on; `keys == ()` means the whole file."""

    file: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlotSpec:
    path: str
    x: str | None = None
    y: tuple[str, ...] = ()
    template: str | None = None
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    name: str | None = None  # a top-level plot's id when it is not the file's path


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str
    type: str | None = None
    desc: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str | tuple[str, ...]  # DVC allows a list of commands, run one after the other
    wdir: str = "."
    deps: tuple[str, ...] = ()
    outs: tuple[Out, ...] = ()
    params: tuple[ParamRef, ...] = ()
    metrics: tuple[Out, ...] = ()
    plots: tuple[PlotSpec, ...] = ()
    frozen: bool = False
    always_changed: bool = False
    desc: str | None = None
    implicit_deps: bool = True  # gitdatax: local Python modules the cmd's script imports
    plot_outs: tuple[Out, ...] = ()  # the stage's plots as outputs (cache flag and path)
    line: int = 0  # where the stage is declared in the pipeline file (1-based), for messages
    meta: Any = field(default=None, compare=False, hash=False)

    @property
    def commands(self) -> tuple[str, ...]:
        return (self.cmd,) if isinstance(self.cmd, str) else self.cmd

    @property
    def always_runs(self) -> bool:
        """DVC's "callback" stage: with neither deps (params count as deps) nor outs there is
        nothing to compare, so it runs every time. A stage with outs and no deps runs once,
        then again only when its cmd or an out changes (a download stage)."""
        return self.always_changed or not (self.deps or self.params or self.all_outs())

    @property
    def run_cacheable(self) -> bool:
        """DVC's rule for its run cache: inputs to key on, outs to bring back, and no `persist`
        out (restoring one would replace what the stage kept adding to with an older copy)."""
        return (not self.always_runs and bool(self.deps or self.params) and bool(self.all_outs())
                and not any(out.persist for out in self.all_outs()))

    def all_outs(self) -> tuple[Out, ...]:
        """Every file the stage writes: outs, metrics and plots."""
        return self.outs + self.metrics + self.plot_outs


@dataclass(frozen=True)
class Pipeline:
    path: str  # the pipeline file, relative to the top: datax.yaml or dvc.yaml
    stages: dict[str, Stage] = field(default_factory=dict, hash=False)
    metrics: tuple[str, ...] = ()  # top-level lists (DVC 3)
    params: tuple[str, ...] = ()
    plots: tuple[PlotSpec, ...] = ()
    artifacts: dict[str, Artifact] = field(default_factory=dict, hash=False)

    @property
    def lock_path(self) -> str:
        """gitdatax's lock; beside a dvc.yaml it is datax.lock too, so DVC's own dvc.lock (md5
        hashes gitdatax does not compute) stays DVC's."""
        return LOCK_FILE

    def metrics_files(self) -> tuple[str, ...]:
        """Top-level metrics, then each stage's, without repeats (DVC 3 shows both)."""
        found = list(self.metrics)
        for stage in self.stages.values():
            found += [out.path for out in stage.metrics]
        return _unique(found)

    def params_files(self) -> tuple[str, ...]:
        found = list(self.params)
        for stage in self.stages.values():
            found += [ref.file for ref in stage.params]
        return _unique(found)

    def __post_init__(self) -> None:
        # The contract names both a field `plots` (the top-level list) and a method `plots()`
        # (top-level and stage plots merged): the field holds a tuple that answers the call.
        top = PlotList(self.plots)
        top.merged = self.all_plots(top)
        object.__setattr__(self, "plots", top)

    def all_plots(self, top: tuple[PlotSpec, ...] | None = None) -> tuple[PlotSpec, ...]:
        """Top-level plots, then each stage's (DVC 3 shows both), without repeats."""
        merged = list(self.plots if top is None else top)
        for stage in self.stages.values():
            merged += stage.plots
        return tuple(dict.fromkeys(merged))


class PlotList(tuple):  # type: ignore[type-arg]
    """A pipeline's top-level plots; calling it gives every plot, stages' included."""

    merged: tuple[PlotSpec, ...] = ()

    def __call__(self) -> tuple[PlotSpec, ...]:
        return self.merged


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
