"""When the team moves its default store (a committed .datax.toml change), no commit loses its
data: pre-push checks what the pushed tips need, not only the commits new to the Git remote
(issue 11, item 5), and a clone looks for a missing object on every remote it has learned,
old commits included (item 4)."""
from __future__ import annotations

from pathlib import Path

from helpers import datax, git, oid_of, random_bytes, write

D1, D2 = random_bytes(3000, seed=41), random_bytes(3000, seed=42)


def _team_file(repo: Path, store: Path) -> None:
    (repo / ".datax.toml").write_text(f'[remote.team]\nurl = "{store}"\ndefault = true\n')


def _objects(store: Path) -> set[str]:
    return {p.name for p in (store / "objects").glob("*/*/*")} if store.exists() else set()


def _history_with_a_switch(make_repo, tmp_path: Path) -> tuple[Path, Path, Path, Path]:  # type: ignore[no-untyped-def]
    """d1 on main and d2 on a pushed branch, both in store A; then main moves the team to B."""
    old, new = tmp_path / "store-a", tmp_path / "store-b"
    for store in (old, new):
        (store / "objects").mkdir(parents=True)
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    repo = make_repo("author")
    git("remote", "add", "origin", str(bare), cwd=repo)
    datax("track", "*.bin", cwd=repo)
    _team_file(repo, old)
    write(repo / "d1.bin", D1)
    git("add", ".gitattributes", ".datax.toml", "d1.bin", cwd=repo)
    git("commit", "-qm", "d1", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    git("checkout", "-q", "-b", "feature", cwd=repo)
    write(repo / "d2.bin", D2)
    git("add", "d2.bin", cwd=repo)
    git("commit", "-qm", "d2", cwd=repo)
    git("push", "-q", "origin", "feature", cwd=repo)
    assert _objects(old) == {oid_of(D1), oid_of(D2)} and _objects(new) == set()
    git("checkout", "-q", "main", cwd=repo)
    return repo, bare, old, new


def test_push_after_the_team_switched_stores_uploads_what_the_pushed_tips_need(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, bare, old, new = _history_with_a_switch(make_repo, tmp_path)
    _team_file(repo, new)
    git("commit", "-qam", "the team store moves to B", cwd=repo)
    git("merge", "-q", "--no-edit", "feature", cwd=repo)
    proc = git("push", "-q", "origin", "main", cwd=repo)
    assert _objects(new) == {oid_of(D1), oid_of(D2)}, proc.stderr  # the merged branch's d2 too
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone))
    assert (clone / "d1.bin").read_bytes() == D1 and (clone / "d2.bin").read_bytes() == D2


def test_a_clone_finds_the_data_of_commits_older_than_its_team_file(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Item 4: a checkout of a commit from before .datax.toml named the team store fell back to
    origin's store, where the data is not, and the files stayed stubs."""
    store = tmp_path / "team-store"
    (store / "objects").mkdir(parents=True)
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare))
    repo = make_repo("author")
    git("remote", "add", "origin", str(bare), cwd=repo)
    datax("track", "*.bin", cwd=repo)
    write(repo / "d1.bin", D1)
    git("add", ".gitattributes", "d1.bin", cwd=repo)
    git("commit", "-qm", "d1, before the team had a store", cwd=repo)
    git("tag", "v1", cwd=repo)
    _team_file(repo, store)
    write(repo / "d1.bin", D2)
    git("add", ".datax.toml", "d1.bin", cwd=repo)
    git("commit", "-qm", "the team store, and d1 v2", cwd=repo)
    git("datax", "push", "--all", cwd=repo)  # everything in the team store, nothing in origin's
    git("push", "-q", "origin", "main", "v1", cwd=repo, env={"GIT_DATAX_SKIP_PUSH": "1"})
    assert _objects(store) == {oid_of(D1), oid_of(D2)} and _objects(bare / "datax") == set()

    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone))
    assert (clone / "d1.bin").read_bytes() == D2
    proc = git("checkout", "-q", "v1", cwd=clone)
    assert not (clone / ".datax.toml").exists()
    assert (clone / "d1.bin").read_bytes() == D1, proc.stderr
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    # pull and fetch look there too
    (clone / ".git/datax/objects").rename(tmp_path / "gone")
    git("checkout", "-q", "main", cwd=clone, env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    git("checkout", "-q", "v1", cwd=clone, env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    proc = datax("pull", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert (clone / "d1.bin").read_bytes() == D1
