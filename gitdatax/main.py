"""`git datax ...`: argument parsing, dispatch, and the one place exceptions become exit codes."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Sequence

from gitdatax import __version__, output
from gitdatax.errors import FatalError

# (command, module in gitdatax.commands); the order is the order of `--help`.
COMMANDS = [
    ("install", "install"),
    ("uninstall", "uninstall"),
    ("track", "track"),
    ("untrack", "untrack"),
    ("status", "status"),
    ("ls-files", "ls_files"),
    ("env", "env"),
    ("demo", "demo"),
    ("serve", "serve"),
    ("fsck", "fsck"),
    ("remote", "remote"),
    ("gc", "gc"),
    ("migrate", "migrate"),
]
# Called by git, not by people: hidden from --help.
HIDDEN_COMMANDS = [
    ("filter-process", "filter_process"),
    ("clean", "clean"),
    ("smudge", "smudge"),
    ("hook", "hook"),
    ("merge-driver", "merge_driver"),
]


def _command_module(module: str) -> ModuleType:
    return importlib.import_module(f"gitdatax.commands.{module}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="git datax",
        description="Version data sets and models with plain Git: large files become small stubs "
        "in Git, their bytes live in a compressed content-addressed store synced with a remote.",
        epilog="Run `git datax COMMAND --help` for a command's options. "
        "Start here: `git datax install`, then `git datax track '*.csv' '*.bin'`.",
    )
    parser.add_argument("--version", action="version", version=f"gitdatax {__version__}")
    visible = ",".join(name for name, _ in COMMANDS)
    sub = parser.add_subparsers(dest="command", metavar=f"{{{visible}}}")
    sub.required = True
    for name, module_name in COMMANDS + HIDDEN_COMMANDS:
        module = _command_module(module_name)
        hidden = (name, module_name) in HIDDEN_COMMANDS
        kwargs = {} if hidden else {"help": module.HELP}
        command_parser = sub.add_parser(
            name, description=getattr(module, "DESCRIPTION", module.HELP), **kwargs,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(command_parser)
        command_parser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except FatalError as exc:
        output.error(str(exc))
        return 1
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # a bug: keep the details, show one line
        log = write_crash_log(sys.argv if argv is None else ["git-datax", *argv])
        output.error(f"internal error ({type(exc).__name__}: {exc}); details in {log}")
        return 2


def write_crash_log(argv: Sequence[str]) -> Path:
    """Write the traceback with versions to <git-common-dir>/datax/logs (or the user cache)."""
    try:
        from gitdatax import git

        log_dir = git.repo_paths().common_dir / "datax" / "logs"
    except Exception:
        log_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gitdatax" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = log_dir / f"{stamp}.log"
    with open(path, "w") as f:
        f.write(f"gitdatax {__version__}, Python {sys.version.split()[0]} on {sys.platform}\n")
        f.write(f"command: {' '.join(argv)}\ncwd: {os.getcwd()}\n\n")
        f.write(traceback.format_exc())
    return path
