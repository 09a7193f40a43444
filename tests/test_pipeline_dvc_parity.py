"""The real DVC 3 as the oracle: the same pipeline text runs in a DVC project (dvc.yaml) and in
a gitdatax one (datax.yaml), the same edits are made to both, and after every `repro` the two
must have run the same stages. Each command appends its stage's name to runs.log, so what ran
is counted, not read from either tool's messages."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from helpers import write
from pipeline_helpers import repro, runs


class Twins:
    """A DVC project and a gitdatax project holding the same files."""

    def __init__(self, make_repo, pipeline: bytes, files: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
        self.dvc_bin = shutil.which("dvc")
        assert self.dvc_bin, "dvc must be installed (tests/requirements.txt)"
        self.env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        self.dvc = make_repo("dvc-project", hooks=False)
        self.datax = make_repo("datax-project")
        self.run_dvc("init", "-q")
        write(self.dvc / "dvc.yaml", pipeline)
        write(self.datax / "datax.yaml", pipeline)
        self.write(files)

    def run_dvc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.dvc_bin, *args], cwd=self.dvc, env=self.env, capture_output=True, text=True)

    def write(self, files: dict[str, bytes]) -> None:
        for top in (self.dvc, self.datax):
            for path, data in files.items():
                write(top / path, data)

    def remove(self, path: str) -> None:
        for top in (self.dvc, self.datax):
            (top / path).unlink()

    def repro(self, *args: str) -> list[str]:
        """Both run `repro ARGS`; the stages that ran (the same in both, or the test fails)."""
        before = len(runs(self.dvc)), len(runs(self.datax))
        by_dvc = self.run_dvc("repro", *args)
        assert by_dvc.returncode == 0, by_dvc.stderr
        by_datax = repro(self.datax, *args)
        assert by_datax.returncode == 0, by_datax.stderr
        ran_dvc, ran_datax = runs(self.dvc)[before[0]:], runs(self.datax)[before[1]:]
        assert ran_datax == ran_dvc, f"DVC ran {ran_dvc}, gitdatax ran {ran_datax}:\n{by_datax.stdout}"
        return ran_datax


def logging(name: str, then: str) -> str:
    """A command that notes it ran in runs.log, then does `then`."""
    return f"echo {name} >> runs.log && {then}"


def test_a_stage_with_outs_and_no_deps_runs_once_and_one_with_neither_every_time(make_repo) -> None:  # type: ignore[no-untyped-def]
    """DVC runs a stage without deps again only when its cmd or an out changed (a download
    stage); only a stage with neither deps nor outs (DVC's callback stage) runs every time.
    gitdatax used to re-run every stage without deps on every repro."""
    pipeline = f"""\
stages:
  download:
    cmd: {logging("download", "echo rows > raw.txt")}
    outs:
    - raw.txt
  by_param:
    cmd: {logging("by_param", "echo ${seed} > seeded.txt")}
    params:
    - seed
    outs:
    - seeded.txt
  ping:
    cmd: {logging("ping", "true")}
""".encode()
    twins = Twins(make_repo, pipeline, {"params.yaml": b"seed: 1\n"})
    assert twins.repro() == ["download", "by_param", "ping"]
    assert twins.repro() == ["ping"]
    twins.remove("raw.txt")
    assert twins.repro() == ["download", "ping"]
    twins.write({"params.yaml": b"seed: 2\n"})
    assert twins.repro("by_param") == ["by_param"]
    assert "Running stage 'ping' (it has no deps and no outs (such a stage always runs, as in DVC))" \
        in repro(twins.datax, "ping").stdout


def test_a_persist_out_is_never_brought_back_from_the_run_cache(make_repo) -> None:  # type: ignore[no-untyped-def]
    """A stage that appends to a `persist: true` out: going back to inputs it ran with before
    runs it again (DVC does not run-cache such stages) instead of putting back the older copy,
    which lost every line added since."""
    pipeline = f"""\
stages:
  log:
    cmd: {logging("log", "cat in.txt >> history.txt")}
    deps:
    - in.txt
    outs:
    - history.txt:
        persist: true
""".encode()
    twins = Twins(make_repo, pipeline, {"in.txt": b"one\n"})
    twins.repro()
    twins.write({"in.txt": b"two\n"})
    twins.repro()
    twins.write({"in.txt": b"one\n"})
    assert twins.repro() == ["log"]
    assert (twins.datax / "history.txt").read_bytes() == (twins.dvc / "history.txt").read_bytes() == b"one\ntwo\none\n"


PARAMS_PY = b"""\
LR = 0.1
EPOCHS: int = 3
BASE = LR * 2  # not a literal: not a param
class Train:
    depth = 4
    def __init__(self):
        self.dropout = 0.5
"""


def test_a_python_params_file_is_read_never_run_as_dvc_reads_it(make_repo) -> None:  # type: ignore[no-untyped-def]
    """`params: [{params.py: [LR, Train.depth]}]`: DVC reads a Python file's literal constants
    and class attributes (parsed, not run); gitdatax refused such a file outright. A change of a
    value the stage does not name re-runs nothing; a change of one it names re-runs it."""
    pipeline = f"""\
stages:
  train:
    cmd: {logging("train", "echo trained > model.txt")}
    params:
    - params.py:
      - LR
      - Train.depth
      - Train.dropout
    outs:
    - model.txt
""".encode()
    twins = Twins(make_repo, pipeline, {"params.py": PARAMS_PY})
    assert twins.repro() == ["train"]
    lock = (twins.datax / "datax.lock").read_text()
    assert "params.py:" in lock and "LR: 0.1" in lock and "depth: 4" in lock and "dropout: 0.5" in lock
    twins.write({"params.py": PARAMS_PY.replace(b"EPOCHS: int = 3", b"EPOCHS: int = 30")})
    assert twins.repro() == []
    twins.write({"params.py": PARAMS_PY.replace(b"depth = 4", b"depth = 8")})
    assert repro(twins.datax, "--dry").stdout.count("params Train.depth 4 -> 8") == 1
    assert twins.repro() == ["train"]
    # parsed, never run: a file that would write a marker if executed leaves none
    twins.write({"params.py": PARAMS_PY + b"open('ran-it', 'w').write('x')\n"})
    twins.repro()
    assert not (twins.datax / "ran-it").exists()


def test_a_python_params_file_with_a_syntax_error_is_one_line(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("broken-py")
    write(repo / "params.py", b"LR = (0.1\n")
    write(repo / "datax.yaml", b"stages:\n  t:\n    cmd: echo t\n    params:\n    - params.py:\n      - LR\n")
    result = repro(repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("git-datax: error: params.py:1: invalid Python:"), result.stderr
    assert "Traceback" not in result.stderr
