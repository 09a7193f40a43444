"""The journal of stubs the filter wrote: it saves pre-commit and pre-push from reading every
stub back from git, and can never make them accept something that is not a stub."""
from __future__ import annotations

from pathlib import Path

from helpers import datax, git, git_bytes, random_bytes, store_dir, write
from gitdatax.stub import Stub
from gitdatax.scan.stub_journal import JournalWriter, git_blob_id, load


def test_entries_prove_themselves(tmp_path: Path) -> None:
    good = Stub("a" * 64, 5)
    writer = JournalWriter(tmp_path)
    writer.record(good)
    writer.record(good)  # once per process
    writer.flush()
    with open(tmp_path / "known-stubs", "a") as f:
        f.write(f"{'b' * 40} {'c' * 64} 7\n")  # a blob id that is not this stub's
        f.write("garbage line\n")
        f.write(f"{git_blob_id(good.encode())} ../../etc 5\n")
    lines = (tmp_path / "known-stubs").read_text().splitlines()
    assert lines[0] == f"{git_blob_id(good.encode())} {good.oid} 5"
    known = load(tmp_path)
    assert known.get("b" * 40) is None
    # the last line for a blob id wins in the file; a bad one is refused, never trusted
    assert known.get(git_blob_id(good.encode())) is None
    assert load(tmp_path / "nowhere").get(git_blob_id(good.encode())) is None


def test_commit_reads_no_stub_back_and_a_forged_entry_is_refused(repo: Path) -> None:
    datax("track", "*.bin")
    for i in range(20):
        write(repo / f"clips/{i}.bin", random_bytes(2000, seed=i))
    git("add", "-A")
    journal = store_dir(repo) / "known-stubs"
    assert len(journal.read_text().splitlines()) == 20
    trace = repo.parent / "trace"
    git("commit", "-qm", "clips", env={"GIT_TRACE": str(trace)})  # every git process logs here
    assert "git cat-file --batch\n" not in trace.read_text()  # the hook read no stub back
    assert "git diff --cached" in trace.read_text()  # (the hook did run, and was traced)
    # Raw content staged for a tracked path, with a journal entry claiming its blob is a stub:
    raw = random_bytes(3000, seed=99)
    write(repo / "raw.bin", raw)
    git("-c", "filter.datax.process=", "-c", "filter.datax.clean=cat", "-c", "filter.datax.required=false",
        "add", "raw.bin")
    blob = git("rev-parse", ":raw.bin").stdout.strip()
    assert git_bytes("cat-file", "-p", blob) == raw
    with open(journal, "a") as f:
        f.write(f"{blob} {'d' * 64} 3000\n")
    refused = git("commit", "-qm", "raw", check=False)
    assert refused.returncode == 1
    assert "raw.bin: staged as raw content" in refused.stderr
