"""`metrics diff` and `params diff` against the real `dvc` 3 on the same repository: one history,
`dvc.yaml` and `datax.yaml` with the same content, and the JSON both print compared as parsed
(`params diff --json` leaves DVC's `diff` out, docs/design-proposals.md item 18)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from helpers import datax, git

PIPELINE = "metrics: [metrics.json]\nparams: [params.yaml]\n"


def dvc_json(*args: str, cwd: Path | None = None) -> Any:
    proc = subprocess.run(["dvc", *args, "--json"], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ours_json(*args: str, cwd: Path | None = None) -> Any:
    proc = datax(*args, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def without_diff(changes: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    return {f: {k: {"old": v["old"], "new": v["new"]} for k, v in keys.items()} for f, keys in changes.items()}


def two_commits(repo: Path) -> None:
    """v1 and v2 of metrics.json and params.yaml (named in the pipeline), scores.json and
    extra.yaml (named nowhere), and a work tree that changed both again."""
    assert subprocess.run(["dvc", "init", "-q"], capture_output=True).returncode == 0
    (repo / "dvc.yaml").write_text(PIPELINE)
    (repo / "datax.yaml").write_text(PIPELINE)
    for tag, acc, z, lr in (("v1", 0.5, 3, 0.1), ("v2", 0.6, 4, 0.2)):
        (repo / "metrics.json").write_text(json.dumps({"acc": acc}))
        (repo / "scores.json").write_text(json.dumps({"z": z}))
        (repo / "params.yaml").write_text(f"lr: {lr}\n")
        (repo / "extra.yaml").write_text(f"k: {z}\n")
        git("add", "-A")
        git("commit", "-qm", tag)
        git("tag", tag)
    (repo / "scores.json").write_text(json.dumps({"z": 5}))
    (repo / "extra.yaml").write_text("k: 5\n")


def test_targets_not_named_in_the_pipeline_are_read_as_dvc_reads_them(repo: Path) -> None:
    two_commits(repo)
    # DVC's --targets: these files, named in dvc.yaml or not, instead of the pipeline's.
    theirs = dvc_json("metrics", "diff", "--targets", "scores.json")
    assert theirs == {"scores.json": {"z": {"old": 4, "new": 5, "diff": 1}}}
    assert ours_json("metrics", "diff", "--targets", "scores.json") == theirs  # was {}
    # Several paths after one --targets, as DVC's `--targets [<paths> ...]` (was: unknown revision).
    args = ("metrics", "diff", "v1", "v2", "--targets", "scores.json", "metrics.json")
    assert ours_json(*args) == dvc_json(*args) == {
        "scores.json": {"z": {"old": 3, "new": 4, "diff": 1}},
        "metrics.json": {"acc": {"old": 0.5, "new": 0.6, "diff": 0.09999999999999998}}}
    args = ("params", "diff", "--targets", "extra.yaml")
    assert ours_json(*args) == without_diff(dvc_json(*args)) == {"extra.yaml": {"k": {"old": 4, "new": 5}}}

    # From a folder below the top, a target is a path from there, as DVC takes it (the output
    # names files from the top, as everywhere in gitdatax; DVC names them from the current folder).
    (repo / "sub").mkdir()
    theirs = dvc_json("metrics", "diff", "--targets", "../scores.json", cwd=repo / "sub")
    assert ours_json("metrics", "diff", "--targets", "../scores.json", cwd=repo / "sub") == {
        "scores.json": theirs["../scores.json"]}
    shown = datax("metrics", "show", "--targets", "../scores.json", "v1", "--csv", cwd=repo / "sub")
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "Revision,z\nworkspace,5\nv1,3\n", "")

    # A target missing at one revision: null on that side, and a line that says so.
    (repo / "new.json").write_text('{"f1": 0.9}')
    proc = datax("metrics", "diff", "--targets", "new.json", "--json")
    theirs = dvc_json("metrics", "diff", "--targets", "new.json")
    assert (proc.returncode, json.loads(proc.stdout)) == (0, theirs) == (0, {"new.json": {"f1": {"old": None, "new": 0.9}}})
    assert proc.stderr == "git-datax: warning: v2: new.json: no such file\n"
    outside = datax("metrics", "diff", "--targets", "/etc/hostname")
    assert (outside.returncode, outside.stdout, outside.stderr) == (
        1, "", f"git-datax: error: --targets /etc/hostname: outside the repository ({repo.resolve()})\n")
