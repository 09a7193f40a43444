"""`git datax track` / `untrack`: the exact .gitattributes lines, quoting, listing."""
from __future__ import annotations

from pathlib import Path

from helpers import datax, git, git_bytes, stub_bytes, write

ATTRS = "filter=datax diff=datax merge=datax -text"


def check_attr(path: str) -> str:
    return git("check-attr", "filter", "diff", "merge", "text", "--", path).stdout


def test_track_writes_the_documented_lines(repo: Path) -> None:
    proc = datax("track", "*.csv", "models/**")
    assert proc.returncode == 0
    assert proc.stdout == ""
    assert proc.stderr == (
        "tracking *.csv\n"
        "tracking models/**\n"
        "commit .gitattributes to share this; `git add --renormalize .` converts files already committed\n"
    )
    assert (repo / ".gitattributes").read_text() == f"*.csv {ATTRS}\nmodels/** {ATTRS}\n"
    assert check_attr("models/a/b.pt") == (
        "models/a/b.pt: filter: datax\nmodels/a/b.pt: diff: datax\n"
        "models/a/b.pt: merge: datax\nmodels/a/b.pt: text: unset\n"
    )


def test_track_keeps_existing_lines_and_does_not_repeat_itself(repo: Path) -> None:
    write(repo / ".gitattributes", b"# mine\n*.sh text eol=lf\n")
    datax("track", "*.bin")
    proc = datax("track", "*.bin", "*.pt")
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[:2] == ["*.bin is already tracked", "tracking *.pt"]
    assert (repo / ".gitattributes").read_text() == f"# mine\n*.sh text eol=lf\n*.bin {ATTRS}\n*.pt {ATTRS}\n"


def test_patterns_with_spaces_are_quoted_so_git_reads_them(repo: Path) -> None:
    assert datax("track", "raw data/*.wav", "my model.bin").returncode == 0
    assert (repo / ".gitattributes").read_text() == f'"raw data/*.wav" {ATTRS}\n"my model.bin" {ATTRS}\n'
    assert "raw data/a b.wav: filter: datax" in check_attr("raw data/a b.wav")
    assert "my model.bin: filter: datax" in check_attr("my model.bin")
    assert "other.bin: filter: unspecified" in check_attr("other.bin")
    write(repo / "my model.bin", b"weights")
    git("add", "-A")
    assert git_bytes("cat-file", "-p", ":my model.bin") == stub_bytes(b"weights")
    # Listing shows the patterns as given; untrack finds the quoted line.
    assert datax("track").stdout == "raw data/*.wav    (.gitattributes)\nmy model.bin    (.gitattributes)\n"
    assert datax("untrack", "my model.bin").returncode == 0
    assert (repo / ".gitattributes").read_text() == f'"raw data/*.wav" {ATTRS}\n'


def test_track_in_a_subdirectory_writes_a_pattern_relative_to_the_top(repo: Path) -> None:
    (repo / "data" / "raw").mkdir(parents=True)
    proc = datax("track", "*.parquet", cwd=repo / "data" / "raw")
    assert proc.returncode == 0
    assert (repo / ".gitattributes").read_text() == f"data/raw/*.parquet {ATTRS}\n"
    assert "data/raw/x.parquet: filter: datax" in check_attr("data/raw/x.parquet")
    assert "x.parquet: filter: unspecified" in check_attr("x.parquet")


def test_track_with_no_pattern_lists_every_gitattributes_file(repo: Path) -> None:
    assert datax("track").stdout == ""
    datax("track", "*.bin", "*.csv")
    write(repo / "sub/.gitattributes", f"*.h5 {ATTRS}\n*.txt text\n".encode())
    git("add", ".gitattributes")
    proc = datax("track")
    assert proc.returncode == 0
    assert proc.stdout == (
        "*.bin    (.gitattributes)\n"
        "*.csv    (.gitattributes)\n"
        "*.h5    (sub/.gitattributes)\n"
    )


def test_track_refuses_gitdatax_own_files_and_bad_patterns(repo: Path) -> None:
    for pattern in (".gitattributes", ".datax.toml", "sub/.gitignore"):
        proc = datax("track", pattern)
        assert proc.returncode == 1
        assert proc.stderr == f"git-datax: error: {pattern}: gitdatax's own configuration files cannot be tracked\n"
    proc = datax("track", "a\nb")
    assert (proc.returncode, proc.stderr) == (1, "git-datax: error: invalid pattern 'a\\nb'\n")
    assert not (repo / ".gitattributes").exists()


def test_untrack_removes_only_its_line(repo: Path) -> None:
    write(repo / ".gitattributes", f"# keep me\n*.csv {ATTRS}\n*.csv text\n*.bin {ATTRS}\n".encode())
    proc = datax("untrack", "*.csv")
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[0] == "untracking *.csv"  # then the renormalize advice (test_cli.py)
    assert (repo / ".gitattributes").read_text() == f"# keep me\n*.csv text\n*.bin {ATTRS}\n"
    proc = datax("untrack", "*.bin", "*.nope")
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[:2] == ["git-datax: warning: *.nope was not tracked in .gitattributes",
                                            "untracking *.bin"]
    proc = datax("untrack", "*.bin")
    assert proc.returncode == 1
    assert proc.stderr == (
        "git-datax: warning: *.bin was not tracked in .gitattributes\n"
        "git-datax: error: no pattern was untracked\n"
    )
    assert (repo / ".gitattributes").read_text() == "# keep me\n*.csv text\n"


def test_untracked_files_are_committed_as_plain_content_again(repo: Path) -> None:
    datax("track", "*.bin")
    write(repo / "a.bin", b"payload")
    git("add", "-A")
    git("commit", "-qm", "tracked")
    datax("untrack", "*.bin")
    git("add", "--renormalize", ".")
    git("commit", "-qm", "untracked")
    assert git_bytes("cat-file", "-p", "HEAD:a.bin") == b"payload"
    assert git_bytes("cat-file", "-p", "HEAD~1:a.bin") == stub_bytes(b"payload")


def test_a_folder_is_taken_as_every_file_under_it_and_the_other_patterns_are_kept(repo: Path) -> None:
    # `dvc add models` habits (issue 16 item 4): `models`, `models/`, `/data` all mean the files under them.
    write(repo / "models" / "asr.bin", b"weights")
    write(repo / "data" / "train.csv", b"a,b\n")
    proc = datax("track", "*.bin", "models", "data/", "/data")
    assert proc.returncode == 0, proc.stderr
    why = "git applies attributes to files, not folders"
    assert proc.stderr.splitlines()[:4] == [
        "tracking *.bin",
        f"tracking models/** (every file under models/: {why})",
        f"tracking data/** (every file under data/: {why})",
        f"tracking /data/** (every file under /data/: {why})",
    ]
    assert (repo / ".gitattributes").read_text() == f"*.bin {ATTRS}\nmodels/** {ATTRS}\ndata/** {ATTRS}\n/data/** {ATTRS}\n"
    assert "filter: datax" in check_attr("models/sub/big.pt") and "filter: datax" in check_attr("data/train.csv")
    git("add", "-A")
    assert git_bytes("show", ":models/asr.bin").startswith(b"version gitdatax/1\n")
    # In a subdirectory, relative to it, as the other patterns.
    write(repo / "sub" / "ckpt" / "a.pt", b"x")
    proc = datax("track", "ckpt", cwd=repo / "sub")
    assert proc.returncode == 0 and "tracking sub/ckpt/** (every file under ckpt/" in proc.stderr
