"""`git datax model register|assign|show`: the registry's tags (registry.py) in this repository.

Tags are annotated, with GTO's messages, so `gto show` and DVC Studio list them as their own.
They are local until pushed: `--push` runs `git push origin TAG`, as `gto --push` does."""
from __future__ import annotations

import os
from pathlib import Path

from gitdatax import git, output
from gitdatax.errors import FatalError
from gitdatax.share import registry


def local_tags(cwd: str | os.PathLike[str] | None = None) -> list[registry.Tag]:
    out = git.run(["for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)", "refs/tags"],
                  cwd=cwd).stdout.decode("utf-8", "surrogateescape")
    tags = {}
    for line in out.splitlines():
        name, oid, peeled = line.split("\0")
        tags[name] = peeled or oid
    return registry.tag_list(tags)


def _commit(rev: str, cwd: Path) -> str:
    commit = git.commit_of(rev, cwd=cwd)
    if commit is None:
        raise FatalError(f"unknown revision {rev!r}")
    return commit


def _tag(name: str, commit: str, message: str, cwd: Path) -> None:
    if git.run(["rev-parse", "-q", "--verify", f"refs/tags/{name}"], cwd=cwd, check=False).returncode == 0:
        raise FatalError(f"tag {name} already exists")
    git.run(["tag", "-a", "-m", message, name, commit], cwd=cwd)


def push_tag(name: str, cwd: Path, remote: str = "origin") -> None:
    git.run(["push", "-q", remote, f"refs/tags/{name}"], cwd=cwd)


def register(name: str, version: str, rev: str, cwd: Path) -> str:
    """Tag `rev` as version `version` of model `name`; the tag's name."""
    registry.check_name(name)
    version = registry.normal_version(version)
    commit = _commit(rev, cwd)
    model = registry.models(local_tags(cwd)).get(name)
    if model is not None and version in model.versions:
        there = model.versions[version].commit[:12]
        raise FatalError(f"{name} {version} is already registered (at commit {there}): choose another version")
    _warn_without_artifact(name, commit, cwd)
    tag = f"{registry.tag_name_of(name)}@{version}"
    _tag(tag, commit, f"Registering artifact {name} version {version}", cwd)
    return tag


def assign(name: str, stage: str, version: str | None, cwd: Path) -> tuple[str, str]:
    """Point `stage` of model `name` at `version` (default: the greatest registered); (tag, version)."""
    registry.check_name(name)
    registry.check_stage(stage)
    tags = local_tags(cwd)
    model = registry.models(tags).get(name)
    if model is None or not model.versions:
        raise FatalError(f"no version of {name} is registered: run `git datax model register {name} VERSION` first")
    chosen = registry.normal_version(version) if version else model.latest
    if chosen not in model.versions:
        known = ", ".join(sorted(model.versions, key=registry.semver_key))
        raise FatalError(f"{name} has no version {chosen} (versions: {known})")
    assert chosen is not None
    tag = f"{registry.tag_name_of(name)}#{stage}#{registry.next_counter(name, tags)}"
    _tag(tag, model.versions[chosen].commit, f"Assigning stage {stage} to artifact {name} version {chosen}", cwd)
    return tag, chosen


def _warn_without_artifact(name: str, commit: str, cwd: Path) -> None:
    """`get --rev NAME@v...` finds the model's file through `artifacts:` in datax.yaml (or
    dvc.yaml) at that commit: say so when it is not there, as the tag is still useful."""
    from gitdatax.pipeline.spec import parse_pipeline

    with git.CatFile(cwd) as cat:
        def read(rel: str) -> bytes | None:
            info = cat.info(f"{commit}:{rel}")
            return cat.read(info.oid) if info is not None and info.kind == "blob" else None

        for filename in ("datax.yaml", "dvc.yaml"):
            text = read(filename)
            if text is not None:
                if name in parse_pipeline(text, filename, read).artifacts:
                    return
                break
    output.warn(f"{name} is not under artifacts: in datax.yaml at that commit, so `get --rev {name}@...` "
                f"will need the path; add `artifacts: {{{name}: {{path: PATH, type: model}}}}` to datax.yaml")


def show_rows(cwd: Path, name: str | None = None) -> list[dict[str, object]]:
    found = registry.models(local_tags(cwd))
    if name is not None:
        if name not in found:
            raise FatalError(f"no model {name!r} is registered (models: {', '.join(found) or 'none'})")
        found = {name: found[name]}
    rows = []
    for model in found.values():
        versions = sorted(model.versions, key=registry.semver_key, reverse=True)
        rows.append({"name": model.name, "latest": model.latest, "stages": dict(model.stages),
                     "versions": [{"version": v, "commit": model.versions[v].commit,
                                   "tag": model.versions[v].tag,
                                   "stages": sorted(s for s, sv in model.stages.items() if sv == v)}
                                  for v in versions]})
    return rows
