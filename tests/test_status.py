"""`git datax status`, `ls-files` and `env`: what they print, exactly."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from helpers import datax, git, make_writable, object_path, oid_of, random_bytes, stub_bytes, write

NO_FILTER = ("-c", "filter.datax.process=", "-c", "filter.datax.clean=", "-c", "filter.datax.required=false")
A, B, C, D, E, F = (bytes([65 + i]) * (1000 * (i + 1)) for i in range(6))


def test_status_reports_each_state(data_repo: Path) -> None:
    write(data_repo / "raw.bin", b"committed before tracking")
    git(*NO_FILTER, "add", "raw.bin")
    git("commit", "-q", "--no-verify", "-m", "raw")
    for name, data in (("a.bin", A), ("b.bin", B), ("c.bin", C), ("d.bin", D), ("e.bin", E), ("f.bin", F)):
        write(data_repo / name, data)
        git("add", name)  # not -A: that would re-clean raw.bin, racily clean in the same second
    git("commit", "-qm", "six files")
    write(data_repo / "b.bin", b"changed, not added")          # modified
    write(data_repo / "c.bin", b"changed and added")            # staged
    git("add", "c.bin")
    write(data_repo / "d.bin", stub_bytes(D))                   # stub only (object present)
    path = object_path(data_repo, oid_of(E))                    # object missing, stub only
    make_writable(path)
    path.unlink()
    write(data_repo / "e.bin", stub_bytes(E))
    (data_repo / "f.bin").unlink()                              # deleted
    proc = datax("status")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "gitdatax: 7 tracked file(s), 17.6 KiB of data: 1 committed, 1 deleted, 1 modified, "
        "1 object missing, 1 raw in git, 1 staged, 2 stub only",
        f"  {'modified':<24} {'2.0 KiB':>10}  b.bin",
        f"  {'staged':<24} {'17 B':>10}  c.bin",
        f"  {'stub only':<24} {'3.9 KiB':>10}  d.bin",
        f"  {'object missing, stub only':<24} {'4.9 KiB':>10}  e.bin",
        f"  {'deleted':<24} {'5.9 KiB':>10}  f.bin",
        f"  {'raw in git':<24} {'25 B':>10}  raw.bin",
        "  (raw in git: `git add --renormalize .` stores them with gitdatax; commit that)",
        "  (stub only, object missing: `git datax pull` downloads the data and fills them in)",
    ]
    everything = datax("status", "--all").stdout.splitlines()
    assert everything[1] == f"  {'committed':<24} {'1000 B':>10}  a.bin"
    assert len(everything) == 10


def test_status_in_a_repository_with_nothing_tracked(repo: Path) -> None:
    proc = datax("status")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "gitdatax: 0 tracked file(s), 0 B of data: nothing tracked\n", "")


def test_status_from_a_subdirectory_uses_paths_from_the_top(data_repo: Path) -> None:
    write(data_repo / "data/x.csv", b"a,b\n")
    git("add", "-A")
    write(data_repo / "data/x.csv", b"a,b\n1,2\n")
    proc = datax("status", cwd=data_repo / "data")
    assert proc.stdout.splitlines()[1:] == [f"  {'modified, staged':<24} {'4 B':>10}  data/x.csv"]


def test_ls_files_lists_oid_presence_size_and_path(data_repo: Path) -> None:
    write(data_repo / "models/big model.bin", b"m" * 3 * 1024 * 1024)
    write(data_repo / "data/x.csv", b"a,b\n")
    write(data_repo / "notes.txt", b"not tracked")
    git("add", "-A")
    git("commit", "-qm", "data")
    oid_m, oid_x = oid_of(b"m" * 3 * 1024 * 1024), oid_of(b"a,b\n")
    path = object_path(data_repo, oid_x)
    make_writable(path)
    path.unlink()
    proc = datax("ls-files")
    assert proc.returncode == 0
    assert proc.stdout == (
        f"{oid_x[:12]} - {'4 B':>10}  data/x.csv\n"
        f"{oid_m[:12]} * {'3.0 MiB':>10}  models/big model.bin\n"
    )
    assert datax("ls-files", "--long").stdout.splitlines()[0] == f"{oid_x} - {'4 B':>10}  data/x.csv"
    git("rm", "-q", "data/x.csv")
    git("commit", "-qm", "rm")
    assert datax("ls-files").stdout == f"{oid_m[:12]} * {'3.0 MiB':>10}  models/big model.bin\n"
    if path.exists():  # git rm may have re-cleaned the file (when racily clean): the object is back
        make_writable(path)
        path.unlink()
    assert datax("ls-files", "--rev", "HEAD~1").stdout == proc.stdout


def test_env_shows_versions_config_store_and_hooks(data_repo: Path) -> None:
    write(data_repo / "a.bin", b"x" * 5000)
    git("add", "-A")
    git("commit", "-qm", "a")
    proc = datax("env")
    assert proc.returncode == 0 and proc.stderr == ""
    # "key  value" with the keys padded to one width (keys may hold single spaces).
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in proc.stdout.splitlines())
    import gitdatax

    assert rows["gitdatax"] == gitdatax.__version__
    assert rows["git"] == git("version").stdout.strip().replace("git version ", "")
    assert rows["git-datax on PATH"] == shutil.which("git-datax")
    assert rows["filter.datax.process"] == "git-datax filter-process"
    assert rows["filter.datax.required"] == "true"
    assert rows["store"] == str(data_repo / ".git/datax")
    assert rows["store objects"].startswith("1 (")
    assert rows["datax.maxgitsize"] == "10.0 MiB"
    assert rows["hooks"] == f"{data_repo / '.git/hooks'} (all installed)"


def test_env_outside_a_repository_still_reports_versions(tmp_path: Path) -> None:
    proc = datax("env", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].startswith("gitdatax ")
    assert re.split(r"\s{2,}", proc.stdout.splitlines()[-1]) == ["repository", "(not in a repository)"]


def test_env_shows_remotes_without_credentials(data_repo: Path, tmp_path: Path) -> None:
    def remotes_row() -> str:
        proc = datax("env")
        assert proc.returncode == 0, proc.stderr
        return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in proc.stdout.splitlines())["remotes"]

    assert remotes_row() == (
        "(no remote store configured and no git remote origin to derive one from: "
        "run `git datax remote add NAME URL`)"
    )
    git("remote", "add", "origin", "https://alice:s3cret@git.example.com/team/proj.git")
    assert remotes_row() == "https://alice@git.example.com/team/proj.git/info/lfs (derived from git remote origin)"
    assert "s3cret" not in datax("env").stdout
    assert datax("remote", "add", "nas", str(tmp_path / "nas"), "--default").returncode == 0
    assert datax("remote", "add", "cloud", "s3://bucket/prefix").returncode == 0
    assert remotes_row() == f"cloud s3://bucket/prefix, nas {tmp_path / 'nas'} (default)"


def test_a_clone_of_a_commit_without_its_gitattributes_line_is_told_the_truth(make_repo, tmp_path: Path) -> None:
    """Issue 11, item 2, the clone side: status said "nothing tracked", pull blamed a corrupt
    store that fsck found fine, checkout exited 1 without a word."""
    author = make_repo("author")
    datax("track", "*.bin", cwd=author)
    data = random_bytes(5000, seed=8)
    write(author / "m.bin", data)
    git("add", "m.bin", cwd=author)
    git("-c", "core.hooksPath=/dev/null", "commit", "-qm", "data, no .gitattributes", cwd=author)  # as before the fix
    clone = tmp_path / "clone"
    git("clone", "-q", str(author), str(clone))
    assert (clone / "m.bin").read_bytes().startswith(b"version gitdatax/1\n")
    oid = oid_of(data)
    proc = datax("status", cwd=clone)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "gitdatax: 0 tracked file(s), 0 B of data: nothing tracked; 1 stub(s) in paths gitdatax does not track"
    assert lines[1].split() == ["stub,", "not", "tracked", "4.9", "KiB", "m.bin"]
    advice = ("git-datax: error: 1 file(s) hold a gitdatax stub, but no .gitattributes line tracks them (they were "
              "committed without `git add .gitattributes`), so git checks them out as stub text: run "
              "`git datax track m.bin`, commit .gitattributes, then `git datax pull`")
    for command in ("checkout", "pull"):
        proc = datax(command, cwd=clone)
        assert proc.returncode == 1, proc.stderr
        assert advice in proc.stderr.splitlines(), proc.stderr
        assert f"  m.bin: object {oid}" in proc.stderr.splitlines()
        assert "corrupt" not in proc.stderr and "fsck" not in proc.stderr
    datax("track", "m.bin", cwd=clone)
    proc = datax("pull", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert (clone / "m.bin").read_bytes() == data


def test_status_tells_untracked_data_conflicts_and_the_real_size_of_raw_files(data_repo: Path) -> None:
    # Issue 16 item 5: "nothing tracked" with files matching a pattern, a conflicted file left
    # out, and "0 B of data" for a file committed raw.
    write(data_repo / "big.bin", b"x" * 3000)
    git(*NO_FILTER, "add", "big.bin")
    git("commit", "-q", "--no-verify", "-m", "raw before the filter was installed")
    for i in range(3):
        write(data_repo / "new" / f"clip{i}.bin", bytes([i]) * 500)   # never added
    write(data_repo / "notes.txt", b"not data")                          # matches no pattern
    proc = datax("status")
    assert proc.stdout.splitlines() == [
        "gitdatax: 1 tracked file(s), 2.9 KiB of data: 1 raw in git, 3 untracked",
        f"  {'raw in git':<24} {'2.9 KiB':>10}  big.bin",
        f"  {'untracked':<24} {'500 B':>10}  new/clip0.bin",
        f"  {'untracked':<24} {'500 B':>10}  new/clip1.bin",
        f"  {'untracked':<24} {'500 B':>10}  new/clip2.bin",
        "  (raw in git: `git add --renormalize .` stores them with gitdatax; commit that)",
        "  (untracked: a tracked pattern matches them but they were never added: `git add PATH` stores them "
        "with gitdatax)",
    ]
    git("rm", "-q", "--cached", "big.bin")
    (data_repo / "big.bin").unlink()
    shutil.rmtree(data_repo / "new")
    write(data_repo / "m.bin", A)
    git("add", "m.bin")
    git("commit", "-qm", "m")
    git("checkout", "-qb", "side")
    write(data_repo / "m.bin", B)
    git("commit", "-qam", "side")
    git("checkout", "-q", "-")
    write(data_repo / "m.bin", C)
    git("commit", "-qam", "ours")
    assert git("merge", "side", check=False).returncode == 1
    proc = datax("status")
    assert proc.stdout.splitlines() == [
        "gitdatax: 0 tracked file(s), 0 B of data: 1 conflicted",
        f"  {'conflicted':<24} {'2.9 KiB':>10}  m.bin",
        "  (conflicted: the work tree holds ours; pick with `git checkout --theirs -- PATH` or --ours, then "
        "`git add PATH`)",
    ]
