"""Edge cases of plain git use with tracked files: each comes back bit for bit, status stays clean."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import (
    datax, git, git_bytes, object_path, oid_of, random_bytes, sha256, stub_bytes, write,
)


def commit_all(message: str) -> None:
    git("add", "-A")
    git("commit", "-qm", message)


def assert_clean() -> None:
    assert git("status", "--porcelain").stdout == ""


def fresh_checkout(repo: Path, *paths: str) -> None:
    """Delete the files and check them out again, so the smudge filter writes them."""
    for p in paths:
        (repo / p).unlink()
    git("checkout", "--", *paths)


def test_empty_file_stays_empty_with_no_stub_and_no_object(data_repo: Path) -> None:
    write(data_repo / "empty.bin", b"")
    commit_all("empty")
    assert git("cat-file", "-s", "HEAD:empty.bin").stdout == "0\n"
    assert not object_path(data_repo, oid_of(b"")).exists()
    fresh_checkout(data_repo, "empty.bin")
    assert (data_repo / "empty.bin").read_bytes() == b""
    assert_clean()


@pytest.mark.parametrize("size", [1023, 1024, 1025])
def test_files_around_the_stub_size_limit_are_content(data_repo: Path, size: int) -> None:
    # Each starts like a stub, so only the length and the exact grammar tell them apart.
    looks_like_a_stub = (stub_bytes(b"x") + b"#" * size)[:size]
    plain = random_bytes(size, seed=size)
    write(data_repo / "stubby.bin", looks_like_a_stub)
    write(data_repo / "plain.bin", plain)
    commit_all(f"{size} bytes")
    for path, data in (("stubby.bin", looks_like_a_stub), ("plain.bin", plain)):
        assert git_bytes("cat-file", "-p", f"HEAD:{path}") == stub_bytes(data)
        assert object_path(data_repo, oid_of(data)).is_file()
    fresh_checkout(data_repo, "stubby.bin", "plain.bin")
    assert (data_repo / "stubby.bin").read_bytes() == looks_like_a_stub
    assert (data_repo / "plain.bin").read_bytes() == plain
    assert_clean()


def test_binary_content_with_nul_bytes(data_repo: Path) -> None:
    data = b"\0" * 1000 + bytes(range(256)) * 40 + b"\0\r\n\0\n\r" + b"\0" * 1000
    write(data_repo / "nul.bin", data)
    commit_all("nul")
    assert git_bytes("cat-file", "-p", "HEAD:nul.bin") == stub_bytes(data)
    fresh_checkout(data_repo, "nul.bin")
    assert (data_repo / "nul.bin").read_bytes() == data
    assert_clean()


def test_crlf_text_is_not_converted(data_repo: Path) -> None:
    # -text in the attributes: line endings are data, even with core.autocrlf set.
    data = b"a,b\r\n1,2\r\n3,4\n"
    git("config", "core.autocrlf", "true")
    write(data_repo / "dos.csv", data)
    commit_all("crlf")
    fresh_checkout(data_repo, "dos.csv")
    assert (data_repo / "dos.csv").read_bytes() == data
    assert_clean()


def test_paths_with_spaces_and_non_ascii_characters(data_repo: Path) -> None:
    files = {
        "données d'entraînement/modèle v1.bin": random_bytes(3000, seed=1),
        "with space/ä ö ü.csv": b"\xc3\xa4,\xc3\xb6\n1,2\n",
        "日本語/データ.bin": random_bytes(2000, seed=2),
        " leading and trailing .bin": b"spaces",
    }
    for path, data in files.items():
        write(data_repo / path, data)
    commit_all("unicode")
    for path, data in files.items():
        assert git_bytes("cat-file", "-p", f"HEAD:{path}") == stub_bytes(data)
    git("rm", "-rq", "--cached", ".")
    for path in files:
        (data_repo / path).unlink()
    git("reset", "-q", "--hard")
    for path, data in files.items():
        assert (data_repo / path).read_bytes() == data
    assert_clean()
    listing = datax("ls-files").stdout
    for path in files:
        assert f"  {path}\n" in listing


def test_executable_bit_is_kept(data_repo: Path) -> None:
    write(data_repo / "tool.bin", b"#!/bin/sh\necho hi\n" + b"\0" * 100)
    os.chmod(data_repo / "tool.bin", 0o755)
    commit_all("exec")
    assert git("ls-tree", "HEAD", "tool.bin").stdout.startswith("100755 blob ")
    git("rm", "-q", "tool.bin")
    git("commit", "-qm", "gone")
    git("checkout", "-q", "HEAD~1")
    mode = (data_repo / "tool.bin").stat().st_mode
    assert mode & stat.S_IXUSR
    assert (data_repo / "tool.bin").read_bytes().startswith(b"#!/bin/sh\n")
    assert_clean()


def test_rename_keeps_the_stub_and_both_commits_restore(data_repo: Path) -> None:
    data = random_bytes(4000, seed=3)
    write(data_repo / "models/old name.bin", data)
    commit_all("add")
    git("mv", "models", "weights")
    git("mv", "weights/old name.bin", "weights/new.bin")
    git("commit", "-qm", "rename")
    assert git_bytes("cat-file", "-p", "HEAD:weights/new.bin") == stub_bytes(data)
    assert "R100\tmodels/old name.bin\tweights/new.bin" in git("show", "--name-status", "-M", "HEAD").stdout
    assert (data_repo / "weights/new.bin").read_bytes() == data
    assert_clean()
    git("checkout", "-q", "HEAD~1")
    assert (data_repo / "models/old name.bin").read_bytes() == data
    assert not (data_repo / "weights").exists()
    assert_clean()


def test_stash_and_stash_pop(data_repo: Path) -> None:
    v1, v2 = random_bytes(5000, seed=1), random_bytes(6000, seed=2)
    write(data_repo / "m.bin", v1)
    commit_all("v1")
    write(data_repo / "m.bin", v2)
    write(data_repo / "new.csv", b"a,b\n")
    git("add", "new.csv")
    git("stash", "-q")
    assert (data_repo / "m.bin").read_bytes() == v1
    assert not (data_repo / "new.csv").exists()
    assert_clean()
    assert git_bytes("cat-file", "-p", "stash@{0}:m.bin") == stub_bytes(v2)
    git("stash", "pop", "-q")
    assert (data_repo / "m.bin").read_bytes() == v2
    assert (data_repo / "new.csv").read_bytes() == b"a,b\n"
    assert sorted(git("status", "--porcelain").stdout.splitlines()) == [" M m.bin", "A  new.csv"]


def test_merge_where_both_sides_changed_a_tracked_file(data_repo: Path) -> None:
    base, ours, theirs = (random_bytes(3000, seed=s) for s in (1, 2, 3))
    path = "data set/train ü.bin"
    write(data_repo / path, base)
    commit_all("base")
    git("checkout", "-qb", "theirs")
    write(data_repo / path, theirs)
    commit_all("theirs")
    git("checkout", "-q", "main")
    write(data_repo / path, ours)
    commit_all("ours")

    merge = git("merge", "theirs", check=False)
    assert merge.returncode == 1
    assert f"CONFLICT (content): Merge conflict in {path}" in merge.stdout
    assert merge.stderr == (
        f"gitdatax: {path}: both sides changed it; the work tree keeps our version. "
        f"Use `git checkout --theirs -- '{path}'` for theirs, then `git add` it.\n"
    )
    # Real content of ours, not a stub, and no conflict markers.
    assert (data_repo / path).read_bytes() == ours
    stages = git("ls-files", "-s", "-z", "--", path).stdout.split("\0")
    assert [s.split()[2] for s in stages if s] == ["1", "2", "3"]

    git("checkout", "--theirs", "--", path)
    assert (data_repo / path).read_bytes() == theirs
    git("add", "--", path)
    git("commit", "-qm", "merged: theirs")
    assert git_bytes("cat-file", "-p", f"HEAD:{path}") == stub_bytes(theirs)
    assert_clean()


def test_merge_where_one_side_changed_a_tracked_file_is_clean(data_repo: Path) -> None:
    base, theirs = random_bytes(3000, seed=1), random_bytes(3000, seed=3)
    write(data_repo / "a.bin", base)
    write(data_repo / "b.bin", base + b"b")
    commit_all("base")
    git("checkout", "-qb", "theirs")
    write(data_repo / "a.bin", theirs)
    commit_all("theirs")
    git("checkout", "-q", "main")
    write(data_repo / "b.bin", b"ours changed b")
    commit_all("ours")
    git("merge", "-q", "--no-edit", "theirs")
    assert (data_repo / "a.bin").read_bytes() == theirs
    assert (data_repo / "b.bin").read_bytes() == b"ours changed b"
    assert git_bytes("cat-file", "-p", "HEAD:a.bin") == stub_bytes(theirs)
    assert_clean()


def test_worktree_add_shares_the_store(data_repo: Path) -> None:
    v1 = random_bytes(5000, seed=1)
    write(data_repo / "m.bin", v1)
    commit_all("v1")
    wt = data_repo.parent / "second tree"
    git("worktree", "add", "-q", "-b", "side", str(wt))
    assert (wt / "m.bin").read_bytes() == v1
    v2 = random_bytes(5000, seed=2)
    write(wt / "m.bin", v2)
    git("commit", "-qam", "v2 in the worktree", cwd=wt)
    # The worktree's object landed in the one shared store, not in a per-worktree store.
    assert object_path(data_repo, oid_of(v2)).is_file()
    assert not list((data_repo / ".git/worktrees").glob("*/datax"))
    git("merge", "-q", "side")
    assert (data_repo / "m.bin").read_bytes() == v2
    assert sha256(wt / "m.bin") == oid_of(v2)
    assert_clean()


def test_a_file_that_is_itself_a_stub_of_an_unknown_object_is_kept(data_repo: Path) -> None:
    """Clean is idempotent: a valid stub is stored as it is. On checkout it is a stub like any
    other; with its object absent, the file keeps those bytes and the filter says so."""
    absent = b"content this repository never saw"
    stub = stub_bytes(absent)
    write(data_repo / "looks like a stub.bin", stub)
    commit_all("a stub as content")
    assert git_bytes("cat-file", "-p", "HEAD:looks like a stub.bin") == stub
    assert_clean()
    (data_repo / "looks like a stub.bin").unlink()
    proc = git("checkout", "--", "looks like a stub.bin")
    assert (data_repo / "looks like a stub.bin").read_bytes() == stub
    assert proc.stderr == (
        f"git-datax: looks like a stub.bin: object {oid_of(absent)} is not in the local store; "
        "the stub was checked out (run `git datax pull` to fill it in)\n"
    )
    assert_clean()


def test_a_file_that_is_itself_a_stub_of_a_stored_object_checks_out_as_that_object(data_repo: Path) -> None:
    """The documented consequence: Git cannot tell a stub written by hand from one written by
    clean, so checkout replaces it with the object's content when the store has it."""
    model = random_bytes(3000, seed=9)
    write(data_repo / "model.bin", model)
    commit_all("model")
    write(data_repo / "copy.bin", stub_bytes(model))
    commit_all("hand-written stub")
    assert git_bytes("cat-file", "-p", "HEAD:copy.bin") == stub_bytes(model)
    assert (data_repo / "copy.bin").read_bytes() == stub_bytes(model)  # nothing rewrote it yet
    fresh_checkout(data_repo, "copy.bin")
    assert (data_repo / "copy.bin").read_bytes() == model
    assert_clean()


def test_untracked_path_keeps_stub_text_as_plain_content(data_repo: Path) -> None:
    """Outside the tracked patterns no filter runs: stub text is ordinary text there."""
    model = random_bytes(3000, seed=9)
    write(data_repo / "model.bin", model)
    write(data_repo / "notes/stub.txt", stub_bytes(model))
    commit_all("model and a stub in a text file")
    fresh_checkout(data_repo, "notes/stub.txt")
    assert (data_repo / "notes/stub.txt").read_bytes() == stub_bytes(model)
    assert_clean()


def test_a_path_that_is_not_utf8_is_stored_restored_and_listed(data_repo: Path) -> None:
    name = os.fsdecode(b"caf\xe9 latin-1.bin")  # git paths are bytes; this one is not UTF-8
    write(data_repo / name, b"latin-1 name")
    commit_all("latin-1")
    fresh_checkout(data_repo, name)
    assert (data_repo / name).read_bytes() == b"latin-1 name"
    assert_clean()
    # A strict UTF-8 stdout (a usual desktop locale) must not turn a listing into a crash.
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for command in (["status", "--all"], ["ls-files"]):
        proc = subprocess.run(["git", "datax", *command], capture_output=True, env=env)
        assert proc.returncode == 0, proc.stderr
        assert b"caf\xe9 latin-1.bin\n" in proc.stdout


@pytest.mark.parametrize("same_start", [False, True])
def test_hash_object_of_other_bytes_under_a_tracked_path_stores_those_bytes(data_repo: Path, same_start: bool) -> None:
    # git cleans bytes from standard input under the path of a committed file of the same size:
    # the guess that a re-cleaned big file is already stored must not take the file's bytes.
    size = 5 * 1024 * 1024 + 3
    mine = random_bytes(size, seed=11)
    write(data_repo / "big.bin", mine)
    commit_all("big")
    other = random_bytes(size, seed=12)
    if same_start:  # all but the last bytes alike: the guess is taken, and proved wrong by the hash
        other = mine[:-3] + bytes(b ^ 0xFF for b in mine[-3:])
    proc = git("hash-object", "-w", "--stdin", "--path=big.bin", input=other, check=False)
    if same_start:
        # The work tree's bytes are not what git sent, and git's were only hashed: refused,
        # with nothing stored, rather than a stub for bytes that are nowhere.
        assert proc.returncode != 0
        assert "git-datax: cannot store big.bin: git sent other bytes than the file holds, " in proc.stderr
        assert not object_path(data_repo, oid_of(other)).exists()
        return
    blob = proc.stdout.strip()
    assert git_bytes("cat-file", "-p", blob) == stub_bytes(other)
    assert sha256(data_repo / "big.bin") == oid_of(mine)  # the work tree is untouched
    out = subprocess.run(["git-datax", "smudge", "--", "big.bin"], input=stub_bytes(other), capture_output=True,
                         cwd=data_repo)
    assert out.returncode == 0 and out.stdout == other
