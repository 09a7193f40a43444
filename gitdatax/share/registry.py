"""A model registry in Git tags, in GTO's convention, so GTO and DVC Studio read it as is.

    NAME@vX.Y.Z        register version X.Y.Z (SemVer) of NAME at a commit (annotated tag)
    NAME@vX.Y.Z!       deregister it
    NAME#STAGE#N       assign STAGE to the version at that commit; N counts every stage tag of
                       NAME (GTO's incremental notation), the highest N is the latest event
    NAME#STAGE!#N      unassign
    NAME#STAGE         GTO's "simple" notation of an assignment (read, never written)

A reference to a model in `--rev`: `NAME@vX.Y.Z`, `NAME@latest` (the greatest registered
SemVer, as `gto show NAME@latest`), `NAME@greatest`, or `NAME#STAGE` (the version the stage
points at now: the one assigned it most recently among those still holding it, see _model).
GTO's monorepo names `dir:name` are written `dir=name` in tags.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from gitdatax.errors import FatalError

_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_DIRNAME = r"[a-zA-Z0-9\-_./]+"
_SEMVER = (r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
           r"(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
           r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?")
NAME_RE = re.compile(rf"(?:{_DIRNAME}:)?{_NAME}")
SEMVER_RE = re.compile(_SEMVER)
_TAG_RE = re.compile(rf"(?P<name>(?:{_DIRNAME}=)?{_NAME})"
                     rf"(?:@v(?P<version>{_SEMVER})|#(?P<stage>{_NAME}))(?P<cancel>!?)(?:#(?P<counter>[0-9]+))?")
_REF_RE = re.compile(rf"(?P<name>(?:{_DIRNAME}:)?{_NAME})(?:@(?P<version>latest|greatest|v{_SEMVER})|#(?P<stage>{_NAME}))")


@dataclass(frozen=True)
class Tag:
    tag: str  # the tag's name
    name: str  # the artifact (dir:name spelling)
    commit: str  # what the tag points at, peeled
    version: str | None = None  # "v1.2.0" for (de)registrations
    stage: str | None = None
    cancel: bool = False  # a deregistration or an unassignment
    counter: int = 0  # 0: GTO's simple notation


def tag_name_of(name: str) -> str:
    return name.replace(":", "=")


def parse_tag(tag: str, commit: str) -> Tag | None:
    match = _TAG_RE.fullmatch(tag)
    if match is None:
        return None
    version = f"v{match['version']}" if match["version"] else None
    return Tag(tag, match["name"].replace("=", ":"), commit, version, match["stage"], match["cancel"] == "!",
               int(match["counter"] or 0))


def tag_list(tags: Mapping[str, str]) -> list[Tag]:
    """The registry's tags among `tags` (tag name -> object id; a peeled `NAME^{}` entry, as
    `git ls-remote` lists it, gives the commit of an annotated tag)."""
    parsed = []
    for tag, oid in tags.items():
        if tag.endswith("^{}"):
            continue
        found = parse_tag(tag, tags.get(f"{tag}^{{}}", oid))
        if found is not None:
            parsed.append(found)
    return parsed


def is_model_ref(rev: str) -> bool:
    return _REF_RE.fullmatch(rev) is not None


def semver_key(version: str) -> tuple:  # type: ignore[type-arg]
    """Sort key of `vX.Y.Z[-pre][+build]` by SemVer precedence (build metadata ignored)."""
    core, _, pre = version.lstrip("v").split("+")[0].partition("-")
    major, minor, patch = (int(p) for p in core.split("."))
    if not pre:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


@dataclass(frozen=True)
class Model:
    name: str
    versions: dict[str, Tag]  # version -> its registration, deregistered ones left out
    stages: dict[str, str]  # stage -> version it points at now

    @property
    def latest(self) -> str | None:
        return max(self.versions, key=semver_key) if self.versions else None


def models(tags: Iterable[Tag]) -> dict[str, Model]:
    by_name: dict[str, list[Tag]] = {}
    for tag in tags:
        by_name.setdefault(tag.name, []).append(tag)
    return {name: _model(name, found) for name, found in sorted(by_name.items())}


def _model(name: str, tags: list[Tag]) -> Model:
    versions: dict[str, Tag] = {}
    for tag in tags:
        if tag.version is not None and not tag.cancel:
            versions[tag.version] = tag
    for tag in tags:  # a deregistration wins over its registration
        if tag.version is not None and tag.cancel:
            versions.pop(tag.version, None)
    by_commit = {}
    for version, tag in sorted(versions.items(), key=lambda item: semver_key(item[0])):
        by_commit[tag.commit] = version  # several versions on one commit: the greatest
    # GTO's rule: a stage is held per version, and a version holds it while the latest of its
    # own events for that stage is an assignment; the stage points at the active version
    # assigned most recently. So unassigning (or deregistering) the version a stage points at
    # gives the stage back to the one assigned before it, as `gto show` shows.
    latest_event: dict[tuple[str, str], Tag] = {}  # (stage, version) -> its latest event
    latest_assignment: dict[tuple[str, str], int] = {}  # (stage, version) -> its latest assignment's N
    for tag in tags:
        if tag.stage is None or tag.commit not in by_commit:
            continue
        key = (tag.stage, by_commit[tag.commit])
        seen = latest_event.get(key)
        if seen is None or tag.counter > seen.counter:
            latest_event[key] = tag
        if not tag.cancel:
            latest_assignment[key] = max(latest_assignment.get(key, -1), tag.counter)
    stages: dict[str, str] = {}
    chosen: dict[str, int] = {}
    for (stage, version), tag in latest_event.items():
        if tag.cancel:
            continue
        if stage not in chosen or latest_assignment[(stage, version)] > chosen[stage]:
            chosen[stage], stages[stage] = latest_assignment[(stage, version)], version
    return Model(name, versions, dict(sorted(stages.items())))


def resolve_tag(ref: str, tags: list[Tag]) -> str:
    """The tag to fetch for a model reference (see the module docstring); FatalError with what
    there is when it names nothing."""
    match = _REF_RE.fullmatch(ref)
    if match is None:
        raise FatalError(f"{ref!r} is not a model reference (NAME@vX.Y.Z, NAME@latest or NAME#STAGE)")
    name = match["name"]
    model = models(tags).get(name)
    if model is None or not (model.versions or model.stages):
        known = ", ".join(models(tags)) or "none"
        raise FatalError(f"unknown revision {ref!r}: no model {name!r} is registered (models: {known})")
    version = match["version"]
    if match["stage"]:
        stage = match["stage"]
        if stage not in model.stages:
            known = ", ".join(f"{s} ({v})" for s, v in model.stages.items()) or "none"
            raise FatalError(f"unknown revision {ref!r}: no version of {name} is in stage {stage!r} "
                             f"(stages: {known})")
        version = model.stages[stage]
    elif version in ("latest", "greatest"):
        version = model.latest
    if version not in model.versions:
        known = ", ".join(sorted(model.versions, key=semver_key)) or "none"
        raise FatalError(f"unknown revision {ref!r}: {name} has no version {version} (versions: {known})")
    return model.versions[version].tag


def next_counter(name: str, tags: Iterable[Tag]) -> int:
    """GTO's N for a new stage tag of `name`: one more than any N its tags carry."""
    return 1 + max((t.counter for t in tags if t.name == name), default=0)


def check_name(name: str) -> None:
    if NAME_RE.fullmatch(name) is None:
        raise FatalError(f"invalid model name {name!r}: letters, digits, '-', '_' and '/' inside, starting "
                         "and ending with a letter or digit (GTO's rule)")


def check_stage(stage: str) -> None:
    if re.fullmatch(_NAME, stage) is None:
        raise FatalError(f"invalid stage name {stage!r}: letters, digits, '-', '_' and '/' inside, starting "
                         "and ending with a letter or digit")


def normal_version(version: str) -> str:
    """`1.2.0` or `v1.2.0` -> `v1.2.0`; anything that is not SemVer is refused."""
    bare = version[1:] if version.startswith("v") else version
    if SEMVER_RE.fullmatch(bare) is None:
        raise FatalError(f"invalid version {version!r}: a SemVer version is needed, e.g. 1.2.0 or v1.2.0")
    return f"v{bare}"
