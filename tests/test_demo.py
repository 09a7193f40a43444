"""The README's first command: `git datax demo` runs the main job end to end and passes."""
from __future__ import annotations

from pathlib import Path

from helpers import datax


def test_demo_runs_and_passes(tmp_path: Path) -> None:
    proc = datax("demo", "--size-mib", "2", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"==> new repository in {tmp_path / 'demo' / 'repo'}"
    assert "    data/train.csv: v1 restored bit for bit" in "\n".join(lines)
    assert "    models/asr.bin: v1 restored bit for bit" in "\n".join(lines)
    assert "    git status: clean" in lines
    assert "    version gitdatax/1" in lines
    assert "    models/tiny.bin: the lr 0.1 model is back, from the run cache" in lines
    assert "    exp2: lr 0.4, final train/loss 0.1643" in lines
    assert '    {"dvclive/metrics.json": {"train.loss": {"old": 0.5159, "new": 0.1643, "diff": -0.3516}}}' in lines
    assert f"    {tmp_path / 'demo' / 'report.html'}: 3 chart(s); exp2 has the lowest loss" in lines
    assert (tmp_path / "demo" / "report.html").read_text().count("<svg") == 3
    assert lines[-1] == ("demo passed: v1's data and model came back exactly; repro ran only what changed and "
                         "restored the rest; the comparison found the best run")
    assert proc.stdout.count("Running stage 'train'") == 2 and proc.stdout.count("Running stage 'prepare'") == 1
    assert "Restored stage 'train' from the run cache (params train.lr 0.2 -> 0.1)" in proc.stdout
    assert (tmp_path / "demo/repo/.git/datax/objects").is_dir()  # --dir keeps the repository


def test_demo_refuses_an_existing_repository(tmp_path: Path) -> None:
    (tmp_path / "demo" / "repo").mkdir(parents=True)
    proc = datax("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (
        1, f"git-datax: error: {tmp_path / 'demo' / 'repo'} already exists; pick another --dir\n"
    )
