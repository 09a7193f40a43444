"""Git workflows beyond add/commit/checkout, with real git: the work tree must end with real
bytes, `git status` clean, nothing lost, and errors in one line."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdatax.fetcher import CHEAP_FETCH_MAX
from helpers import datax, git, is_stub, oid_of, random_bytes, sha256
from synchelpers import clone, fresh_home, make_team_repo


def test_clone_downloads_through_delay_for_paths_git_quotes(tmp_path: Path) -> None:
    # Large objects come through the filter protocol's `delay`, where the filter hands the
    # pathnames back to git: a path that is not UTF-8, or that ends with a newline, must come
    # back byte for byte (git knows no other name), or git aborts the clone's checkout.
    big = CHEAP_FETCH_MAX + 1
    files = {
        os.fsdecode(b"data/caf\xe9.bin"): random_bytes(big, seed=1),
        "data/trailing newline.bin\n": random_bytes(big, seed=2),
        "data/plain.bin": random_bytes(big, seed=3),
    }
    server, work = make_team_repo(tmp_path, {})
    (work / ".gitattributes").write_text("data/** filter=datax diff=datax merge=datax -text\n")
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "awkward names", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)

    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    proc = clone(server, dest, env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "git-datax" not in proc.stderr
    for path, data in files.items():
        assert sha256(dest / path) == oid_of(data), path
    assert git("status", "--porcelain", cwd=dest, env=env).stdout == ""


def test_checkout_of_an_object_the_remote_lacks_says_so_in_one_sentence(tmp_path: Path) -> None:
    data = random_bytes(3000, seed=4)
    server, work = make_team_repo(tmp_path, {"a.bin": data})
    git("push", "-q", "origin", "main", cwd=work)
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    clone(server, dest, {**env, "GIT_DATAX_SKIP_SMUDGE": "1"})
    oid = oid_of(data)
    (server / "datax/objects" / oid[:2] / oid[2:4] / oid).unlink()
    (dest / "a.bin").unlink()
    proc = git("checkout", "--", "a.bin", cwd=dest, env=env)
    first = proc.stderr.splitlines()[0]
    assert first == (f"git-datax: a.bin: cannot fetch object {oid}: object {oid} is not on remote "
                     f"{server / 'datax'}; the stub was checked out instead")
    assert is_stub((dest / "a.bin").read_bytes())
    assert git("status", "--porcelain", cwd=dest, env=env).stdout == ""


def test_core_hookspath_dev_null_is_one_line_not_a_crash(repo: Path) -> None:
    # `core.hooksPath=/dev/null` is the usual way to switch hooks off.
    git("config", "core.hooksPath", os.devnull)
    proc = datax("install", "--local")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        f"git-datax: error: cannot install hooks in {os.devnull} (core.hooksPath): it is not a folder; "
        "point core.hooksPath at a folder, or install with --skip-hooks")
    assert datax("install", "--local", "--skip-hooks").returncode == 0
    proc = datax("env")
    assert proc.returncode == 0, proc.stderr
    assert f"{os.devnull} (missing: pre-commit, pre-push" in proc.stdout
    proc = datax("uninstall", "--local")
    assert proc.returncode == 0, proc.stderr
    assert "hook" not in proc.stderr


@pytest.mark.parametrize("path", ["-d.bin", "-h"])
def test_merge_conflict_on_a_path_that_starts_with_a_dash(data_repo: Path, path: str) -> None:
    # Git gives the merge driver the path as its last argument: one that looks like an option
    # must not be parsed as one ("-h" printed the help and exited 0: a clean merge that kept
    # ours and silently dropped their change).
    (data_repo / ".gitattributes").write_text("-h filter=datax diff=datax merge=datax -text\n*.bin "
                                              "filter=datax diff=datax merge=datax -text\n")
    base, ours, theirs = (random_bytes(3000, seed=s) for s in (1, 2, 3))
    (data_repo / path).write_bytes(base)
    git("add", "-A")
    git("commit", "-qm", "base")
    git("checkout", "-qb", "theirs")
    (data_repo / path).write_bytes(theirs)
    git("commit", "-qam", "theirs")
    git("checkout", "-q", "main")
    (data_repo / path).write_bytes(ours)
    git("commit", "-qam", "ours")
    merge = git("merge", "--no-edit", "theirs", check=False)
    assert merge.returncode == 1, merge.stdout
    assert merge.stderr == (
        f"gitdatax: {path}: both sides changed it; the work tree keeps our version. "
        f"Use `git checkout --theirs -- {path}` for theirs, then `git add` it.\n"
    )
    assert (data_repo / path).read_bytes() == ours
    git("checkout", "--theirs", "--", path)
    assert (data_repo / path).read_bytes() == theirs
