"""A man page for `git datax --help`: git turns `git datax --help` into `man git-datax`, so
without one the user gets "No manual entry". The page is written from argparse's own help, so it
can never disagree with `git datax COMMAND -h`."""
from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from gitdatax import __version__
from gitdatax.files import write_atomically


def render(parser: argparse.ArgumentParser) -> str:
    def roff(text: str) -> str:
        lines = []
        for line in text.rstrip().splitlines():
            line = line.replace("\\", "\\\\").replace("-", "\\-")
            lines.append("\\&" + line if line.startswith((".", "'")) else line)
        return "\n".join(lines)

    out = [
        f'.TH GIT\\-DATAX 1 "{date.today().isoformat()}" "gitdatax {__version__}" "Git Manual"',
        ".SH NAME",
        "git\\-datax \\- version data sets and models with plain Git",
        ".SH SYNOPSIS",
        ".nf",
        roff(parser.format_help()),
        ".fi",
    ]
    out.append(".SH COMMANDS")

    def commands(parent: argparse.ArgumentParser, prefix: str) -> None:
        subparsers = next((a for a in parent._actions if isinstance(a, argparse._SubParsersAction)), None)
        if subparsers is None:
            return
        visible = {c.dest for c in subparsers._choices_actions}
        for name, sub in subparsers.choices.items():
            if name in visible:
                out.extend([f".SS {roff(prefix + name)}", ".nf", roff(sub.format_help()), ".fi"])
                commands(sub, f"{prefix}{name} ")  # `remote add`, `migrate import`: their options too

    commands(parser, "")
    return "\n".join(out) + "\n"


MANDIR_ENV = "GIT_DATAX_MANDIR"  # a man folder of your choice (its man1/ gets the page)


def candidate_dirs() -> list[Path]:
    """Where man finds pages without extra configuration: the system's local tree when it is
    writable (root), else the user's ~/.local/share/man (man-db adds it for ~/.local/bin on PATH).
    GIT_DATAX_MANDIR names the folder instead (a prefix of one's own, a packager's staging tree,
    and the test suite, which writes nothing outside its temporary folders: issue 11, item 12)."""
    chosen = os.environ.get(MANDIR_ENV)
    if chosen:
        return [Path(chosen) / "man1"]
    dirs = [Path("/usr/local/share/man/man1")]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    dirs.append(data_home / "man" / "man1")
    return dirs


def install(parser: argparse.ArgumentParser) -> Path | None:
    """Write git-datax.1 to the first writable candidate; None when none is."""
    text = render(parser)
    for folder in candidate_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / "git-datax.1"
            write_atomically(target, text)
            return target
        except OSError:
            continue
    return None
