"""README.md's "Pipelines" block works as written, and the datax.yaml it shows is what it writes."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pipeline_helpers import PIPELINE, make_project, runs

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_pipelines_block(repo: Path) -> None:
    text = README.read_text()
    section = text.split("\n## Pipelines\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    shown_yaml = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert blocks and shown_yaml, "README's Pipelines section lost its sh or yaml block"
    make_project(repo)
    (repo / "datax.yaml").unlink()  # the block's stage add commands write it
    proc = subprocess.run(["bash", "-euc", blocks[0]], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert runs(repo) == ["prepare", "train", "train"]  # the last repro restored, it did not run
    assert "Restored stage 'train' from the run cache" in proc.stdout
    assert "train: params train.lr 0.1 -> 0.2" in proc.stdout
    assert (repo / "datax.yaml").read_bytes() == PIPELINE == shown_yaml[0].encode()
