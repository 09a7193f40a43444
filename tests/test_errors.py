"""Errors: a problem the user can fix is one line on stderr and exit 1; a bug is exit 2, one line,
and its traceback in .git/datax/logs/, never on the terminal."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import datax, git, write


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith("git-datax: error: "), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc.stderr[len("git-datax: error: ") : -1]


@pytest.mark.parametrize("command", [["status"], ["ls-files"], ["track", "*.bin"], ["untrack", "*.bin"], ["track"]])
def test_outside_a_repository(tmp_path: Path, command: list[str]) -> None:
    proc = datax(*command, cwd=tmp_path)
    assert one_line_error(proc) == "not in a git repository (run this inside a work tree)"
    assert proc.stdout == ""


def test_usage_errors_are_one_line_and_exit_1(repo: Path) -> None:
    assert one_line_error(datax("frobnicate")).startswith("unknown command 'frobnicate': one of install,")
    assert one_line_error(datax("status", "--bogus")) == "unrecognized arguments: --bogus (see `git datax status --help`)"
    assert one_line_error(datax("untrack")) == (
        "the following arguments are required: PATTERN (see `git datax untrack --help`)"
    )
    assert one_line_error(datax("install", "--local", "--global")).startswith("argument --global: not allowed with")


def test_bad_maxgitsize(repo: Path) -> None:
    git("config", "datax.maxgitsize", "ten megs")
    assert one_line_error(datax("env")) == "bad size 'ten megs' for datax.maxgitsize (expected e.g. 10MiB, 500k, 1G)"


def test_a_bad_team_concurrency_names_the_team_file(repo: Path) -> None:
    write(repo / ".datax.toml", b'[core]\nconcurrency = "lots"\n')
    assert one_line_error(datax("env")) == ("bad [core] concurrency 'lots' in .datax.toml (expected a whole number "
                                            "from 1 to 256)")
    git("config", "datax.concurrency", "0")  # git config wins, and is named as git config
    assert one_line_error(datax("env")) == "bad datax.concurrency '0' (expected a whole number from 1 to 256)"


@pytest.mark.parametrize(
    "text, message",
    [
        (b"[core\nmaxgitsize = 1\n",
         ".datax.toml: invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 6)"),
        (b"core = 5\n", ".datax.toml: [core] must be a table"),
        # The team file's value is named as the team file's (issue 16 item 6), not git config's.
        (b'[core]\nmaxgitsize = "huge"\n', "bad size 'huge' for [core] maxgitsize in .datax.toml (expected e.g. "
                                           "10MiB, 500k, 1G)"),
        (b"# r\xe9glages de l'\xe9quipe (Latin-1)\n[core]\nmaxgitsize = 1\n",
         ".datax.toml: not UTF-8 text (byte 0xe9 at offset 3); TOML files are UTF-8"),
    ],
)
def test_bad_datax_toml(repo: Path, text: bytes, message: str) -> None:
    write(repo / ".datax.toml", text)
    assert one_line_error(datax("env")) == message
    # The pre-commit hook reads it too: the commit stops with the same one line.
    write(repo / "x.txt", b"x")
    git("add", "x.txt")
    proc = git("commit", "-qm", "x", check=False)
    assert (proc.returncode, proc.stderr) == (1, f"git-datax: error: {message}\n")


def test_git_failure_is_reported_with_the_command(repo: Path) -> None:
    (repo / ".git/index").write_bytes(b"garbage")
    assert one_line_error(datax("ls-files")) == (
        "`git ls-files -s -z` exited 128: fatal: .git/index: index file smaller than expected"
    )
    assert one_line_error(datax("ls-files", "--rev", "no-such-rev")) == "--rev no-such-rev: no such commit"


def logs(repo: Path) -> list[Path]:
    return sorted((repo / ".git/datax/logs").glob("*.log"))


def test_internal_error_exits_2_with_the_traceback_in_the_log(repo: Path) -> None:
    # The store's objects folder is a file: nothing the user typed is wrong, the code cannot go on.
    (repo / ".git/datax").mkdir(parents=True, exist_ok=True)
    (repo / ".git/datax/objects").write_text("not a folder")
    proc = subprocess.run(["git-datax", "clean", "--", "a.bin"], input=b"some content", capture_output=True)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    message = one_line_error(result, code=2)
    (log,) = logs(repo)
    assert message.startswith("internal error (NotADirectoryError: [Errno 20] Not a directory: ")
    assert message.endswith(f"; details in {log}")
    text = log.read_text()
    assert text.startswith("gitdatax ")
    assert "command: " in text and "clean -- a.bin" in text
    assert "Traceback (most recent call last):" in text
    assert "NotADirectoryError" in text.splitlines()[-1]


def test_internal_error_in_the_filter_process_fails_that_file_and_is_logged(data_repo: Path) -> None:
    (data_repo / ".git/datax").mkdir(exist_ok=True)
    (data_repo / ".git/datax/objects").write_text("not a folder")
    write(data_repo / "a.bin", b"payload")
    proc = git("add", "a.bin", check=False)
    assert proc.returncode == 128
    (log,) = logs(data_repo)
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("git-datax: cannot store a.bin: NotADirectoryError: [Errno 20] Not a directory: ")
    assert lines[0].endswith(f" (details in {log})")
    assert lines[1:] == ["fatal: a.bin: clean filter 'datax' failed"]
    assert "Traceback (most recent call last):" in log.read_text()


def test_internal_error_when_even_the_log_folder_is_broken(
    repo: Path, isolated_git: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    shutil.rmtree(repo / ".git/datax")  # made by `git datax install`, the mark of a repository using gitdatax
    (repo / ".git/datax").write_text("the whole store is a file")
    proc = subprocess.run(["git-datax", "clean", "--", "a.bin"], input=b"some content", capture_output=True)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    message = one_line_error(result, code=2)
    (log,) = sorted((isolated_git / ".cache/gitdatax/logs").glob("*.log"))
    assert message.endswith(f"; details in {log}")
    assert "Traceback (most recent call last):" in log.read_text()
