"""What a DVC or Git LFS user types in the first hour (issue 16 item 3): their commands are
answered with the one that does the job here, not only with the list of commands."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import datax


@pytest.mark.parametrize("argv, answer", [
    (["add"], "`git datax add` does not exist: `git datax track 'PATTERN'` says which files are data (once), then "
              "plain `git add PATH` stores them"),
    (["init"], "`git datax init` does not exist: `git datax install` (once per machine, and in each repository "
               "for its hooks); then `git datax track 'PATTERN'` for the data files"),
    (["commit", "-m", "x"], "`git datax commit` does not exist: plain `git add PATH` and `git commit`: the filter "
                            "stores the data as git adds it"),
    (["lock", "a.bin"], "`git datax lock` does not exist: nothing: gitdatax has no file locks; its merge driver "
                        "keeps your copy on a conflict"),
    (["prune"], "`git datax prune` does not exist: `git datax gc` (keeps what is not safely on the remote)"),
    (["run", "python", "train.py"], "`git datax run` does not exist: `git datax stage add -n NAME -d DEP -o OUT "
                                    "CMD`, then `git datax repro`"),
])
def test_dvc_and_git_lfs_verbs_name_what_does_their_job(tmp_path: Path, argv: list[str], answer: str) -> None:
    proc = datax(*argv, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"git-datax: error: {answer} (see `git datax --help`)\n"


def test_commands_that_exist_are_not_taken_for_other_tools_verbs(repo: Path) -> None:
    # `list` is a command of its own (git datax list REPO), `track` and `status` too.
    assert "does not exist" not in datax("list", "--help").stderr
    assert datax("status").returncode == 0
    proc = datax("frobnicate")
    assert proc.returncode == 1 and "unknown command 'frobnicate'" in proc.stderr


def test_dvc_add_with_paths_gets_the_exact_commands(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    proc = datax("add", "models", "data/train set.csv", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("git-datax: error: `git datax add` does not exist: run `git datax track 'models/**' "
                           "'data/train set.csv'`, then `git add .gitattributes models 'data/train set.csv'`\n")
