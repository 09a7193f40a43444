"""Data travels with the code through a directory store (`<bare repo>/datax` on the Git server,
derived from origin): push, clone, pull, fetch, checkout and the hooks, with real git."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from gitdatax.sync.fetcher import CHEAP_FETCH_MAX
from helpers import datax, git, is_stub, leftovers, random_bytes, write
from synchelpers import FILES, assert_files, clone, fresh_home, make_team_repo, server_object


def oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_push_clone_pull_with_the_git_server_store(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    push = git("push", "-q", "origin", "main", cwd=work)
    assert "uploaded 4 object(s)" in push.stderr
    for data in FILES.values():
        assert server_object(server, oid(data)).is_file()

    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    proc = clone(server, dest, env)
    assert proc.stderr == ""
    assert_files(dest, env=env)
    for hook in ("pre-push", "post-checkout"):  # a plain clone got our hooks
        assert b"gitdatax-hook" in (dest / ".git/hooks" / hook).read_bytes()

    # Delete the local store: pull brings back every object; the files stay intact.
    shutil.rmtree(dest / ".git/datax")
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "4 object(s) downloaded" in proc.stderr
    for data in FILES.values():
        assert (dest / ".git/datax/objects" / oid(data)[:2] / oid(data)[2:4] / oid(data)).is_file()
    assert_files(dest, env=env)


def test_skip_smudge_clone_then_pull_fills_in_and_status_stays_clean(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    clone(server, dest, {**env, "GIT_DATAX_SKIP_SMUDGE": "1"})
    for path in FILES:
        assert is_stub((dest / path).read_bytes()), path
    assert git("status", "--porcelain", cwd=dest, env=env).stdout == ""
    # Offline checkout cannot help: the objects are not local.
    proc = datax("checkout", cwd=dest, env=env)
    assert proc.returncode == 1 and "4 file(s) are still stubs" in proc.stderr
    assert f"models/asr.bin: object {oid(FILES['models/asr.bin'])}" in proc.stderr
    # Only some paths, then the rest.
    proc = datax("pull", "-I", "clips/*", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not is_stub((dest / "clips/a.bin").read_bytes()) and is_stub((dest / "models/asr.bin").read_bytes())
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert_files(dest, env=env)


def test_push_uploads_before_the_refs_move(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    new = random_bytes(50_000, seed=99)
    write(work / "models/v2.bin", new)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v2", cwd=work)
    # The server refuses any ref update whose object is not already in its store.
    target = server_object(server, oid(new))
    hook = server / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntest -f '{target}' || {{ echo 'object missing on server' >&2; exit 1; }}\n")
    hook.chmod(0o755)
    proc = git("push", "origin", "main", cwd=work)
    assert "uploaded 1 object(s)" in proc.stderr
    assert target.is_file()
    assert git("rev-parse", "main", cwd=server).stdout == git("rev-parse", "main", cwd=work).stdout


def test_skip_push_and_no_verify_leave_data_behind_and_clone_names_it(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    new = random_bytes(40_000, seed=5)
    write(work / "models/v2.bin", new)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v2", cwd=work)
    git("push", "-q", "--no-verify", "origin", "main", cwd=work)
    assert not server_object(server, oid(new)).exists()

    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    proc = clone(server, dest, env)
    assert proc.returncode == 0
    assert f"models/v2.bin: cannot fetch object {oid(new)}" in proc.stderr
    assert is_stub((dest / "models/v2.bin").read_bytes())
    assert_files(dest, env=env)  # every other file intact, status clean

    # GIT_DATAX_SKIP_PUSH: the refs move, the data stays local.
    newer = random_bytes(30_000, seed=6)
    write(work / "models/v3.bin", newer)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v3", cwd=work)
    proc = git("push", "-q", "origin", "main", cwd=work, env={"GIT_DATAX_SKIP_PUSH": "1"})
    assert proc.stderr == "" and not server_object(server, oid(newer)).exists()
    # A later push (or `git datax push`) uploads what was left behind.
    proc = datax("push", cwd=work)
    assert proc.returncode == 0 and "2 object(s) uploaded" in proc.stderr
    assert server_object(server, oid(new)).is_file() and server_object(server, oid(newer)).is_file()


def test_pre_push_refuses_data_stored_nowhere_naming_path_commit_oid(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    lost = FILES["clips/b.bin"]
    obj = work / ".git/datax/objects" / oid(lost)[:2] / oid(lost)[2:4] / oid(lost)
    obj.unlink()
    commit = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    proc = git("push", "origin", "main", cwd=work, check=False)
    assert proc.returncode != 0
    assert "push refused: 1 object(s) the pushed commits need are not on" in proc.stderr
    assert f"clips/b.bin (commit {commit[:12]}): object {oid(lost)}: object {oid(lost)} is in neither the local store" in proc.stderr
    assert git("rev-parse", "-q", "--verify", "main", cwd=server, check=False).returncode != 0


def test_two_clones_push_the_same_object_at_once(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    same = random_bytes(3 << 20, seed=42)
    procs = []
    for name in ("alice", "bob"):
        repo = tmp_path / name
        clone(server, repo, {})
        git("checkout", "-qb", name, cwd=repo)
        write(repo / "models/shared.bin", same)
        git("add", "-A", cwd=repo)
        git("commit", "-qm", f"{name} adds the same model", cwd=repo)
        procs.append(subprocess.Popen(["git", "push", "-q", "origin", name], cwd=repo,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    target = server_object(server, oid(same))
    assert len(list(target.parent.iterdir())) == 1  # one object, no temporary left beside it
    assert not (server / "datax/tmp").exists() or leftovers((server / "datax/tmp")) == []
    from gitdatax.store.objectstore import ObjectStore

    assert ObjectStore(server / "datax").verify(oid(same)) is None


def test_fetch_all_then_old_commits_check_out_offline(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    v2 = random_bytes(70_000, seed=8)
    write(work / "models/asr.bin", v2)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v2", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    dest = tmp_path / "teammate"
    clone(server, dest, {})
    v1 = FILES["models/asr.bin"]
    assert not (dest / ".git/datax/objects" / oid(v1)[:2] / oid(v1)[2:4] / oid(v1)).exists()
    proc = datax("fetch", "--all", "-X", "clips", cwd=dest)
    assert proc.returncode == 0, proc.stderr
    assert "1 object(s) downloaded" in proc.stderr  # v1 of the model; the clips are excluded
    shutil.rmtree(server / "datax")  # offline from here on
    git("checkout", "-q", "HEAD~1", cwd=dest)
    assert (dest / "models/asr.bin").read_bytes() == v1
    assert git("status", "--porcelain", cwd=dest).stdout == ""


def test_post_checkout_fills_in_what_an_offline_checkout_left(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    hidden = tmp_path / "elsewhere"
    shutil.move(str(server / "datax"), hidden)  # the data server is down during the clone
    dest = tmp_path / "teammate"
    proc = clone(server, dest, {})
    assert proc.returncode == 0 and "still stubs" in proc.stderr
    assert all(is_stub((dest / p).read_bytes()) for p in FILES)
    assert (dest / ".git/datax/pending-stubs").exists()
    shutil.move(str(hidden), server / "datax")
    git("checkout", "-q", "-b", "topic", cwd=dest)  # any checkout: the hook fetches and fills in
    assert_files(dest)
    assert not (dest / ".git/datax/pending-stubs").exists()


def test_pull_merges_and_fetches_new_data(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    dest = tmp_path / "teammate"
    clone(server, dest, {})
    new = random_bytes(30_000, seed=11)
    write(work / "clips/c.bin", new)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "more clips", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    git("pull", "-q", "--ff-only", cwd=dest)
    assert (dest / "clips/c.bin").read_bytes() == new
    assert_files(dest)


def test_pre_commit_uploads_to_a_configured_remote_and_only_warns_offline(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("remote", "add", "nas", str(nas), cwd=work).returncode == 0
    data = random_bytes(10_000, seed=12)
    write(work / "clips/n.bin", data)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "with nas", cwd=work)
    assert (nas / "objects" / oid(data)[:2] / oid(data)[2:4] / oid(data)).is_file()

    shutil.rmtree(nas)  # unreachable: the commit still happens
    write(work / "clips/m.bin", random_bytes(10_000, seed=13))
    git("add", "-A", cwd=work)
    proc = git("commit", "-qm", "offline", cwd=work)
    assert f"data not uploaded yet (remote {nas}: no such directory {nas}); `git push` will upload it" in proc.stderr


def test_unknown_or_missing_remote_is_one_clear_line(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    proc = datax("push", "nosuch", cwd=work)
    assert proc.returncode == 1
    assert proc.stderr == "git-datax: error: no remote named 'nosuch' (known: origin; see `git datax remote list`)\n"
    missing = tmp_path / "no" / "such" / "store"
    proc = datax("fetch", str(missing), cwd=work)
    assert proc.returncode == 0  # nothing to fetch: the remote is not even opened
    proc = datax("push", str(missing), cwd=work)
    assert proc.returncode == 1
    assert proc.stderr == f"git-datax: error: remote {missing}: no such directory {missing}\n"
    git("remote", "remove", "origin", cwd=work)
    proc = datax("push", cwd=work)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "no remote store configured and no git remote origin" in proc.stderr


def test_hostile_directory_store_writes_nothing_outside(tmp_path: Path) -> None:
    """A remote store whose object file is a symlink to something else, or garbage: the download
    is refused naming the oid, and nothing appears outside (or inside) the local store."""
    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    victim = FILES["clips/a.bin"]
    target = server_object(server, oid(victim))
    target.unlink()
    secret = tmp_path / "secret"
    secret.write_bytes(b"not yours")
    target.symlink_to(secret)
    dest = tmp_path / "teammate"
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = clone(server, dest, {})
    assert f"clips/a.bin: cannot fetch object {oid(victim)}" in proc.stderr and "corrupt" in proc.stderr
    assert is_stub((dest / "clips/a.bin").read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["teammate"])
    assert secret.read_bytes() == b"not yours"
    assert not (dest / ".git/datax/objects" / oid(victim)[:2] / oid(victim)[2:4] / oid(victim)).exists()
    assert leftovers((dest / ".git/datax/tmp")) == []


def test_clone_downloads_through_the_filters_delay(tmp_path: Path) -> None:
    # The store is on this file system: small objects are fetched at once (a link and a re-hash
    # cost less than git's round trip through delay); larger ones download in the background.
    files = {**FILES, "models/big.bin": random_bytes(CHEAP_FETCH_MAX + 1, seed=9)}
    server, work = make_team_repo(tmp_path, files)
    git("push", "-q", "origin", "main", cwd=work)
    trace = tmp_path / "packets"
    dest = tmp_path / "teammate"
    clone(server, dest, {"GIT_TRACE_PACKET": str(trace)})
    packets = trace.read_text(errors="replace")
    # The large file was answered "delayed", downloaded in the background, then handed back.
    assert packets.count("clone< status=delayed") == 1
    assert "clone> command=list_available_blobs" in packets
    assert "clone< pathname=models/big.bin" in packets
    assert_files(dest, files)


def test_a_configured_remote_that_is_gone_is_named_once_during_clone(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("remote", "add", "nas", str(nas), "--default", cwd=work).returncode == 0
    git("add", ".datax.toml", cwd=work)
    git("commit", "-qm", "team store on the NAS", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    shutil.rmtree(nas)  # the NAS is not mounted on the teammate's machine
    proc = clone(server, tmp_path / "teammate", {})
    assert proc.returncode == 0
    line = f"git-datax: warning: cannot fetch missing objects: remote {nas}: no such directory {nas}\n"
    assert proc.stderr.count(line) == 1
    assert proc.stderr.count("is not in the local store; the stub was checked out") == len(FILES)


def test_post_checkout_fast_path_still_runs_the_users_own_hook(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    hooks = work / ".git/hooks"
    (hooks / "post-checkout").unlink()
    mine = hooks / "post-checkout"
    mine.write_text(f"#!/bin/sh\necho \"$@\" >> '{tmp_path / 'ran'}'\n")
    mine.chmod(0o755)
    assert datax("install", "--local", cwd=work).returncode == 0  # keeps mine as post-checkout.pre-datax
    git("checkout", "-q", "-b", "topic", cwd=work)
    assert (tmp_path / "ran").read_text().endswith(" 1\n")
    assert not (work / ".git/datax/pending-stubs").exists()


def test_a_plain_clone_by_someone_who_never_installed_is_completed_by_install_then_pull(tmp_path: Path) -> None:
    # Issue 16 item 8: as with Git LFS, a clone made before `git datax install` checks out the
    # stubs; README's first lines say what to run, and those two commands complete it.
    import os

    from helpers import is_stub

    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    home = tmp_path / "newcomer"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    git("config", "--global", "init.defaultBranch", "main", env=env)
    assert "filter.datax" not in git("config", "--global", "--list", env=env).stdout
    dest = tmp_path / "newcomer-clone"
    proc = clone(server, dest, env)
    assert proc.returncode == 0 and "git-datax" not in proc.stderr
    for path in FILES:
        assert is_stub((dest / path).read_bytes()), path
    status = datax("status", cwd=dest, env=env)
    assert "(the datax filter is not configured: run `git datax install` first)" in status.stdout
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == (
        "git-datax: error: cannot fill in the 4 file(s) that are stubs: git has no datax filter to run, so it "
        "would write the stubs back: run `git datax install`, then `git datax checkout`")

    assert datax("install", cwd=dest, env=env).returncode == 0
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert_files(dest, env=env)  # real bytes, `git status` clean
    assert os.path.exists(dest / ".git/hooks/pre-push")  # and from now on pushes carry the data
