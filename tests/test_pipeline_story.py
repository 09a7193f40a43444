"""Story 7 end to end with real git and real commands: repro runs only what changed, restores
from the run cache, and a checkout of an old commit has nothing to do."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import datax, git, git_bytes, is_stub, oid_of, write
from pipeline_helpers import make_project, repro, runs, set_lr


def test_story_runs_only_what_changed_and_restores_from_the_run_cache(repo: Path) -> None:
    make_project(repo, stage_add=True)
    assert "models/model.bin filter=datax" in (repo / ".gitattributes").read_text()  # stage add wrote it

    first = repro(repo)
    assert first.returncode == 0, first.stderr
    assert runs(repo) == ["prepare", "train"]
    assert "Running stage 'prepare' (new: not in datax.lock)" in first.stdout
    assert "To record this run: git add datax.lock data/clean.csv models/model.bin metrics.json && git commit" in first.stdout
    model_v1 = (repo / "models/model.bin").read_bytes()
    git("add", "-A")
    git("commit", "-qm", "v1")
    # outs are committed as stubs, their objects already in the store as git add stores them
    assert is_stub(git_bytes("show", "HEAD:models/model.bin"))
    assert (repo / ".git/datax/objects" / oid_of(model_v1)[:2] / oid_of(model_v1)[2:4] / oid_of(model_v1)).is_file()
    assert git("status", "--porcelain").stdout == ""

    again = repro(repo)
    assert again.returncode == 0 and runs(repo) == ["prepare", "train"]
    assert "Stage 'train' didn't change, skipping" in again.stdout and "Everything is up to date" in again.stdout

    os.utime(repo / "data/raw.csv", (1, 1))
    os.utime(repo / "train.py")
    assert repro(repo).returncode == 0 and runs(repo) == ["prepare", "train"]  # a touch runs nothing

    set_lr(repo, "0.2")
    status = datax("status")
    assert "pipeline (datax.yaml): 2 stage(s), 1 would run" in status.stdout, status.stdout
    assert "  train: params train.lr 0.1 -> 0.2" in status.stdout
    changed = repro(repo)
    assert changed.returncode == 0, changed.stderr
    assert runs(repo) == ["prepare", "train", "train"]
    assert "Running stage 'train' (params train.lr 0.1 -> 0.2)" in changed.stdout
    model_v2 = (repo / "models/model.bin").read_bytes()
    assert model_v2 != model_v1
    git("add", "-A")
    git("commit", "-qm", "v2")

    set_lr(repo, "0.1")
    back = repro(repo)
    assert back.returncode == 0, back.stderr
    assert "Restored stage 'train' from the run cache (params train.lr 0.2 -> 0.1)" in back.stdout
    assert runs(repo) == ["prepare", "train", "train"]  # not run
    assert (repo / "models/model.bin").read_bytes() == model_v1
    assert b"0.1" in (repo / "datax.lock").read_bytes()

    git("checkout", "-q", "-f", "HEAD~1")
    assert (repo / "models/model.bin").read_bytes() == model_v1
    old = repro(repo)
    assert old.returncode == 0 and "Everything is up to date" in old.stdout, old.stdout
    assert runs(repo) == ["prepare", "train", "train"]

    # a change of code whose output is identical: prepare runs, train does not (early cutoff)
    write(repo / "prepare.py", (repo / "prepare.py").read_bytes() + b"# tidier, same output\n")
    cut = repro(repo)
    assert cut.returncode == 0, cut.stderr
    assert runs(repo) == ["prepare", "train", "train", "prepare"]
    assert "Stage 'train' didn't change, skipping" in cut.stdout


def test_a_change_to_a_module_train_imports_reruns_train(repo: Path) -> None:
    make_project(repo)
    assert repro(repo).returncode == 0
    shown = datax("dag")
    assert "dep  lib/util.py  (implicit" in shown.stdout, shown.stdout
    listed = datax("status", "--all")
    assert "  train: up to date  (implicit deps: lib/__init__.py, lib/util.py)" in listed.stdout, listed.stdout
    assert "  prepare: up to date\n" in listed.stdout
    write(repo / "lib/util.py", b"def weight():\n    return 8\n")
    result = repro(repo)
    assert result.returncode == 0, result.stderr
    assert "Running stage 'train' (implicit dep lib/util.py changed)" in result.stdout
    assert runs(repo) == ["prepare", "train", "train"]
    assert b"w=8" in (repo / "models/model.bin").read_bytes()
    # switched off per stage: the module is no dep any more
    text = (repo / "datax.yaml").read_text().replace("    cmd: python3 train.py\n",
                                                     "    cmd: python3 train.py\n    implicit_deps: false\n")
    write(repo / "datax.yaml", text.encode())
    assert repro(repo).returncode == 0  # the lock's dep list changed: one run records it
    write(repo / "lib/util.py", b"def weight():\n    return 9\n")
    assert "Stage 'train' didn't change" in repro(repo).stdout


def test_dag_prints_text_dot_and_mermaid(repo: Path) -> None:
    make_project(repo)
    text = datax("dag")
    assert text.returncode == 0 and "train  <- prepare" in text.stdout and "out  models/model.bin" in text.stdout
    dot = datax("dag", "--dot")
    assert '"prepare" -> "train";' in dot.stdout
    mermaid = datax("dag", "--mermaid")
    assert mermaid.stdout.startswith("flowchart TD") and "s0 --> s1" in mermaid.stdout


def test_dry_force_single_and_downstream(repo: Path) -> None:
    make_project(repo)
    dry = repro(repo, "--dry")
    assert dry.returncode == 0 and runs(repo) == [] and not (repo / "datax.lock").exists()
    assert "Would run stage 'train'" in dry.stdout
    assert repro(repo, "-s", "prepare").returncode == 0 and runs(repo) == ["prepare"]
    assert repro(repo, "train").returncode == 0 and runs(repo) == ["prepare", "train"]
    assert repro(repo, "-f", "-q").stdout == "" and runs(repo) == ["prepare", "train", "prepare", "train"]
    assert repro(repo, "-f", "--downstream", "train").returncode == 0
    assert runs(repo)[-1:] == ["train"] and len(runs(repo)) == 5
    unknown = repro(repo, "nope")
    assert unknown.returncode == 1 and "no stage named 'nope'" in unknown.stderr


def test_frozen_and_always_changed(repo: Path) -> None:
    write(repo / "datax.yaml", b"""\
stages:
  stamp:
    cmd: python3 -c "open('runs.log','a').write('stamp\\\\n'); open('stamp.txt','w').write('x')"
    deps: [datax.yaml]
    outs: [stamp.txt]
    always_changed: true
  ice:
    cmd: python3 -c "open('runs.log','a').write('ice\\\\n')"
    frozen: true
""")
    assert repro(repo).returncode == 0
    assert repro(repo).returncode == 0
    assert runs(repo) == ["stamp", "stamp"]


def test_no_run_cache_runs_instead_of_restoring(repo: Path) -> None:
    make_project(repo)
    assert repro(repo).returncode == 0
    set_lr(repo, "0.3")
    assert repro(repo).returncode == 0
    set_lr(repo, "0.1")
    assert "Running stage 'train'" in repro(repo, "--no-run-cache").stdout
    assert runs(repo) == ["prepare", "train", "train", "train"]


def test_repro_outside_a_pipeline_says_how_to_start(repo: Path) -> None:
    result = repro(repo)
    assert result.returncode == 1 and "no datax.yaml" in result.stderr and "stage add" in result.stderr
    assert subprocess.run(["git", "datax", "repro", "--help"], capture_output=True).returncode == 0
