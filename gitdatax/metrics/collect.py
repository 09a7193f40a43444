"""The metrics and params of each revision, as its own `datax.yaml` names them.

Each revision is read as it was: its pipeline file (datax.yaml, else dvc.yaml) says which
metrics, params and plots files it had, and those are read at that revision. What fails stays in
its place (a file's error, or the revision's when its pipeline file is broken) and the rest is
still shown.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from gitdatax import output
from gitdatax.errors import FatalError
from gitdatax.metrics.reader import IsFolder, RevisionReader, Unreadable
from gitdatax.metrics.revisions import Revision
from gitdatax.metrics.values import Malformed, parse_flat

PIPELINE_FILES = ("datax.yaml", "dvc.yaml")
DEFAULT_PARAMS = "params.yaml"  # read when present, named or not, as DVC does
# What DVCLive (and gitdatax.log) write; read when present even if the pipeline does not name
# them, so a training loop's results compare without editing datax.yaml.
DVCLIVE_METRICS = "dvclive/metrics.json"
DVCLIVE_PARAMS = "dvclive/params.yaml"
DVCLIVE_PLOTS = "dvclive/plots/metrics"
METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".toml")


class FileValues(NamedTuple):
    values: dict[str, Any]  # flat key -> value; empty when missing or broken
    error: str | None = None  # why it could not be read; None when read (or simply missing)
    missing: bool = False
    asked: bool = False  # named on the command line (--targets) rather than by the pipeline file


class Snapshot(NamedTuple):
    revision: Revision
    files: dict[str, FileValues]  # path -> its values, in the pipeline's order
    error: str | None = None  # the revision's own problem (its datax.yaml is broken)


class PipelineCache:
    """The pipeline of each revision, parsed once per distinct content: 200 commits that share
    one datax.yaml (and the same content of the files it read, params.yaml for its ${...})
    parse it once."""

    KEPT = 8  # parses kept per pipeline text: a params.yaml that changes every commit still hits

    def __init__(self, reader: RevisionReader) -> None:
        self.reader = reader
        self._parsed: dict[tuple[str, bytes], list[tuple[tuple[tuple[str, bytes | None], ...], Any]]] = {}

    def at(self, commit: str | None) -> Any:
        """The Pipeline at `commit`, or None when it has no pipeline file; FatalError when broken."""
        from gitdatax.pipeline.spec import parse_pipeline

        for name in PIPELINE_FILES:
            try:
                text = self.reader.read(commit, name)
            except (Unreadable, IsFolder) as exc:
                raise FatalError(f"{name}: {exc}") from None
            if text is None:
                continue
            seen: dict[str, bytes | None] = {}

            def read_file(path: str) -> bytes | None:
                if path not in seen:
                    try:
                        seen[path] = self.reader.read(commit, path)
                    except (Unreadable, IsFolder):
                        seen[path] = None
                return seen[path]

            earlier = self._parsed.setdefault((name, text), [])
            for used, pipeline in earlier:
                if all(read_file(path) == content for path, content in used):
                    return pipeline
            pipeline = parse_pipeline(text, name, read_file)
            earlier.insert(0, (tuple(seen.items()), pipeline))
            del earlier[self.KEPT:]
            return pipeline
        return None


def metrics_files(pipeline: Any) -> list[str]:
    return list(pipeline.metrics_files()) if pipeline is not None else []


def params_files(pipeline: Any) -> list[str]:
    return list(pipeline.params_files()) if pipeline is not None else []


GROUP = 64  # revisions whose files are asked for in one batch (bounds what is held in memory)


def collect(reader: RevisionReader, revisions: Sequence[Revision], kind: str,
            targets: Sequence[str] = (), pipelines: PipelineCache | None = None) -> list[Snapshot]:
    """Metrics (`kind="metrics"`) or params (`"params"`) of each revision. `targets` (paths from
    the top) are read instead of the pipeline's files, named there or not, a folder standing for
    the files under it, as DVC's `--targets`."""
    pipelines = pipelines or PipelineCache(reader)
    snapshots = []
    # A bar only where it helps: a long history on a terminal (tqdm's start-up costs ~50 ms).
    bar = output.progress(len(revisions), f"reading {kind}", unit="rev") if len(revisions) > 4 * GROUP \
        else output.progress(None, "", quiet=True)
    for start in range(0, len(revisions), GROUP):
        group = revisions[start:start + GROUP]
        if targets:  # the pipeline is not read: a broken datax.yaml there does not matter
            planned = [(revision, [(t, False) for t in targets], None) for revision in group]
        else:
            reader.prefetch((r.commit, name) for r in group for name in (*PIPELINE_FILES, DEFAULT_PARAMS))
            planned = [(revision, *_plan(pipelines, revision, kind)) for revision in group]
        reader.prefetch((revision.commit, path) for revision, paths, _ in planned for path, _ in paths)
        for revision, paths, error in planned:
            if error is not None:
                snapshots.append(Snapshot(revision, {}, error))
                continue
            files: dict[str, FileValues] = {}
            for path, optional in paths:
                for found, values in _read_entry(reader, revision.commit, path, optional):
                    files[found] = values._replace(asked=bool(targets))
            snapshots.append(Snapshot(revision, files))
        bar.update(len(group))
    bar.close()
    return snapshots


def _plan(pipelines: PipelineCache, revision: Revision, kind: str) -> tuple[list[tuple[str, bool]], str | None]:
    """The (path, optional) entries to read at this revision, or the error of its pipeline."""
    try:
        pipeline = pipelines.at(revision.commit)
    except FatalError as exc:
        return [], str(exc)
    named = metrics_files(pipeline) if kind == "metrics" else params_files(pipeline)
    defaults = (DVCLIVE_METRICS,) if kind == "metrics" else (DEFAULT_PARAMS, DVCLIVE_PARAMS)
    return [(p, False) for p in dict.fromkeys(named)] + [(d, True) for d in defaults if d not in named], None


def repo_targets(top: Path, targets: Sequence[str], cwd: Path | None = None) -> list[str]:
    """Each `--targets` path, given from the current folder as DVC takes them, from the top of
    the repository (posix); FatalError for one outside it."""
    here = os.path.realpath(cwd or os.getcwd())
    top_real = os.path.realpath(top)
    found = []
    for target in targets:
        rel = os.path.relpath(os.path.normpath(os.path.join(here, target)), top_real)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise FatalError(f"--targets {target}: outside the repository ({top})")
        found.append("" if rel == os.curdir else Path(rel).as_posix())  # "": the whole repository
    return list(dict.fromkeys(found))


def under_targets(path: str, targets: Sequence[str]) -> bool:
    return not targets or any(path == t or path.startswith(t.rstrip("/") + "/") for t in targets)


def _read_entry(reader: RevisionReader, commit: str | None, path: str,
                optional: bool) -> list[tuple[str, FileValues]]:
    """One named path: a file, or a folder of metrics files (DVC allows both)."""
    try:
        data = reader.read(commit, path)
    except IsFolder:
        return [(child, read_values(reader, commit, child)) for child in reader.walk(commit, path)
                if child.lower().endswith(METRICS_SUFFIXES)]
    except Unreadable as exc:
        return [(path, FileValues({}, str(exc)))]
    if data is None:
        return [] if optional else [(path, FileValues({}, None, missing=True))]
    return [(path, _parse(data, path))]


def read_values(reader: RevisionReader, commit: str | None, path: str) -> FileValues:
    try:
        data = reader.read(commit, path)
    except (Unreadable, IsFolder) as exc:
        return FileValues({}, str(exc) if isinstance(exc, Unreadable) else "is a folder")
    if data is None:
        return FileValues({}, None, missing=True)
    return _parse(data, path)


def _parse(data: bytes, path: str) -> FileValues:
    try:
        return FileValues(parse_flat(data, path))
    except Malformed as exc:
        return FileValues({}, str(exc))

