"""Git workflows beyond add/commit/checkout, with real git: the work tree must end with real
bytes, `git status` clean, nothing lost, and errors in one line."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gitdatax.hooks import installer as hooks
from gitdatax.sync.fetcher import CHEAP_FETCH_MAX
from helpers import datax, git, git_bytes, is_stub, oid_of, random_bytes, sha256, stub_bytes
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


def test_a_sha256_repository_commits_pushes_clones_and_fills_in_stubs(tmp_path: Path) -> None:
    # `git init --object-format=sha256`: blob ids have 64 hex digits, the empty tree another id.
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", "--object-format=sha256", str(server))
    work = tmp_path / "work"
    git("init", "-q", "--object-format=sha256", str(work))
    git("remote", "add", "origin", str(server), cwd=work)
    assert datax("install", "--local", cwd=work).returncode == 0
    assert datax("track", "*.bin", cwd=work).returncode == 0
    data = {"a.bin": random_bytes(3000, seed=5), "b.bin": random_bytes(CHEAP_FETCH_MAX + 1, seed=6)}
    for path, content in data.items():
        (work / path).write_bytes(content)
    git("add", "-A", cwd=work)
    proc = git("commit", "-qm", "first commit", cwd=work, check=False)  # pre-commit on an unborn branch
    assert proc.returncode == 0, proc.stderr
    # The filter's journal of stubs is keyed by SHA-256 blob ids (SHA-1 ones would never match).
    blob = git("rev-parse", "HEAD:a.bin", cwd=work).stdout.strip()
    journal = (work / ".git/datax/known-stubs").read_text().splitlines()
    assert f"{blob} {oid_of(data['a.bin'])} 3000" in journal
    git("push", "-q", "origin", "main", cwd=work)
    git("push", "-q", "origin", "main:topic", cwd=work)
    proc = git("push", "origin", "--delete", "topic", cwd=work, check=False)  # a deletion pushes no data
    assert proc.returncode == 0, proc.stderr

    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    clone(server, dest, env)
    for path, content in data.items():
        assert sha256(dest / path) == oid_of(content), path
    stubs_clone = tmp_path / "stubs"
    clone(server, stubs_clone, {**env, "GIT_DATAX_SKIP_SMUDGE": "1"})
    assert is_stub((stubs_clone / "a.bin").read_bytes())
    proc = datax("pull", cwd=stubs_clone, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "2 file(s) filled in" in proc.stderr
    for path, content in data.items():
        assert sha256(stubs_clone / path) == oid_of(content), path
    assert git("status", "--porcelain", cwd=stubs_clone, env=env).stdout == ""


def test_a_sha256_repository_refusing_a_push_names_the_commit(tmp_path: Path) -> None:
    server, other = tmp_path / "server.git", tmp_path / "other.git"
    for bare in (server, other):
        git("init", "-q", "--bare", "--object-format=sha256", str(bare))
    work = tmp_path / "work"
    git("init", "-q", "--object-format=sha256", str(work))
    git("remote", "add", "origin", str(server), cwd=work)
    assert datax("track", "*.bin", cwd=work).returncode == 0
    (work / "a.bin").write_bytes(random_bytes(3000, seed=7))
    git("add", "-A", cwd=work)
    git("commit", "-qm", "data", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    dest = tmp_path / "stubs"
    clone(server, dest, {"GIT_DATAX_SKIP_SMUDGE": "1"})
    git("remote", "add", "other", str(other), cwd=dest)
    proc = git("push", "other", "main", cwd=dest, check=False)
    assert proc.returncode != 0
    commit = git("rev-parse", "HEAD", cwd=dest).stdout.strip()
    assert f"  a.bin (commit {commit[:12]}): object " in proc.stderr


def test_the_filter_leaves_a_hooks_folder_inside_the_work_tree_alone(tmp_path: Path) -> None:
    # A team that commits its hooks (core.hooksPath=.githooks, husky and the like): the hooks are
    # project files. The filter installing or refreshing hooks there (at every clone, with this
    # machine's git-datax path) modified tracked files and left untracked ones behind.
    data = random_bytes(3000, seed=8)
    server, work = make_team_repo(tmp_path, {"a.bin": data})
    team_hook = b"#!/bin/sh\necho team pre-commit\n"
    # our pre-push as another machine's install wrote it (committed by a teammate)
    ours_elsewhere = re.sub(r"(?m)^datax=.*$", "datax=/opt/elsewhere/bin/git-datax", hooks.render("pre-push")).encode()
    assert b"datax=/opt/elsewhere/bin/git-datax\n" in ours_elsewhere
    for name, text in (("pre-commit", team_hook), ("pre-push", ours_elsewhere)):
        (work / ".githooks").mkdir(exist_ok=True)
        (work / ".githooks" / name).write_bytes(text)
        (work / ".githooks" / name).chmod(0o755)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "team hooks", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)

    env = fresh_home(tmp_path, "home2")
    git("config", "--global", "core.hooksPath", ".githooks", env=env)
    dest = tmp_path / "teammate"
    clone(server, dest, env)
    assert sha256(dest / "a.bin") == oid_of(data)
    (dest / "b.bin").write_bytes(random_bytes(3000, seed=9))
    git("add", "b.bin", cwd=dest, env=env)
    assert git("status", "--porcelain", cwd=dest, env=env).stdout == "A  b.bin\n"
    assert (dest / ".githooks/pre-commit").read_bytes() == team_hook
    assert (dest / ".githooks/pre-push").read_bytes() == ours_elsewhere
    assert sorted(os.listdir(dest / ".githooks")) == ["pre-commit", "pre-push"]


def test_pull_in_a_sparse_checkout_downloads_only_what_the_work_tree_holds(tmp_path: Path) -> None:
    files = {"keep/a.bin": random_bytes(3000, seed=10), "keep/big.bin": random_bytes(CHEAP_FETCH_MAX + 1, seed=11),
             "other/b.bin": random_bytes(3000, seed=12)}
    server, work = make_team_repo(tmp_path, files)
    git("push", "-q", "origin", "main", cwd=work)
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    skip = {**env, "GIT_DATAX_SKIP_SMUDGE": "1"}
    git("clone", "-q", "--no-checkout", str(server), str(dest), env=skip)
    git("sparse-checkout", "set", "keep", cwd=dest, env=skip)
    git("checkout", "-q", "main", cwd=dest, env=skip)
    assert not (dest / "other").exists() and is_stub((dest / "keep/a.bin").read_bytes())
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    for path in ("keep/a.bin", "keep/big.bin"):
        assert sha256(dest / path) == oid_of(files[path]), path
    assert git("status", "--porcelain", cwd=dest, env=env).stdout == ""
    # Outside the sparse checkout nothing was downloaded (a sparse checkout of a big data set
    # exists to leave the rest of it on the server).
    oid = oid_of(files["other/b.bin"])
    assert not (dest / ".git/datax/objects" / oid[:2] / oid[2:4] / oid).exists()
    assert "2 object(s) downloaded" in proc.stderr


def test_messages_name_a_path_that_is_not_utf8_by_its_bytes(data_repo: Path) -> None:
    # Git prints such a path as its bytes; a message must too, or its advice names another file.
    name = os.fsdecode(b"caf\xe9.bin")
    (data_repo / name).write_bytes(random_bytes(3000, seed=13))
    git("add", "-A")
    git("commit", "-qm", "base")
    git("checkout", "-qb", "theirs")
    (data_repo / name).write_bytes(random_bytes(3000, seed=14))
    git("commit", "-qam", "theirs")
    git("checkout", "-q", "main")
    (data_repo / name).write_bytes(random_bytes(3000, seed=15))
    git("commit", "-qam", "ours")
    merge = subprocess.run(["git", "merge", "theirs"], capture_output=True)
    assert merge.returncode == 1
    assert b"Use `git checkout --theirs -- 'caf\xe9.bin'` for theirs" in merge.stderr
    # The filter's own messages too: a stub whose object is nowhere.
    git("merge", "--abort")
    missing = random_bytes(100, seed=16)
    (data_repo / name).write_bytes(stub_bytes(missing))
    git("commit", "-qam", "a stub of data that is nowhere")
    os.unlink(data_repo / name)
    proc = subprocess.run(["git", "checkout", "--", name], capture_output=True)
    assert proc.returncode == 0
    assert proc.stderr.startswith(b"git-datax: caf\xe9.bin: object %s is not in the local store" % oid_of(missing).encode())


def test_each_worktree_keeps_its_own_mark_of_stubs_to_fill_in(tmp_path: Path) -> None:
    # Two worktrees share the store; the mark that tells the post-checkout hook "stubs wait
    # here" must not: filling in one worktree cleared the other's, whose stubs then stayed.
    v1, v2 = random_bytes(3000, seed=17), random_bytes(3000, seed=18)
    server, work = make_team_repo(tmp_path, {"a.bin": v1})
    git("tag", "v1", cwd=work)
    (work / "a.bin").write_bytes(v2)
    git("commit", "-qam", "v2", cwd=work)
    git("push", "-q", "origin", "main", "v1", cwd=work)
    hidden = tmp_path / "elsewhere"
    shutil.move(str(server / "datax"), hidden)  # the data server is down
    dest = tmp_path / "teammate"
    clone(server, dest, {})
    git("worktree", "add", "-q", "--detach", str(tmp_path / "wt"), "v1", cwd=dest)
    assert is_stub((dest / "a.bin").read_bytes()) and is_stub((tmp_path / "wt/a.bin").read_bytes())
    shutil.move(str(hidden), server / "datax")
    assert datax("pull", cwd=tmp_path / "wt").returncode == 0  # fills the worktree (v1) only
    assert sha256(tmp_path / "wt/a.bin") == oid_of(v1)
    git("checkout", "-q", "-b", "topic", cwd=dest)  # any checkout: the hook fetches and fills in
    assert sha256(dest / "a.bin") == oid_of(v2)
    assert git("status", "--porcelain", cwd=dest).stdout == ""


def test_status_in_a_sparse_checkout_does_not_list_the_files_left_out(tmp_path: Path) -> None:
    files = {"keep/a.bin": random_bytes(3000, seed=19), **{f"other/{i}.bin": random_bytes(3000, seed=20 + i)
                                                          for i in range(3)}}
    server, work = make_team_repo(tmp_path, files)
    git("push", "-q", "origin", "main", cwd=work)
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    git("clone", "-q", "--no-checkout", str(server), str(dest), env=env)
    git("sparse-checkout", "set", "keep", cwd=dest, env=env)
    git("checkout", "-q", "main", cwd=dest, env=env)
    proc = datax("status", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    # Their data was never fetched, and need not be: git leaves them out of the work tree.
    assert proc.stdout == "gitdatax: 4 tracked file(s), 11.7 KiB of data: 1 committed, 3 outside the sparse checkout\n"
    assert "  outside the sparse checkout    2.9 KiB  other/0.bin\n" in datax("status", "--all", cwd=dest, env=env).stdout


def test_fetch_all_in_a_partial_clone_asks_git_for_the_missing_stubs_in_one_fetch(tmp_path: Path) -> None:
    # git clone --filter=blob:none leaves out the blobs (here, the stubs) of the commits it did
    # not check out; reading them one by one costs a fetch each (minutes on a long history).
    server, work = make_team_repo(tmp_path, {"m.bin": random_bytes(2000, seed=30)})
    versions = [random_bytes(2000, seed=31 + i) for i in range(12)]
    for data in versions:
        (work / "m.bin").write_bytes(data)
        git("commit", "-qam", "another version", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    git("config", "uploadpack.allowFilter", "true", cwd=server)
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    git("clone", "-q", "--filter=blob:none", server.as_uri(), str(dest), env=env)
    packs = len(list((dest / ".git/objects/pack").glob("*.pack")))
    proc = datax("fsck", "--all", cwd=dest, env=env)  # the data is not local yet: missing
    assert proc.returncode == 1 and "12 missing" in proc.stdout, proc.stdout + proc.stderr
    assert len(list((dest / ".git/objects/pack").glob("*.pack"))) == packs + 1  # one fetch
    proc = datax("fetch", "--all", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "12 object(s) downloaded" in proc.stderr  # every version but the checked-out one
    for data in versions:
        oid = oid_of(data)
        assert (dest / ".git/datax/objects" / oid[:2] / oid[2:4] / oid).is_file()
    assert len(list((dest / ".git/objects/pack").glob("*.pack"))) == packs + 1  # one fetch


def test_clone_with_another_remote_name_gets_the_data(tmp_path: Path) -> None:
    # `git clone -o upstream`, or `git remote rename origin github`: with no remote called
    # origin, the only Git remote is the one the data goes with (as git-lfs does).
    data = random_bytes(3000, seed=40)
    server, work = make_team_repo(tmp_path, {"a.bin": data})
    git("push", "-q", "origin", "main", cwd=work)
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    proc = git("clone", "-q", "-o", "upstream", str(server), str(dest), env=env)
    assert proc.stderr == ""
    assert sha256(dest / "a.bin") == oid_of(data)
    (dest / "b.bin").write_bytes(random_bytes(3000, seed=41))
    git("add", "b.bin", cwd=dest, env=env)
    git("commit", "-qm", "b", cwd=dest, env=env)
    proc = git("push", "upstream", "main", cwd=dest, env=env)
    assert "uploaded 1 object(s)" in proc.stderr
    proc = datax("remote", "list", cwd=dest, env=env)
    assert proc.returncode == 0 and f"upstream  {server / 'datax'}  (default)" in proc.stdout


def test_checkout_recurse_submodules_into_a_submodule_with_data(tmp_path: Path) -> None:
    # git read-tree runs the filter in the submodule with GIT_INTERNAL_SUPER_PREFIX set (git
    # 2.39); the filter's own git calls (rev-parse...) refused it: "doesn't support --super-prefix".
    v1, v2 = random_bytes(3000, seed=50), random_bytes(3000, seed=51)
    server, work = make_team_repo(tmp_path, {"a.bin": v1})
    git("tag", "v1", cwd=work)
    (work / "a.bin").write_bytes(v2)
    git("commit", "-qam", "v2", cwd=work)
    git("push", "-q", "origin", "main", "v1", cwd=work)
    allow = ("-c", "protocol.file.allow=always")
    superproject = tmp_path / "super"
    git("init", "-q", str(superproject))
    git(*allow, "submodule", "add", "-q", str(server), "sub", cwd=superproject)
    git("-C", "sub", "checkout", "-q", "v1", cwd=superproject)
    git("commit", "-qam", "sub at v1", cwd=superproject)
    git("-C", "sub", "checkout", "-q", "main", cwd=superproject)
    git("commit", "-qam", "sub at v2", cwd=superproject)
    dest = tmp_path / "clone"
    git(*allow, "clone", "-q", "--recurse-submodules", str(superproject), str(dest))
    assert sha256(dest / "sub/a.bin") == oid_of(v2)
    proc = git(*allow, "checkout", "-q", "--recurse-submodules", "HEAD~1", cwd=dest, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sha256(dest / "sub/a.bin") == oid_of(v1)
    assert git("status", "--porcelain", cwd=dest).stdout == ""
    assert git("status", "--porcelain", cwd=dest / "sub").stdout == ""


def test_a_text_attribute_after_the_datax_line_with_autocrlf_still_checks_out_data(data_repo: Path) -> None:
    # `* text=auto` below gitdatax's lines overrides their -text; with core.autocrlf=true git
    # then turns the stub's LF into CRLF *before* smudge. The stub in git is still the canonical
    # one: the work tree must get the data, and git status stay clean.
    with open(data_repo / ".gitattributes", "a") as f:
        f.write("* text=auto\n")
    git("add", ".gitattributes")
    git("commit", "-qm", "text=auto for everything")
    data = b"id,label\n" + b"".join(b"%d,%d\n" % (i, i % 3) for i in range(300))
    (data_repo / "x.csv").write_bytes(data)
    git("add", "x.csv")
    git("commit", "-qm", "csv")
    git("config", "core.autocrlf", "true")
    os.unlink(data_repo / "x.csv")
    proc = git("checkout", "--", "x.csv")
    assert proc.stderr == ""
    assert (data_repo / "x.csv").read_bytes() == data
    assert git("status", "--porcelain").stdout == ""
    assert git_bytes("cat-file", "-p", "HEAD:x.csv") == stub_bytes(data)


def test_a_text_attribute_after_the_datax_line_with_autocrlf_and_no_object_keeps_the_stub(data_repo: Path) -> None:
    # The same, offline: the stub git wrote (with CRLF) must clean back to the committed stub,
    # or git status shows it modified and `git commit -a` stores the stub text as data.
    with open(data_repo / ".gitattributes", "a") as f:
        f.write("* text=auto\n")
    data = random_bytes(3000, seed=60)
    (data_repo / "m.bin").write_bytes(data)
    git("add", "-A")
    git("commit", "-qm", "model")
    git("config", "core.autocrlf", "true")
    oid = oid_of(data)
    shutil.rmtree(data_repo / ".git/datax/objects")
    os.unlink(data_repo / "m.bin")
    proc = git("checkout", "--", "m.bin")
    assert f"m.bin: object {oid} is not in the local store" in proc.stderr
    assert git("status", "--porcelain").stdout == ""
    os.utime(data_repo / "m.bin", (1, 1))  # stat data changed: git must clean it again
    assert git("status", "--porcelain").stdout == ""
    git("commit", "-qam", "nothing to commit", check=False)
    assert git_bytes("cat-file", "-p", "HEAD:m.bin") == stub_bytes(data)
