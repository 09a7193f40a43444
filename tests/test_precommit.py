"""The pre-commit hook's local checks: no raw content for a tracked path, no huge untracked file;
and the commands it prints really fix the problem."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import datax, git, git_bytes, random_bytes, stub_bytes, write

# Git with the datax filter switched off, as on a machine where gitdatax is not installed.
NO_FILTER = ("-c", "filter.datax.process=", "-c", "filter.datax.clean=", "-c", "filter.datax.required=false")


def age(path: Path) -> None:
    """Make the file look old, so git trusts its stat data and never re-cleans it by itself
    (a file written in the same second as the index is 'racily clean' and always re-read)."""
    os.utime(path, (1_600_000_000, 1_600_000_000))


def refused(proc, *lines: str) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"git-datax: error: commit refused: {len(lines)} file(s) cannot be committed as staged",
        *(f"  {line}" for line in lines),
    ]


def test_raw_content_for_a_tracked_path_is_refused_and_the_advice_works(data_repo: Path) -> None:
    data = random_bytes(3000, seed=1)
    write(data_repo / "models/my model.bin", data)
    age(data_repo / "models/my model.bin")
    git(*NO_FILTER, "add", "models/my model.bin")
    assert git_bytes("cat-file", "-p", ":models/my model.bin") == data  # raw in the index
    proc = git(*NO_FILTER, "commit", "-qm", "raw", check=False)
    refused(
        proc,
        "models/my model.bin: staged as raw content, but .gitattributes says gitdatax tracks it "
        "(the datax filter was not installed when it was added): run `git datax install` and then "
        "`git add --renormalize -- 'models/my model.bin'`",
    )
    assert git("rev-parse", "HEAD").stdout == git("rev-parse", "HEAD@{0}").stdout
    assert git("log", "--oneline").stdout.count("\n") == 1
    # A plain `git add` would not help (the stat matches); the advised command does.
    git("add", "--", "models/my model.bin")
    assert git_bytes("cat-file", "-p", ":models/my model.bin") == data
    git("add", "--renormalize", "--", "models/my model.bin")
    assert git_bytes("cat-file", "-p", ":models/my model.bin") == stub_bytes(data)
    git("commit", "-qm", "stub")
    assert git_bytes("cat-file", "-p", "HEAD:models/my model.bin") == stub_bytes(data)


def test_raw_blob_put_in_the_index_by_plumbing_is_refused(data_repo: Path) -> None:
    blob = git("hash-object", "-w", "--no-filters", "--stdin", input=b"raw bytes\n").stdout.strip()
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},data/x.csv")
    proc = git("commit", "-qm", "plumbing", check=False)
    refused(
        proc,
        "data/x.csv: staged as raw content, but .gitattributes says gitdatax tracks it "
        "(the datax filter was not installed when it was added): run `git datax install` and then "
        "`git add --renormalize -- data/x.csv`",
    )


def test_stubs_empty_files_and_small_untracked_files_pass(data_repo: Path) -> None:
    write(data_repo / "a.bin", random_bytes(5000, seed=2))
    write(data_repo / "empty.bin", b"")
    write(data_repo / "README.md", b"# small\n")
    write(data_repo / "hand.bin", stub_bytes(b"elsewhere"))  # a valid stub is what Git should hold
    git("add", "-A")
    proc = git("commit", "-qm", "fine")
    assert proc.stderr == ""


def test_untracked_file_over_maxgitsize_gets_the_exact_track_line(data_repo: Path) -> None:
    git("config", "datax.maxgitsize", "2k")
    write(data_repo / "at limit.dat", b"x" * 2048)
    write(data_repo / "sub dir/big file.dat", random_bytes(3000, seed=3))
    age(data_repo / "sub dir/big file.dat")
    git("add", "-A")
    proc = git("commit", "-qm", "big", check=False)
    refused(
        proc,
        "sub dir/big file.dat: 2.9 KiB is over datax.maxgitsize (2.0 KiB): "
        "run `git datax track 'sub dir/big file.dat'`, then `git add .gitattributes` and "
        "`git add --renormalize -- 'sub dir/big file.dat'`",
    )
    # Run exactly what it says (a shell would unquote the quoted path the same way).
    assert datax("track", "sub dir/big file.dat").returncode == 0
    git("add", ".gitattributes")
    git("add", "--renormalize", "--", "sub dir/big file.dat")
    git("commit", "-qm", "big, tracked")
    assert git_bytes("cat-file", "-p", "HEAD:sub dir/big file.dat").startswith(b"version gitdatax/1\n")
    assert git_bytes("cat-file", "-p", "HEAD:at limit.dat") == b"x" * 2048


def test_default_limit_is_10_mib_and_datax_toml_can_set_it(data_repo: Path) -> None:
    write(data_repo / "ten.dat", b"\0" * (10 << 20))
    write(data_repo / "over.dat", b"\0" * ((10 << 20) + 1))
    git("add", "ten.dat", "over.dat")
    proc = git("commit", "-qm", "big", check=False)
    assert proc.returncode == 1
    assert "  over.dat: 10.0 MiB is over datax.maxgitsize (10.0 MiB)" in proc.stderr
    assert "ten.dat" not in proc.stderr
    # The team file raises the limit; per-user git config wins over it.
    write(data_repo / ".datax.toml", b'[core]\nmaxgitsize = "20MiB"\n')
    git("commit", "-qm", "limit from the team file")
    git("config", "datax.maxgitsize", "1MiB")
    write(data_repo / "two.dat", b"\0" * (2 << 20))
    git("add", "two.dat")
    proc = git("commit", "-qm", "two", check=False)
    assert "two.dat: 2.0 MiB is over datax.maxgitsize (1.0 MiB)" in proc.stderr


def test_bad_maxgitsize_stops_the_commit_with_one_line(data_repo: Path) -> None:
    git("config", "datax.maxgitsize", "lots")
    write(data_repo / "x.txt", b"x")
    git("add", "x.txt")
    proc = git("commit", "-qm", "x", check=False)
    assert proc.returncode == 1
    assert proc.stderr == "git-datax: error: bad size 'lots' for datax.maxgitsize (expected e.g. 10MiB, 500k, 1G)\n"


def test_deleting_a_tracked_file_commits(data_repo: Path) -> None:
    write(data_repo / "a.bin", b"abc")
    git("add", "a.bin")
    git("commit", "-qm", "a")
    git("rm", "-q", "a.bin")
    git("commit", "-qm", "no a")
    assert git("ls-tree", "HEAD", "a.bin").stdout == ""


def test_a_stub_whose_data_could_not_be_stored_is_not_committed(data_repo: Path) -> None:
    # The filter answers git before a small object is written (background_writer.py); when that
    # write fails, the stub is staged but its data exists only in the work tree. The write is
    # made to fail with a file size limit (RLIMIT_FSIZE: EFBIG, as root too) of 16 KiB, below
    # the object's 64 KiB and above anything else git and the filter write here.
    data = random_bytes(64 << 10, seed=7)
    write(data_repo / "a.bin", data)
    limited = ["prlimit", f"--fsize={16 << 10}", "git"]
    added = subprocess.run([*limited, "add", "a.bin"], capture_output=True, text=True)
    assert "git-datax: cannot store a.bin: [Errno 27] File too large" in added.stderr, added.stderr
    assert git_bytes("cat-file", "-p", ":a.bin") == stub_bytes(data)
    proc = subprocess.run([*limited, "commit", "-qm", "unstored"], capture_output=True, text=True)
    # When a.bin is racily clean (written in the index's second), git cleans it again on commit
    # and the write fails again: the filter says so again as git hangs up on it.
    lines = proc.stderr.splitlines(keepends=True)
    again = [line for line in lines if line.startswith("git-datax: cannot store a.bin: [Errno 27] File too large")]
    assert len(again) <= 1
    proc.stderr = "".join(line for line in lines if line not in again)
    refused(
        proc,
        "a.bin: its data was not stored when it was added (the store could not be written; "
        "`git add` said why): fix that and run `git add --renormalize -- a.bin`",
    )
    assert git("log", "--oneline").stdout.count("\n") == 1
    git("add", "--renormalize", "--", "a.bin")  # no limit now
    git("commit", "-qm", "stored")
    assert git_bytes("cat-file", "-p", "HEAD:a.bin") == stub_bytes(data)
    (data_repo / "a.bin").unlink()
    git("checkout", "--", "a.bin")
    assert (data_repo / "a.bin").read_bytes() == data


def test_a_stub_committed_without_its_gitattributes_line_is_refused(repo: Path, tmp_path: Path) -> None:
    """Issue 11, item 2: `track` then `add m.bin` without `git add .gitattributes` staged a stub
    that every clone would check out as stub text. The advice given makes the commit whole."""
    datax("track", "*.bin")
    write(repo / "m.bin", random_bytes(5000, seed=2))
    git("add", "m.bin")
    proc = git("commit", "-qm", "data", check=False)
    refused(proc, "m.bin: staged as a gitdatax stub, but the .gitattributes line that tracks it is not staged, "
                  "so every clone would check out the stub text: run `git add .gitattributes`")
    assert git("rev-parse", "-q", "--verify", "HEAD", check=False).returncode == 1
    git("add", ".gitattributes")
    git("commit", "-qm", "data")
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone))
    assert (clone / "m.bin").read_bytes() == random_bytes(5000, seed=2)


def test_a_stub_whose_path_was_untracked_since_it_was_added_is_refused(data_repo: Path) -> None:
    write(data_repo / "m.bin", random_bytes(5000, seed=3))
    git("add", "m.bin")
    datax("untrack", "*.bin")
    git("add", ".gitattributes")
    proc = git("commit", "-qm", "data", check=False)
    refused(proc, "m.bin: staged as a gitdatax stub, but no .gitattributes tracks it any more, so every clone "
                  "would check out the stub text: track it again (`git datax track m.bin`, then "
                  "`git add .gitattributes`) or keep it in Git as it is (`git add --renormalize -- m.bin`)")
    git("add", "--renormalize", "--", "m.bin")
    git("commit", "-qm", "raw on purpose")
    assert git_bytes("cat-file", "-p", "HEAD:m.bin") == random_bytes(5000, seed=3)


def test_stub_text_kept_as_content_in_an_untracked_path_still_commits(data_repo: Path) -> None:
    data = random_bytes(4000, seed=4)
    write(data_repo / "m.bin", data)
    git("add", "m.bin")
    git("commit", "-qm", "data")
    write(data_repo / "docs/example-stub.txt", stub_bytes(data))  # the same blob, as documentation
    git("add", "docs/example-stub.txt")
    proc = git("commit", "-qm", "docs", check=False)
    assert proc.returncode == 0, proc.stderr


def test_raw_content_for_a_path_only_the_unstaged_gitattributes_tracks_is_refused(repo: Path) -> None:
    """Issue 11, item 3: pre-commit read only the index's attributes, so raw bytes staged for a
    path the work tree's (unstaged) .gitattributes tracks went into the commit without a word."""
    datax("track", "sub/*.bin")
    (repo / "sub").mkdir()
    os.replace(repo / ".gitattributes", repo / "sub" / ".gitattributes")
    (repo / "sub" / ".gitattributes").write_text("*.bin filter=datax diff=datax merge=datax -text\n")
    data = random_bytes(3000, seed=5)
    write(repo / "sub/m.bin", data)
    git(*NO_FILTER, "add", "sub/m.bin")
    assert git_bytes("cat-file", "-p", ":sub/m.bin") == data
    proc = git(*NO_FILTER, "commit", "-qm", "raw", check=False)
    refused(proc, "sub/m.bin: staged as raw content, and the work tree's .gitattributes (not staged) says "
                  "gitdatax tracks it: run `git add sub/.gitattributes`, then `git add --renormalize -- sub/m.bin`")
    git("add", "sub/.gitattributes")
    git("add", "--renormalize", "--", "sub/m.bin")
    git("commit", "-qm", "stub")
    assert git_bytes("cat-file", "-p", "HEAD:sub/m.bin") == stub_bytes(data)
