"""The model registry in Git tags (GTO's format): register, assign, show; `get --rev asr#prod`
and `api.read(rev="asr@latest")`; GTO itself reads the same registry."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import datax, git, write
from sharehelpers import team  # noqa: F401 - the fixture

ARTIFACTS = b"artifacts:\n  asr:\n    path: models/asr.bin\n    type: model\n"


def _registry(work: Path) -> tuple[bytes, bytes]:
    """Two versions of the model: 1.0.0 in prod, 1.1.0 the latest. Returns their bytes."""
    write(work / "datax.yaml", ARTIFACTS)
    first = (work / "models" / "asr.bin").read_bytes()
    git("add", "datax.yaml", cwd=work)
    git("commit", "-qm", "declare the model", cwd=work)
    assert datax("model", "register", "asr", "1.0.0", cwd=work).returncode == 0
    second = b"the retrained model" * 500
    write(work / "models" / "asr.bin", second)
    git("commit", "-qam", "retrain", cwd=work)
    reg = datax("model", "register", "asr", "v1.1.0", "--push", cwd=work)
    assert reg.returncode == 0, reg.stderr
    assert "created tag asr@v1.1.0" in reg.stderr and "pushed asr@v1.1.0 to origin" in reg.stderr
    assign = datax("model", "assign", "asr", "prod", "--version", "1.0.0", cwd=work)
    assert assign.returncode == 0, assign.stderr
    assert "created tag asr#prod#1 (assigns prod to asr v1.0.0)" in assign.stderr
    git("push", "-q", "origin", "HEAD:main", "--tags", cwd=work)
    return first, second


def test_register_assign_show_and_get_by_stage_and_latest(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, work = team
    first, second = _registry(work)
    tag = git("cat-file", "-p", "asr@v1.0.0", cwd=work).stdout
    assert "type commit" in tag and "Registering artifact asr version v1.0.0" in tag  # annotated, GTO's message
    assert git("rev-parse", "asr#prod#1^{commit}", cwd=work).stdout == git("rev-parse", "asr@v1.0.0^{commit}",
                                                                            cwd=work).stdout
    shown = datax("model", "show", cwd=work)
    assert shown.stdout == "asr\tv1.1.0\tprod=v1.0.0\n"
    versions = datax("model", "show", "asr", cwd=work).stdout.splitlines()
    assert [v.split("\t")[0] for v in versions] == ["v1.1.0", "v1.0.0"] and versions[1].endswith("\tprod")
    for rev, expected, out in (("asr#prod", first, "prod.bin"), ("asr@latest", second, "latest.bin"),
                               ("asr@v1.0.0", first, "v100.bin")):
        got = datax("get", str(server), "--rev", rev, "-o", out, cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        assert (tmp_path / out).read_bytes() == expected, rev
    read = subprocess.run(["python3", "-c", "import gitdatax.api as a, sys; sys.stdout.buffer.write("
                           "a.read('models/asr.bin', rev='asr#prod', mode='rb'))"], cwd=work, capture_output=True)
    assert read.returncode == 0 and read.stdout == first, read.stderr
    moved = datax("model", "assign", "asr", "prod", cwd=work)  # the greatest version by default
    assert "asr#prod#2 (assigns prod to asr v1.1.0)" in moved.stderr
    assert datax("model", "show", cwd=work).stdout == "asr\tv1.1.0\tprod=v1.1.0\n"


@pytest.mark.skipif(shutil.which("gto") is None, reason="GTO is installed with dvc (tests/requirements.txt)")
def test_gto_reads_the_registry_as_its_own(tmp_path: Path, team: tuple[Path, Path]) -> None:
    _, work = team
    _registry(work)
    proc = subprocess.run(["gto", "show", "asr", "--json"], cwd=work, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    versions = {v["version"]: [s["stage"] for s in v["stages"]] for v in json.loads(proc.stdout)}
    assert versions == {"v1.1.0": [], "v1.0.0": ["prod"]}
    # And GTO's own tags are ours: gto assigns, git datax show sees it.
    gto = subprocess.run(["gto", "assign", "asr", "--version", "v1.1.0", "--stage", "dev"], cwd=work,
                         capture_output=True, text=True)
    assert gto.returncode == 0, gto.stderr
    assert datax("model", "show", cwd=work).stdout == "asr\tv1.1.0\tdev=v1.1.0, prod=v1.0.0\n"


def test_bad_registry_input_is_one_line(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, work = team
    _registry(work)
    cases = [
        (["model", "register", "asr", "1.0.0"], "asr v1.0.0 is already registered"),
        (["model", "register", "asr", "1.0"], "invalid version '1.0'"),
        (["model", "register", "asr_", "1.0.0"], "invalid model name"),
        (["model", "register", "asr", "2.0.0", "nosuch"], "unknown revision 'nosuch'"),
        (["model", "assign", "tts", "prod"], "no version of tts is registered"),
        (["model", "assign", "asr", "prod", "--version", "9.9.9"], "asr has no version v9.9.9"),
        (["model", "show", "tts"], "no model 'tts' is registered"),
        (["get", str(server), "--rev", "asr#staging"], "no version of asr is in stage 'staging'"),
        (["get", str(server), "--rev", "tts@latest"], "no model 'tts' is registered"),
        (["get", str(server)], "name the PATH to get"),
    ]
    for args, expected in cases:
        result = datax(*args, cwd=work)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and expected in result.stderr, (args, result.stderr)


@pytest.mark.skipif(shutil.which("gto") is None, reason="GTO is installed with dvc (tests/requirements.txt)")
def test_unassigning_or_deregistering_gives_the_stage_back_as_gto_does(tmp_path: Path, team: tuple[Path, Path]) -> None:
    """prod moves 1.0.0 -> 1.1.0; GTO's `deprecate asr v1.1.0 prod` (unassign) or `deprecate asr
    v1.1.0` (deregister) is GTO's rollback: prod is 1.0.0's again, for `gto show` and so for
    `get --rev asr#prod`. GTO orders tags by their date, to the second (and dates its own tags
    with the clock): each tag comes a second after the last, so its order is ours by N."""
    server, work = team
    first, _ = _registry(work)  # prod#1 -> v1.0.0

    def at_next_second() -> dict[str, str]:
        time.sleep(1.05)
        return {}

    assert datax("model", "assign", "asr", "prod", "--version", "1.1.0", cwd=work, env=at_next_second()).returncode == 0

    def gto_prod() -> list[str]:
        proc = subprocess.run(["gto", "show", "asr#prod", "--json"], cwd=work, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return [v["version"] for v in json.loads(proc.stdout)]

    assert gto_prod() == ["v1.1.0"] and datax("model", "show", cwd=work).stdout == "asr\tv1.1.0\tprod=v1.1.0\n"
    unassign = subprocess.run(["gto", "deprecate", "asr", "v1.1.0", "prod"], cwd=work, capture_output=True,
                              text=True, env={**os.environ, **at_next_second()})
    assert unassign.returncode == 0 and "asr#prod!#3" in unassign.stdout, unassign.stdout + unassign.stderr
    assert gto_prod() == ["v1.0.0"]
    assert datax("model", "show", cwd=work).stdout == "asr\tv1.1.0\tprod=v1.0.0\n"
    git("push", "-q", "origin", "--tags", cwd=work)
    got = datax("get", str(server), "--rev", "asr#prod", "-o", "prod.bin", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "prod.bin").read_bytes() == first

    # Assigned to 1.1.0 again, then 1.1.0 deregistered: prod falls back to 1.0.0 once more.
    assert datax("model", "assign", "asr", "prod", "--version", "1.1.0", cwd=work, env=at_next_second()).returncode == 0
    assert datax("model", "show", cwd=work).stdout == "asr\tv1.1.0\tprod=v1.1.0\n"
    deregister = subprocess.run(["gto", "deprecate", "asr", "v1.1.0"], cwd=work, capture_output=True, text=True,
                                env={**os.environ, **at_next_second()})
    assert deregister.returncode == 0, deregister.stderr
    assert gto_prod() == ["v1.0.0"]
    assert datax("model", "show", cwd=work).stdout == "asr\tv1.0.0\tprod=v1.0.0\n"
