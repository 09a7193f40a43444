"""The command line at the edges a newcomer hits: misspelled commands and options, the wrong
kind of repository, bad URLs and patterns. Each is one line on stderr and exit 1, never a
traceback, and says what to do."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import datax, git, write


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("git-datax: error: "), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc.stderr[len("git-datax: error: "):-1]


def test_a_misspelled_command_suggests_the_closest_one_and_hides_internal_ones(repo: Path) -> None:
    message = one_line_error(datax("stauts"))
    assert message == "unknown command 'stauts': did you mean `git datax status`? (see `git datax --help`)"
    message = one_line_error(datax("frobnicate"))
    assert message.startswith("unknown command 'frobnicate': one of install, uninstall, track,")
    assert "filter-process" not in message and "smudge" not in message
    assert one_line_error(datax("remote", "ad", "x", "/tmp")) == (
        "unknown command 'ad': did you mean `git datax remote add`? (see `git datax remote --help`)")


def test_an_unknown_option_points_to_the_help_of_its_command(repo: Path) -> None:
    assert one_line_error(datax("status", "--bogus")) == "unrecognized arguments: --bogus (see `git datax status --help`)"
    assert one_line_error(datax("remote", "add", "a", "/tmp", "extra")) == (
        "unrecognized arguments: extra (see `git datax remote add --help`)")
    assert one_line_error(datax("status", "-a", "--bogus", cwd="/")) == (
        "unrecognized arguments: --bogus (see `git datax status --help`)")
