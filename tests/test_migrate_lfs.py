"""`git datax migrate from-lfs`, on repositories made by the real git-lfs client."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers import datax, git, git_bytes, is_stub, random_bytes, sha256, write

LFS_LINE = "filter=lfs diff=lfs merge=lfs -text"
DATAX_LINE = "filter=datax diff=datax merge=datax -text"


def lfs(*args: str, cwd: Path) -> None:
    assert shutil.which("git-lfs"), "git-lfs is needed: ./install.sh --dev installs Debian's"
    git("lfs", *args, cwd=cwd)


def work_tree_digests(repo: Path) -> dict[str, str]:
    return {p: sha256(repo / p) for p in git("ls-files", cwd=repo).stdout.splitlines()
            if not p.endswith(".gitattributes")}


def make_lfs_repo(make_repo) -> tuple[Path, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Three commits made with git-lfs (top and nested .gitattributes); each commit's bytes."""
    repo = make_repo("lfs")
    lfs("install", "--local", "--skip-repo", cwd=repo)  # the filter only: gitdatax owns the hooks
    lfs("track", "*.bin", cwd=repo)
    write(repo / "sub/.gitattributes", f"*.raw {LFS_LINE}\n*.txt text\n".encode())
    write(repo / "model.bin", random_bytes(300_000, 1))
    write(repo / "sub/x.raw", random_bytes(40_000, 2))
    write(repo / "readme.txt", b"hello\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "v1", cwd=repo)
    write(repo / "model.bin", random_bytes(310_000, 3))
    git("commit", "-qam", "v2", cwd=repo)
    write(repo / "sub/x.raw", random_bytes(45_000, 4))
    write(repo / "empty.bin", b"")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "v3", cwd=repo)
    assert git_bytes("show", "HEAD:model.bin", cwd=repo).startswith(b"version https://git-lfs")
    digests = []
    for commit in git("rev-list", "--reverse", "HEAD", cwd=repo).stdout.split():
        git("checkout", "-q", commit, cwd=repo)
        digests.append(work_tree_digests(repo))
    git("checkout", "-q", "main", cwd=repo)
    return repo, digests


def pointer_oid(data: bytes) -> str:
    return data.split(b"oid sha256:")[1].split()[0].decode()


def test_from_lfs_rewrite_history_then_push_and_clone(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, digests = make_lfs_repo(make_repo)
    old = git("rev-list", "--reverse", "HEAD", cwd=repo).stdout.split()
    old_pointers = {(i, p): git_bytes("show", f"{c}:{p}", cwd=repo)
                    for i, c in enumerate(old) for p in ("model.bin", "sub/x.raw")}

    proc = datax("migrate", "from-lfs", "--rewrite-history", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "4 Git LFS object(s)" in proc.stderr
    new = git("rev-list", "--reverse", "HEAD", cwd=repo).stdout.split()
    assert len(new) == 3
    for i, commit in enumerate(new):
        assert git("show", f"{commit}:.gitattributes", cwd=repo).stdout == f"*.bin {DATAX_LINE}\n"
        assert git("show", f"{commit}:sub/.gitattributes", cwd=repo).stdout == f"*.raw {DATAX_LINE}\n*.txt text\n"
        for path in ("model.bin", "sub/x.raw"):
            data = git_bytes("show", f"{commit}:{path}", cwd=repo)
            assert is_stub(data)
            assert pointer_oid(data) == pointer_oid(old_pointers[i, path])  # same oid and size
            assert data.split(b"size ")[1] == old_pointers[i, path].split(b"size ")[1]
    assert git_bytes("show", "HEAD:empty.bin", cwd=repo) == b""
    # Every commit checks out with the same bytes as with git-lfs.
    for i, commit in enumerate(new):
        git("checkout", "-q", commit, cwd=repo)
        assert work_tree_digests(repo) == digests[i], i
    git("checkout", "-q", "main", cwd=repo)
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    assert (repo / ".git/lfs/objects").is_dir()  # kept: the backup refs still point at LFS pointers
    assert datax("fsck", "--all", cwd=repo).returncode == 0

    # Pushes to a gitdatax remote (the store of a bare origin) and clones with the data.
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare), cwd=repo)
    push = git("push", "-q", "origin", "main", cwd=repo)
    assert push.returncode == 0
    assert any((bare / "datax" / "objects").rglob("*"))
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone))
    assert work_tree_digests(clone) == digests[-1]
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    git("checkout", "-q", "HEAD~2", cwd=clone)
    assert work_tree_digests(clone) == digests[0]


def test_from_lfs_in_place_stages_the_conversion(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo, digests = make_lfs_repo(make_repo)
    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    proc = datax("migrate", "from-lfs", "--remove-lfs-objects", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "2 file(s)" in proc.stderr and "2 .gitattributes file(s) updated" in proc.stderr
    assert git("rev-parse", "HEAD", cwd=repo).stdout.strip() == head  # nothing committed for you
    staged = set(git("diff", "--cached", "--name-only", cwd=repo).stdout.split())
    assert staged == {".gitattributes", "sub/.gitattributes", "model.bin", "sub/x.raw"}
    assert git("status", "--porcelain", "--untracked-files=no", cwd=repo).stdout.count(" M") == 0
    git("commit", "-qm", "gitdatax", cwd=repo)
    assert is_stub(git_bytes("show", "HEAD:model.bin", cwd=repo))
    assert (repo / ".gitattributes").read_text() == f"*.bin {DATAX_LINE}\n"
    assert work_tree_digests(repo) == digests[-1]
    # The LFS copies of the converted objects are gone; a fresh checkout comes from the store.
    for path in ("model.bin", "sub/x.raw"):
        oid = git("show", f"HEAD:{path}", cwd=repo).stdout.split("oid sha256:")[1].split()[0]
        assert not (repo / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid).exists()
        os.unlink(repo / path)
    git("checkout", "--", ".", cwd=repo)
    assert work_tree_digests(repo) == digests[-1]
    assert git("status", "--porcelain", cwd=repo).stdout == ""


def test_from_lfs_refuses_when_an_lfs_object_is_missing(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo, _ = make_lfs_repo(make_repo)
    first = git("rev-list", "--max-parents=0", "HEAD", cwd=repo).stdout.strip()
    oid = pointer_oid(git_bytes("show", f"{first}:model.bin", cwd=repo))
    os.unlink(repo / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid)
    refs = git("for-each-ref", cwd=repo).stdout
    proc = datax("migrate", "from-lfs", "--rewrite-history", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(f"e.g. model.bin ({oid}): run `git lfs fetch --all` first; nothing was changed")
    assert git("for-each-ref", cwd=repo).stdout == refs
    assert not list((repo / ".git/datax/objects").rglob("*"))
