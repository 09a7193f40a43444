"""`git datax gc`: frees exactly what is old, pushed and safe on the remote; never anything else."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers import datax, git, object_path, oid_of, random_bytes, sha256, store_dir, write


def _stub_oid(repo: Path, rev: str, path: str) -> str:
    return git("show", f"{rev}:{path}", cwd=repo).stdout.split("oid sha256:")[1].split()[0]


def _store(repo: Path) -> set[str]:
    return {p.name for p in (store_dir(repo) / "objects").glob("*/*/*")}


def _digests(repo: Path) -> dict[str, str]:
    return {p: sha256(repo / p) for p in ("data.bin", "model.bin", "const.bin")}


def _track_with_origin(repo: Path, tmp_path: Path) -> Path:
    assert datax("track", "*.bin").returncode == 0
    git("add", ".gitattributes")
    git("commit", "-qm", "track")
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    return bare


def _commit(repo: Path, i: int, model_seed: int) -> None:
    write(repo / "data.bin", random_bytes(100_000 + i, seed=i))
    # Over the store's in-memory limit: compressed while streaming, no content size in the frame.
    write(repo / "model.bin", random_bytes((4 << 20) + 100_000, seed=1000 + model_seed))
    write(repo / "const.bin", random_bytes(60_000, seed=99))
    git("add", "-A")
    git("commit", "-qm", f"c{i}")


def test_gc_deletes_exactly_the_old_pushed_objects(repo: Path, tmp_path: Path) -> None:
    bare = _track_with_origin(repo, tmp_path)
    digests, oids = [], []
    for i in range(1, 6):  # five pushed commits; the model changes at 1 and 3
        _commit(repo, i, model_seed=1 if i < 3 else 3)
        digests.append(_digests(repo))
        oids.append({p: _stub_oid(repo, "HEAD", p) for p in digests[-1]})
    assert git("push", "-q", "origin", "main").returncode == 0
    pushed = git("rev-list", "main").stdout.split()
    _commit(repo, 6, model_seed=3)  # not pushed
    digests.append(_digests(repo))
    oids.append({p: _stub_oid(repo, "HEAD", p) for p in digests[-1]})
    write(repo / "data.bin", random_bytes(70_000, seed=7))
    assert git("stash", "-q").returncode == 0
    stashed = _stub_oid(repo, "stash@{0}", "data.bin")
    before = _store(repo)
    # Objects only the five pushed commits use: data 1-5 and the first model.
    old = {o["data.bin"] for o in oids[:5]} | {oids[0]["model.bin"]}
    assert len(old) == 6 and before == old | {oids[5]["data.bin"], oids[2]["model.bin"], oids[0]["const.bin"], stashed}

    proc = datax("gc", "--grace", "0", "--keep-days", "0", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    listed = [line.split() for line in proc.stdout.splitlines() if line.startswith("would delete")]
    assert {fields[2] for fields in listed} == old
    assert [fields[-1] for fields in listed if fields[2] == oids[0]["model.bin"]] == ["model.bin"]
    assert proc.stdout.splitlines()[-1].startswith("gc: would delete 6 object(s), freeing ")
    assert _store(repo) == before

    proc = datax("gc")  # default --keep-days 7: every commit here is recent
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "gc: deleted 0 object(s), freed 0 B"
    assert _store(repo) == before

    # Without a reachable remote: nothing deleted, one line saying why.
    assert datax("remote", "add", "--local", "--default", "gone", str(tmp_path / "gone")).returncode == 0
    proc = datax("gc", "--grace", "0", "--keep-days", "0")
    assert proc.returncode == 1
    assert proc.stderr.startswith("git-datax: error: gc deleted no object: remote ") and "no such directory" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and _store(repo) == before
    assert datax("remote", "remove", "--local", "gone").returncode == 0

    proc = datax("gc", "--grace", "0", "--keep-days", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("gc: 10 object(s) in the store")
    assert "4 needed (index, stash), 6 not needed" in proc.stdout, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("gc: deleted 6 object(s), freed ")
    assert _store(repo) == before - old

    # Every commit still checks out with its bytes; the deleted ones after a pull.
    for i, commit in enumerate(reversed(pushed[:5])):
        git("checkout", "-q", commit)
        assert datax("pull").returncode == 0
        assert _digests(repo) == digests[i], i
        assert git("status", "--porcelain").stdout == ""
    git("checkout", "-q", "main")
    assert _digests(repo) == digests[5]
    assert git("stash", "pop", "-q").returncode == 0
    assert (repo / "data.bin").read_bytes() == random_bytes(70_000, seed=7)
    assert bare.is_dir()


def test_gc_keeps_branch_tips_other_worktrees_and_what_the_remote_lacks(repo: Path, tmp_path: Path) -> None:
    bare = _track_with_origin(repo, tmp_path)
    for i in range(1, 5):
        _commit(repo, i, model_seed=0)
    git("push", "-q", "origin", "main")
    git("branch", "keep", "main~3")  # c1: a local branch tip
    git("worktree", "add", "-q", "--detach", str(tmp_path / "wt"), "main~2")  # c2: another worktree's HEAD
    only_c3 = _stub_oid(repo, "main~1", "data.bin")
    on_remote = bare / "datax" / "objects" / only_c3[:2] / only_c3[2:4] / only_c3
    assert on_remote.is_file()
    aside = tmp_path / "aside"
    shutil.move(on_remote, aside)

    before = _store(repo)
    proc = datax("gc", "--grace", "0", "--keep-days", "0")
    assert proc.returncode == 0, proc.stderr
    assert f"gc: keeping 1 unneeded object(s) that the remote {bare / 'datax'} does not have" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "gc: deleted 0 object(s), freed 0 B"
    assert _store(repo) == before

    shutil.move(aside, on_remote)
    proc = datax("gc", "--grace", "0", "--keep-days", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("gc: deleted 1 object(s)")
    assert _store(repo) == before - {only_c3}
    assert not object_path(repo, only_c3).exists()
    assert (tmp_path / "wt" / "data.bin").read_bytes() == random_bytes(100_002, seed=2)


def test_gc_keeps_an_object_written_within_the_grace_period(repo: Path, tmp_path: Path) -> None:
    """Issue 11, item 10: a `git add` under way has written objects it has not put in the index;
    gc kept nothing of the sort, as git's gc.pruneExpire keeps young loose objects."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    datax("track", "*.bin")
    write(repo / "a.bin", random_bytes(3000, seed=1))
    git("add", ".gitattributes", "a.bin")
    git("commit", "-qm", "a")
    git("push", "-q", "origin", "main")
    git("rm", "-q", "a.bin")
    git("commit", "-qm", "no a")
    git("push", "-q", "origin", "main")
    oid = oid_of(random_bytes(3000, seed=1))  # on the remote, needed by no index: deletable but young
    proc = datax("gc", "--keep-days", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith("1 needed (written recently), 0 not needed"), proc.stdout
    assert object_path(repo, oid).exists()
    proc = datax("gc", "--keep-days", "0", "--dry-run")
    assert "would delete 0 object(s)" in proc.stdout.splitlines()[-1], proc.stdout
    proc = datax("gc", "--keep-days", "0", "--grace", "0")
    assert proc.stdout.splitlines()[-1].startswith("gc: deleted 1 object(s)"), proc.stdout
    assert not object_path(repo, oid).exists()
    assert datax("gc", "--grace", "-1").stderr == "git-datax: error: --grace must be 0 or more hours, not -1\n"


def _pushed_then_dropped(repo: Path, tmp_path: Path, data: bytes) -> str:
    """An object on the remote that no index, branch or recent commit needs: deletable."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    datax("track", "*.bin")
    write(repo / "a.bin", data)
    git("add", ".gitattributes", "a.bin")
    git("commit", "-qm", "a")
    git("rm", "-q", "a.bin")
    git("commit", "-qm", "no a")
    git("push", "-q", "origin", "main")
    return oid_of(data)


def test_gc_keeps_an_object_that_a_concurrent_add_found_stored(repo: Path, tmp_path: Path) -> None:
    """A `git add` of content the store holds writes nothing (the object is there); a gc that
    had already planned to delete that object deleted it anyway, and the new commit's file was
    lost. The add touches the object, and gc looks at its mtime once more before deleting."""
    from gitdatax.maintenance import gc
    from gitdatax.remotes.remote_config import open_configured
    from gitdatax.store.objectstore import ObjectStore

    data = random_bytes(3000, seed=41)
    oid = _pushed_then_dropped(repo, tmp_path, data)
    store = ObjectStore(store_dir(repo))
    plan = gc.plan(store, 0, lambda: open_configured(None), grace_hours=0)
    assert [s.oid for s in plan.deletable] == [oid]  # planned, not yet done
    write(repo / "a.bin", data)  # meanwhile, the file comes back and is added
    git("add", "a.bin")
    assert gc.execute(store, plan) == 0
    assert object_path(repo, oid).is_file()
    git("commit", "-qm", "a again")
    (repo / "a.bin").unlink()
    git("checkout", "--", "a.bin")
    assert (repo / "a.bin").read_bytes() == data
    assert datax("fsck").returncode == 0


def test_gc_deletes_an_object_untouched_since_its_plan_and_keeps_one_touched(repo: Path, tmp_path: Path) -> None:
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore(store_dir(repo))
    old = store.put_bytes(b"old" * 1000)
    young = store.put_bytes(b"young" * 1000)
    planned = {s.oid: os.stat(store.object_path(s.oid)).st_mtime_ns - 1000 for s in (old, young)}
    for s in (old, young):  # as gc found them when it planned
        os.utime(store.object_path(s.oid), ns=(planned[s.oid], planned[s.oid]))
    size = os.stat(store.object_path(old.oid)).st_size
    assert store.keep_present(young.oid) and not store.keep_present("0" * 64)  # a clean found it
    assert store.delete(old.oid, planned_mtime=planned[old.oid]) == size and not store.has(old.oid)
    assert store.delete(young.oid, planned_mtime=planned[young.oid]) == 0 and store.has(young.oid)
    assert b"".join(store.read_verified(young)) == b"young" * 1000
    assert sorted(p.name for p in store.object_path(young.oid).parent.iterdir()) == [young.oid]
    assert store.delete(young.oid) > 0 and not store.has(young.oid)


def test_gc_dry_run_lists_the_chunk_packs_it_would_remove(repo: Path, tmp_path: Path) -> None:
    big = random_bytes(6 << 20, seed=42)  # chunked: its chunks in one pack of their own
    oid = _pushed_then_dropped(repo, tmp_path, big)
    packs = sorted((store_dir(repo) / "chunks").glob("*.pack"))
    assert len(packs) == 1
    pack_bytes = packs[0].stat().st_size + packs[0].with_suffix(".idx").stat().st_size
    proc = datax("gc", "--keep-days", "0", "--grace", "0", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"would delete {oid}" in proc.stdout
    from gitdatax.output import human_size

    assert lines[-2] == (f"gc: would remove 1 chunk pack(s) and repack 0 (the chunks no kept object needs): "
                         f"{human_size(pack_bytes)} of packs freed"), proc.stdout
    assert sorted((store_dir(repo) / "chunks").glob("*.pack")) == packs  # dry run: nothing gone
    proc = datax("gc", "--keep-days", "0", "--grace", "0")
    assert proc.returncode == 0 and not list((store_dir(repo) / "chunks").glob("*.pack")), proc.stdout


def test_gc_keeps_chunk_packs_written_within_the_grace_period(repo: Path, tmp_path: Path) -> None:
    """A push to a server's store sends an object's chunks before its manifest, from another
    process: until the manifest lands, the pack looks like garbage. gc leaves it alone for its
    grace period, as it does a new object, and removes it once that is over."""
    import hashlib

    from gitdatax.store.objectstore import ObjectStore

    _track_with_origin(repo, tmp_path)
    store = ObjectStore(store_dir(repo))
    data = random_bytes(100_000, seed=5)
    writer = store.new_pack()
    writer.add(hashlib.sha256(data).digest(), data)
    store.publish_pack(writer)  # and no manifest names it (yet)
    packs = sorted((store_dir(repo) / "chunks").glob("*.pack"))
    assert len(packs) == 1
    for args in (["--dry-run"], []):
        proc = datax("gc", "--keep-days", "0", *args)  # the default grace: one hour
        assert proc.returncode == 0, proc.stderr
        assert "chunk pack" not in proc.stdout, proc.stdout
        assert sorted((store_dir(repo) / "chunks").glob("*.pack")) == packs
    proc = datax("gc", "--keep-days", "0", "--grace", "0", "--dry-run")
    assert "gc: would remove 1 chunk pack(s) and repack 0" in proc.stdout, proc.stdout
    proc = datax("gc", "--keep-days", "0", "--grace", "0")
    assert proc.returncode == 0, proc.stderr
    assert not list((store_dir(repo) / "chunks").glob("*.pack"))
