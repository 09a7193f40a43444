from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from helpers import git  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME with only `git datax install --global` in its git config, and a pinned
    environment, so no user or system setting leaks into a test."""
    assert shutil.which("git-datax"), "git-datax must be installed (pip install -e .) for the tests"
    home = tmp_path / "home"
    home.mkdir()
    for var in list(os.environ):
        if var.startswith("GIT_") or var.startswith("AWS_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # DVC's system and global config (its global one is under XDG_CONFIG_HOME already)
    for var in ("DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(home / "dvc-system"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.invalid")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    # install --global writes its man page here, not in /usr/local/share/man (the suite writes
    # nothing outside its temporary folders); man looks here first.
    monkeypatch.setenv("GIT_DATAX_MANDIR", str(home / "man"))
    monkeypatch.setenv("MANPATH", f"{home / 'man'}:")
    git("config", "--global", "init.defaultBranch", "main")
    git("config", "--global", "advice.detachedHead", "false")
    proc = subprocess.run(["git-datax", "install", "--global"], capture_output=True, text=True, cwd=home)
    assert proc.returncode == 0, proc.stderr
    return home


@pytest.fixture
def make_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Factory: a new repository (hooks installed) at tmp_path/NAME."""

    def make(name: str = "repo", *, hooks: bool = True) -> Path:
        path = tmp_path / name
        git("init", "-q", str(path))
        if hooks:
            proc = subprocess.run(["git-datax", "install", "--global"], capture_output=True, text=True, cwd=path)
            assert proc.returncode == 0, proc.stderr
        return path

    return make


@pytest.fixture
def repo(make_repo, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A new repository with gitdatax installed; the test runs inside it."""
    path = make_repo("repo")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def data_repo(repo: Path) -> Path:
    """`repo` with *.bin and *.csv tracked and .gitattributes committed."""
    proc = subprocess.run(["git", "datax", "track", "*.bin", "*.csv"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    git("add", ".gitattributes")
    git("commit", "-qm", "track data")
    return repo
