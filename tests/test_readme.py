"""README.md's "Using it" block works as written (the Quick start's demo: tests/test_demo.py)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers import git, git_bytes, oid_of, random_bytes, sha256, stub_bytes, write

README = Path(__file__).resolve().parent.parent / "README.md"


def using_it_block() -> tuple[str, str]:
    """The block's commands before and after its '# ... retrain' line (where a user retrains)."""
    text = README.read_text()
    block = re.search(r"## Using it\n\n```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block under '## Using it'"
    before, retrain, after = block.group(1).partition("\n# ... retrain")
    assert retrain, "the block no longer has its '# ... retrain' step"
    return before, after.partition("\n")[2]


def run(script: str, cwd: Path) -> None:
    proc = subprocess.run(["bash", "-euc", script], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{script}\n{proc.stdout}\n{proc.stderr}"


def test_readme_using_it_block(tmp_path: Path) -> None:
    before, after = using_it_block()
    project = tmp_path / "my-project"
    git("init", "-q", str(project))
    v1 = {"data/train.csv": b"id,label\n1,yes\n" * 1000, "models/asr.bin": random_bytes(300_000, seed=1)}
    for path, data in v1.items():
        write(project / path, data)
    run(before, cwd=tmp_path)
    for path, data in v1.items():
        assert git_bytes("cat-file", "-p", f"v1:{path}", cwd=project) == stub_bytes(data)
    write(project / "data/train.csv", b"id,label\n1,no\n" * 2000)
    write(project / "models/asr.bin", random_bytes(300_000, seed=2))
    run(after, cwd=project)
    for path, data in v1.items():
        assert sha256(project / path) == oid_of(data)
    assert git("status", "--porcelain", cwd=project).stdout == ""

