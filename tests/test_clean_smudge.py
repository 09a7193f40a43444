"""filter.clean.Cleaner and filter.smudge.Smudger without git's protocol: what they give is what
`git add` stores and what a checkout writes."""
from __future__ import annotations

from pathlib import Path

from gitdatax.filter.clean import Cleaner
from gitdatax.filter.smudge import Smudger
from gitdatax.scan import stub_journal
from gitdatax.store.objectstore import ObjectStore
from helpers import git, git_bytes, oid_of, random_bytes, stub_bytes, write

SMALL, BIG = random_bytes(30_000, 1), random_bytes(3 << 20, 2)


def test_clean_file_stores_what_git_add_stores(data_repo: Path) -> None:
    write(data_repo / "small.bin", SMALL)
    write(data_repo / "out/big.bin", BIG)
    write(data_repo / "stub.bin", stub_bytes(b"elsewhere"))
    store = ObjectStore.for_repo(data_repo)
    cleaner = Cleaner(store)
    answers = {name: cleaner.clean_file(data_repo / name, name) for name in ("small.bin", "out/big.bin", "stub.bin")}
    assert cleaner.close() == []
    assert answers == {"small.bin": stub_bytes(SMALL), "out/big.bin": stub_bytes(BIG),
                       "stub.bin": stub_bytes(b"elsewhere")}  # a stub is its own clean
    assert store.has(oid_of(SMALL)) and store.has(oid_of(BIG))
    journal = stub_journal.load(store.root)
    git("add", "small.bin", "out/big.bin")
    for name in ("small.bin", "out/big.bin"):
        assert git_bytes("cat-file", "blob", f":{name}") == answers[name]  # git add agrees, byte for byte
        blob = git("rev-parse", f":{name}").stdout.strip()
        assert journal.get(blob) is not None  # pre-commit and pre-push need not read it back
    assert b"".join(store.read_verified(store.put_bytes(SMALL))) == SMALL


def test_smudge_gives_content_for_a_stub_and_the_stub_with_a_reason_when_it_cannot(data_repo: Path) -> None:
    store = ObjectStore.for_repo(data_repo)
    cleaner = Cleaner(store)
    stub = cleaner.clean(iter([SMALL]))[0]
    cleaner.close()
    said: list[str] = []
    smudger = Smudger(store, said.append)
    assert b"".join(smudger.smudge("a.bin", iter([stub[:10], stub[10:]]))) == SMALL
    assert b"".join(smudger.smudge("raw.bin", iter([b"plain content"]))) == b"plain content"
    absent = stub_bytes(b"never stored")
    assert b"".join(smudger.smudge("gone.bin", iter([absent]))) == absent
    assert said == [f"gone.bin: object {oid_of(b'never stored')} is not in the local store; "
                    "the stub was checked out (run `git datax pull` to fill it in)"]
    smudger.close()
