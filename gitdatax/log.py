"""Logging from training code, in DVCLive's files, so `git datax metrics show` and `plots diff`
compare iterations (and DVC and DVCLive read the same files):

    from gitdatax import log

    log.log_param("lr", 0.01)
    for epoch in range(epochs):
        ...
        log.log_metric("train/loss", loss)     # a row of dvclive/plots/metrics/train/loss.tsv
        log.log_metric("val/acc", acc)
        log.next_step()                        # dvclive/metrics.json: the latest of each, and step

Files (DVCLive's layout):
    dvclive/params.yaml                    every param logged, rewritten on each log_param
    dvclive/metrics.json                   {"step": N, "train": {"loss": ...}, ...}: the latest values
    dvclive/plots/metrics/<name>.tsv       `step<TAB><last part of name>` (and `timestamp` first
                                           with timestamp=True), one row per log_metric

As DVCLive does, a new logger starts a new run: the files above left by an earlier run are removed
(`Logger(resume=True)` continues from the step in metrics.json instead). The summary is written
on each next_step(), on end(), and when the program exits. Writes of the summary and the params
are atomic (a crash never leaves half a file); step logs are appended a row at a time.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Mapping

from gitdatax.files import write_atomically

DEFAULT_DIR = "dvclive"


class Logger:
    """DVCLive's `Live`, reduced to what gitdatax compares: params, metrics, steps."""

    def __init__(self, dir: str | os.PathLike[str] = DEFAULT_DIR, *, resume: bool = False) -> None:
        self.dir = Path(dir)
        self.metrics_file = self.dir / "metrics.json"
        self.params_file = self.dir / "params.yaml"
        self.plots_dir = self.dir / "plots" / "metrics"
        self.step = 0
        self.summary: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self._unsaved = False  # metrics logged since the summary was last written
        if resume:
            self._resume()
        else:
            self._clean()

    def _clean(self) -> None:
        for path in (self.metrics_file, self.params_file):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        shutil.rmtree(self.plots_dir, ignore_errors=True)

    def _resume(self) -> None:
        try:
            summary = json.loads(self.metrics_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            summary = {}
        if isinstance(summary, dict):
            self.summary = summary
            step = summary.get("step")
            self.step = step + 1 if isinstance(step, int) else 0
        try:
            import yaml

            params = yaml.safe_load(self.params_file.read_text(encoding="utf-8"))
            self.params = params if isinstance(params, dict) else {}
        except (FileNotFoundError, ImportError, ValueError):
            pass

    # -- params ----------------------------------------------------------------------------

    def log_param(self, name: str, value: Any) -> None:
        self.params[_name(name)] = _plain(value, f"param {name!r}")
        self._write_params()

    def log_params(self, params: Mapping[str, Any]) -> None:
        for name, value in params.items():
            self.params[_name(name)] = _plain(value, f"param {name!r}")
        self._write_params()

    def _write_params(self) -> None:
        import yaml  # lazy: only training code that logs params needs it

        write_text_atomic(self.params_file, yaml.safe_dump(self.params, sort_keys=False))

    # -- metrics ---------------------------------------------------------------------------

    def log_metric(self, name: str, value: Any, step: int | None = None, *, timestamp: bool = False) -> None:
        """One row of `plots/metrics/<name>.tsv` at this step (or `step`, which becomes the
        current step), and `name`'s latest value for the summary. `a/b` nests as DVCLive does."""
        name = _name(name)
        number = _number(value, name)
        if step is not None:
            if not isinstance(step, int) or isinstance(step, bool) or step < 0:
                raise ValueError(f"log_metric({name!r}): step must be a whole number >= 0, not {step!r}")
            self.step = step
        path = self.plots_dir / f"{name}.tsv"
        columns = (["timestamp"] if timestamp else []) + ["step", name.rsplit("/", 1)[-1]]
        row = ([str(int(time.time() * 1000))] if timestamp else []) + [str(self.step), repr(number)]
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with open(path, "a", encoding="utf-8", newline="") as f:
            if new:
                f.write("\t".join(columns) + "\n")
            f.write("\t".join(row) + "\n")
        node = self.summary
        *parents, leaf = name.split("/")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = number
        self._unsaved = True

    def next_step(self) -> None:
        """Write the summary (the latest values and this step), then move to the next step."""
        self.make_summary()
        self.step += 1

    def make_summary(self) -> None:
        summary = {**{k: v for k, v in self.summary.items() if k != "step"}, "step": self.step}
        write_text_atomic(self.metrics_file, json.dumps(summary, indent=4) + "\n")
        self._unsaved = False

    def end(self) -> None:
        """Write the summary if anything was logged since the last one (as DVCLive, a loop
        that ends with next_step() keeps the step of its last row)."""
        if self._unsaved:
            self.make_summary()


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip("/") or "\n" in name or "\t" in name or ".." in name.split("/"):
        raise ValueError(f"a metric or param name is a non-empty string without tabs, newlines or '..', "
                         f"not {name!r}")
    return name.strip("/")


def _number(value: Any, name: str) -> float | int:
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"log_metric({name!r}): a metric is a number, not {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        return value  # nan or inf is written as logged: a diverging run should show it
    return value


def _plain(value: Any, what: str) -> Any:
    """A value YAML can hold: numpy scalars become Python numbers, tuples lists."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict)):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, what) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, what) for k, v in value.items()}
    raise TypeError(f"{what}: {type(value).__name__} cannot be written to params.yaml")


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file beside `path`, then rename: readers see the old file or the
    new one, never half of one (also used for the HTML report of `plots diff`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)


# -- the module-level logger most training scripts use --------------------------------------

_default: Logger | None = None


def logger() -> Logger:
    """The logger the functions below write through, made on first use (in ./dvclive)."""
    global _default
    if _default is None:
        _default = Logger(os.environ.get("GITDATAX_LOG_DIR", DEFAULT_DIR))
        atexit.register(_default.end)
    return _default


def log_param(name: str, value: Any) -> None:
    logger().log_param(name, value)


def log_params(params: Mapping[str, Any]) -> None:
    logger().log_params(params)


def log_metric(name: str, value: Any, step: int | None = None, *, timestamp: bool = False) -> None:
    logger().log_metric(name, value, step, timestamp=timestamp)


def next_step() -> None:
    logger().next_step()


def end() -> None:
    logger().end()
