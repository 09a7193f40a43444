"""foreach and matrix stages, an existing dvc.yaml, folders as deps and outs, and -j 2."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import datax, git, git_bytes, is_stub, oid_of, random_bytes, write
from pipeline_helpers import repro, runs


def test_foreach_and_matrix_stages_run_and_are_named_as_in_dvc(repo: Path) -> None:
    write(repo / "params.yaml", b"shards: [x, y]\n")
    write(repo / "datax.yaml", b"""\
stages:
  shard:
    foreach: ${shards}
    do:
      cmd: echo ${item} > out/${item}.txt
      deps: [params.yaml]
      outs: ["out/${item}.txt"]
  grid:
    matrix: {model: [cnn, rnn], size: [1]}
    cmd: echo ${item.model}-${item.size} > grid/${key}.txt
    deps: [params.yaml]
    outs: ["grid/${key}.txt"]
""")
    (repo / "out").mkdir()
    (repo / "grid").mkdir()
    first = repro(repo)
    assert first.returncode == 0, first.stderr
    for name in ("shard@x", "shard@y", "grid@cnn-1", "grid@rnn-1"):
        assert f"Running stage '{name}'" in first.stdout
    assert (repo / "out/y.txt").read_text() == "y\n"
    assert (repo / "grid/rnn-1.txt").read_text() == "rnn-1\n"
    assert "  shard@x:\n" in (repo / "datax.lock").read_text()
    assert "Running" not in repro(repo, "shard").stdout  # a group name selects its stages


def test_an_existing_dvc_yaml_runs_as_it_is(repo: Path) -> None:
    write(repo / "params.yaml", b"train:\n  lr: 0.5\n")
    write(repo / "src.txt", b"source\n")
    write(repo / "dvc.yaml", b"""\
stages:
  features:
    cmd: mkdir -p feats && for i in 1 2 3; do echo $i > feats/f$i.txt; done
    deps: [params.yaml]
    outs: [feats]
  train:
    cmd: cat feats/*.txt > model.bin && echo ${train.lr} >> model.bin
    deps: [feats]
    params: [train.lr]
    outs: [model.bin]
""")
    write(repo / "dvc.lock", b"schema: '2.0'\nstages: {}\n")
    first = repro(repo)
    assert first.returncode == 0, first.stderr
    assert (repo / "model.bin").read_text() == "1\n2\n3\n0.5\n"
    assert "To record this run: git add datax.lock feats model.bin .gitattributes && git commit" in first.stdout
    assert (repo / "dvc.lock").read_bytes() == b"schema: '2.0'\nstages: {}\n"  # DVC's own file, untouched
    lock = (repo / "datax.lock").read_text()
    assert "path: feats\n" in lock and "nfiles: 3" in lock
    attributes = (repo / ".gitattributes").read_text()
    assert "feats/** filter=datax" in attributes and "/model.bin filter=datax" in attributes
    git("add", "-A")
    git("commit", "-qm", "run")
    assert is_stub(git_bytes("show", "HEAD:feats/f2.txt"))
    assert "Everything is up to date" in repro(repo).stdout
    # a folder out deleted comes back from the run cache, file by file
    for f in (repo / "feats").iterdir():
        f.unlink()
    (repo / "feats").rmdir()
    back = repro(repo)
    assert "Restored stage 'features' from the run cache (out feats missing)" in back.stdout, back.stdout
    assert (repo / "feats/f3.txt").read_text() == "3\n"
    assert "Stage 'train' didn't change" in back.stdout
    assert git("status", "--porcelain").stdout == ""


def test_two_independent_stages_overlap_with_j2(repo: Path) -> None:
    slow = ("python3 -c \"import time; s = time.time(); print('hello'); time.sleep(1); "
            "open('{0}.txt', 'w').write('%f %f' % (s, time.time()))\"")
    write(repo / "datax.yaml", f"""\
stages:
  a:
    cmd: {slow.format('a')}
    deps: [datax.yaml]
    outs: [a.txt]
  b:
    cmd: {slow.format('b')}
    deps: [datax.yaml]
    outs: [b.txt]
""".encode())
    result = repro(repo, "-j", "2")
    assert result.returncode == 0, result.stderr
    a_start, a_end = map(float, (repo / "a.txt").read_text().split())
    b_start, b_end = map(float, (repo / "b.txt").read_text().split())
    assert max(a_start, b_start) < min(a_end, b_end), "the two stages did not run at the same time"
    assert "[a] hello" in result.stdout and "[b] hello" in result.stdout


def test_a_dvc_project_that_dvc_ran_is_taken_over_without_running(repo: Path) -> None:
    """The real DVC runs the project first; gitdatax then reads its dvc.lock and runs nothing."""
    dvc = shutil.which("dvc")
    assert dvc, "dvc must be installed (tests/requirements.txt)"
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    write(repo / "params.yaml", b"train:\n  lr: 0.5\n")
    write(repo / "src.txt", b"source\n")
    write(repo / "dvc.yaml", b"""\
stages:
  features:
    cmd: python3 -c "import os; os.makedirs('feats', exist_ok=True); open('runs.log', 'a').write('features\\\\n'); [open(f'feats/f{i}.txt', 'w').write(str(i)) for i in range(3)]"
    deps: [src.txt]
    outs: [feats]
  train:
    cmd: python3 -c "open('runs.log', 'a').write('train\\\\n'); open('model.bin', 'w').write(open('feats/f1.txt').read() + '${train.lr}')"
    deps: [feats]
    params: [train.lr]
    outs: [model.bin]
""")
    for args in (["init", "-q"], ["repro", "-q"]):
        proc = subprocess.run([dvc, *args], cwd=repo, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert runs(repo) == ["features", "train"]
    dvc_lock = (repo / "dvc.lock").read_bytes()
    # status and --dry say what repro will do: nothing to run, both stages taken from dvc.lock
    status = datax("status", "--all", cwd=repo)
    assert status.returncode == 0, status.stderr
    assert "pipeline (dvc.yaml): 2 stage(s), up to date" in status.stdout, status.stdout
    assert "  features: up to date as dvc.lock records it" in status.stdout, status.stdout
    assert "  train: up to date as dvc.lock records it" in status.stdout, status.stdout
    dry = repro(repo, "--dry")
    assert "Would run" not in dry.stdout, dry.stdout
    assert "Stage 'train' is as dvc.lock records it: would be taken into datax.lock, not run" in dry.stdout
    assert not (repo / "datax.lock").exists()
    taken = repro(repo)
    assert taken.returncode == 0, taken.stderr
    assert "Stage 'features' is as dvc.lock records it: taken into datax.lock, not run" in taken.stdout
    assert "Stage 'train' is as dvc.lock records it" in taken.stdout
    assert runs(repo) == ["features", "train"]
    assert (repo / "dvc.lock").read_bytes() == dvc_lock
    assert "Everything is up to date" in repro(repo).stdout
    write(repo / "params.yaml", b"train:\n  lr: 0.7\n")
    changed = repro(repo)
    assert "Running stage 'train' (cmd changed; params train.lr 0.5 -> 0.7)" in changed.stdout, changed.stdout
    assert "Stage 'features' didn't change" in changed.stdout
    assert (repo / "model.bin").read_text() == "10.7"


def test_a_big_tracked_dep_is_known_from_the_index_without_reading_it(repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """After a clone (no stat cache), a tracked file git sees unchanged is what its staged stub
    says: the pipeline does not read it. Probed in-process: hashing it would raise."""
    from gitdatax.pipeline import hashing
    from gitdatax.pipeline.session import Session

    big = random_bytes(2 << 20, seed=5)
    write(repo / ".gitattributes", b"*.bin filter=datax diff=datax merge=datax -text\n")
    write(repo / "big.bin", big)
    write(repo / "small.txt", b"small\n")
    write(repo / "datax.yaml", b"stages:\n  s:\n    cmd: echo\n    deps: [big.bin, small.txt]\n")
    git("add", "-A")
    git("commit", "-qm", "data")

    def no_reading(path: str) -> tuple[str, int]:
        if path.endswith("big.bin"):
            raise AssertionError("big.bin was read")
        return real_hash(path)

    real_hash = hashing.hash_file
    monkeypatch.setattr(hashing, "hash_file", no_reading)
    session = Session(repo)
    assert session.hasher.state("big.bin") == hashing.FileState(oid_of(big), len(big))
    assert session.hasher.state("small.txt") is not None
    write(repo / "big.bin", big[:-1] + b"x")  # changed: git's stat data say so, and it is read
    with pytest.raises(AssertionError, match="big.bin was read"):
        Session(repo).hasher.state("big.bin")
