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
