"""scan.scanner.GitScanner: each mode finds exactly the stubs of its place, in a real repository."""
from __future__ import annotations

from pathlib import Path

from gitdatax.scan.scanner import GitScanner, PathStub, stub_in_file
from gitdatax.stub import Stub
from helpers import git, oid_of, stub_bytes, write

NO_FILTER = ("-c", "filter.datax.process=", "-c", "filter.datax.clean=", "-c", "filter.datax.required=false")
V1, V2, OTHER = b"one" * 500, b"two" * 500, b"other" * 300


def stub(data: bytes) -> Stub:
    return Stub(oid_of(data), len(data))


def test_each_mode_finds_its_own_stubs(data_repo: Path) -> None:
    write(data_repo / "m.bin", V1)
    write(data_repo / "sub dir/o.bin", OTHER)
    write(data_repo / "notes.txt", stub_bytes(b"not tracked, still a stub"))  # any path, for tree/history
    git("add", "-A")
    git("commit", "-qm", "v1")
    write(data_repo / "m.bin", V2)
    git("add", "m.bin")
    git("commit", "-qm", "v2")
    scanner = GitScanner(data_repo)

    assert scanner.tree("HEAD~1") == [PathStub("m.bin", stub(V1)), PathStub("notes.txt", stub(b"not tracked, still a stub")),
                                      PathStub("sub dir/o.bin", stub(OTHER))]
    assert [p.stub for p in scanner.tree("HEAD") if p.path == "m.bin"] == [stub(V2)]
    # history: v2's new stub only, when v1 is excluded; everything with all refs
    assert scanner.history(["HEAD"], ["HEAD~1"]) == [PathStub("m.bin", stub(V2))]
    assert {p.stub for p in scanner.history([], all_refs=True)} == {stub(V1), stub(V2), stub(OTHER),
                                                                    stub(b"not tracked, still a stub")}
    assert scanner.history([]) == []
    # index: every regular entry with its stub; tracked_only keeps filter=datax paths
    everything = {e.path: e.stub for e in scanner.index()}
    assert everything["notes.txt"] == stub(b"not tracked, still a stub") and everything[".gitattributes"] is None
    assert [(e.path, e.stub) for e in scanner.index(tracked_only=True)] == [("m.bin", stub(V2)),
                                                                           ("sub dir/o.bin", stub(OTHER))]
    # work tree: after a complete checkout only the file whose content is stub text holds one
    assert scanner.work_tree() == scanner.work_tree(as_staged=True) == [
        PathStub("notes.txt", stub(b"not tracked, still a stub"))]


def test_work_tree_mode_tells_a_left_stub_from_a_users_stub(data_repo: Path) -> None:
    write(data_repo / "m.bin", V1)
    write(data_repo / "o.bin", OTHER)
    git("add", "-A")
    git("commit", "-qm", "v1")
    write(data_repo / "m.bin", stub_bytes(V1))  # what a checkout without the object leaves
    write(data_repo / "o.bin", stub_bytes(V2))  # a stub, but not the staged one: the user's change
    (data_repo / "link.bin").symlink_to("m.bin")
    scanner = GitScanner(data_repo)
    assert scanner.work_tree(as_staged=True) == [PathStub("m.bin", stub(V1))]
    assert scanner.work_tree() == [PathStub("m.bin", stub(V1)), PathStub("o.bin", stub(V2))]
    assert stub_in_file(data_repo / "m.bin") == (stub(V1), stub_bytes(V1))
    assert stub_in_file(data_repo / "link.bin") is None  # a symlink to a stub is not one
    assert stub_in_file(data_repo / "missing.bin") is None


def test_a_raw_blob_in_a_tracked_path_is_listed_without_a_stub(data_repo: Path) -> None:
    write(data_repo / "raw.bin", b"x" * (4 << 20))
    git(*NO_FILTER, "add", "raw.bin")
    entries = GitScanner(data_repo).index(tracked_only=True)
    assert [(e.path, e.stub, e.stage) for e in entries] == [("raw.bin", None, 0)]
    assert entries[0].blob == git("rev-parse", ":raw.bin").stdout.strip()


def test_a_tree_scan_reads_from_git_only_the_stubs_the_filter_did_not_write(data_repo: Path, monkeypatch) -> None:
    """The filter's journal answers for the stubs it wrote (a push scans its tip's tree: 2000
    files of the standard workload were read back one blob at a time); a stub committed some
    other way is still found, read from git."""
    import gitdatax.scan.scanner as scanner_module

    write(data_repo / "m.bin", V1)  # through the filter: in the journal
    write(data_repo / "notes.txt", stub_bytes(b"written by hand"))  # not through the filter
    git("add", "-A")
    git("commit", "-qm", "v1")
    asked: list[str] = []
    real = scanner_module.stubs_in

    def counting(blobs, **kwargs):
        blobs = list(blobs)
        asked.extend(blobs)
        return real(blobs, **kwargs)

    monkeypatch.setattr(scanner_module, "stubs_in", counting)
    found = GitScanner(data_repo).tree("HEAD")
    assert found == [PathStub("m.bin", stub(V1)), PathStub("notes.txt", stub(b"written by hand"))]
    assert git("rev-parse", "HEAD:notes.txt").stdout.strip() in asked
    assert git("rev-parse", "HEAD:m.bin").stdout.strip() not in asked
