"""git.CatFile, the one reader of git objects, and git.rev_list_objects, against real git."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitdatax import git
from gitdatax.errors import GitError, MissingGitObject
from helpers import git as run_git, random_bytes, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "r"
    run_git("init", "-q", str(repo))
    write(repo / "small.txt", b"hello\n")
    write(repo / "with space.txt", b"spaced\n")
    write(repo / "big.bin", random_bytes(3 << 20, 1))  # larger than any pipe buffer
    write(repo / "empty", b"")
    run_git("add", "-A", cwd=repo)
    run_git("commit", "-qm", "one", cwd=repo)
    return repo


def blob_id(repo: Path, rev: str) -> str:
    return run_git("rev-parse", rev, cwd=repo).stdout.strip()


def test_one_at_a_time_by_id_and_by_revision(repo: Path) -> None:
    big = (repo / "big.bin").read_bytes()
    with git.CatFile(repo) as cat:
        assert cat.info("HEAD:small.txt") == git.ObjectInfo(blob_id(repo, "HEAD:small.txt"), "blob", 6)
        assert cat.read("HEAD:with space.txt") == b"spaced\n"
        assert cat.read("HEAD:empty") == b""
        assert cat.info("HEAD^{commit}").kind == "commit"  # type: ignore[union-attr]
        assert cat.info("HEAD:no-such-file") is None
        assert cat.read("HEAD:big.bin", limit=1023) is None  # over the limit: not transferred
        assert cat.read("HEAD:small.txt", limit=6) == b"hello\n"
        assert b"".join(cat.stream("HEAD:big.bin", chunk=1 << 16)) == big
        assert cat.read(blob_id(repo, "HEAD:big.bin")) == big  # any size, whole when asked
        assert cat.size("HEAD:big.bin") == len(big)
        with pytest.raises(MissingGitObject, match="no-such-file is missing from the repository"):
            cat.read("HEAD:no-such-file")
        with pytest.raises(MissingGitObject):
            cat.stream("0" * 40)
        assert cat.read("HEAD:small.txt") == b"hello\n"  # still in step after the misses


def test_many_at_once_in_order_with_a_limit(repo: Path) -> None:
    revs = ["HEAD:small.txt", "HEAD:nothing", "HEAD:big.bin", "HEAD:with space.txt", "HEAD:empty"] * 300
    with git.CatFile(repo) as cat:
        infos = list(cat.infos(revs))
        assert [rev for rev, _ in infos] == revs
        assert [info.size if info else None for _, info in infos][:5] == [6, None, 3 << 20, 7, 0]
        got = list(cat.contents(revs, limit=1023))
        assert [(rev, data) for rev, _, data in got][:3] == [
            ("HEAD:small.txt", b"hello\n"), ("HEAD:with space.txt", b"spaced\n"), ("HEAD:empty", b"")]
        assert len(got) == 3 * 300  # the big one and the missing one never come
        every = list(cat.contents(revs[:5]))
        assert [data for _, _, data in every][1] == (repo / "big.bin").read_bytes()


def test_a_caller_that_stops_early_leaves_the_reader_in_step(repo: Path) -> None:
    with git.CatFile(repo) as cat:
        for _ in cat.contents(["HEAD:big.bin"] * 20):
            break  # 60 MiB still on its way: read and dropped, not left for the next question
        assert cat.read("HEAD:small.txt") == b"hello\n"


def test_a_name_with_a_newline_is_refused_not_sent(repo: Path) -> None:
    with git.CatFile(repo) as cat:
        with pytest.raises(Exception, match="a name with a newline"):
            list(cat.infos(["HEAD:small.txt", "HEAD\nflush"]))
        assert cat.read("HEAD:small.txt") == b"hello\n"


def test_outside_a_repository_git_s_own_words(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository") as caught:
        with git.CatFile(tmp_path) as cat:
            cat.info("HEAD")
    assert caught.value.returncode == 128
    assert caught.value.cmd[:2] == ["git", "cat-file"]


def test_rev_list_objects_types_sizes_and_paths(repo: Path) -> None:
    objects = list(git.rev_list_objects(["HEAD"], cwd=repo))
    assert sorted(info.kind for info, path in objects if not path) == ["commit", "tree"]  # the root tree too
    listed = {path: info for info, path in objects}
    assert listed["with space.txt"] == git.ObjectInfo(blob_id(repo, "HEAD:with space.txt"), "blob", 7)
    assert listed["big.bin"].size == 3 << 20
    assert sorted(p for p, i in listed.items() if i.kind == "blob") == ["big.bin", "empty", "small.txt",
                                                                      "with space.txt"]
    with pytest.raises(GitError, match="rev-list --objects no-such-branch` exited 128") as caught:
        list(git.rev_list_objects(["no-such-branch"], cwd=repo))
    assert "ambiguous argument 'no-such-branch'" in caught.value.stderr
    for _ in git.rev_list_objects(["HEAD"], cwd=repo):
        break  # stopping early is no error


def test_is_zero_oid_in_both_object_formats() -> None:
    assert git.is_zero_oid("0" * 40) and git.is_zero_oid("0" * 64)
    assert not git.is_zero_oid("0" * 39 + "1") and not git.is_zero_oid("")
