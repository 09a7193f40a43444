"""`git datax ...`: argument parsing, dispatch, and the one place exceptions become exit codes."""
from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from types import ModuleType
from typing import NoReturn, Sequence

from gitdatax import __version__, output
from gitdatax.errors import FatalError, environment_problem

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
    ("push", "push"),
    ("fetch", "fetch"),
    ("pull", "pull"),
    ("checkout", "checkout"),
    ("gc", "gc"),
    ("migrate", "migrate"),
    ("get", "get"),
    ("list", "listing"),
    ("import", "import_"),
    ("update", "update"),
    ("model", "model"),
    ("stage", "stage"),
    ("repro", "repro"),
    ("dag", "dag"),
    ("metrics", "metrics"),
    ("params", "params"),
    ("plots", "plots"),
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
    return importlib.import_module(f"gitdatax.cli.commands.{module}")


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, but 2 means a bug here: a usage error is a problem the
    user can fix, so it is one line and exit status 1 (subcommand parsers inherit this class)."""

    # The innermost parser that ran: the top parser reports unrecognized arguments, but the
    # help that answers them is the (sub)command's.
    _innermost: "_Parser | None" = None

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{output.PREFIX}: error: {message} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        _Parser._innermost = self  # a subcommand's parser runs inside its parent's call
        return super().parse_known_args(args, namespace)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            (_Parser._innermost or self).error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def _check_value(self, action: argparse.Action, value: object) -> None:
        """An unknown command: name the closest one, or the visible ones (not git's internals)."""
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            import difflib

            # Commands added without help (the hidden ones) have no entry in _choices_actions.
            visible = [a.dest for a in action._choices_actions] or list(action.choices)
            from gitdatax.cli.verbs import hint_for

            other_tools = hint_for(str(value), set(action.choices))  # DVC's and Git LFS's verbs
            if other_tools is not None:
                raise argparse.ArgumentError(None, other_tools)
            close = difflib.get_close_matches(str(value), visible, n=1)
            hint = f"did you mean `{self.prog} {close[0]}`?" if close else f"one of {', '.join(visible)}"
            raise argparse.ArgumentError(None, f"unknown command {value!r}: {hint}")
        super()._check_value(action, value)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only`, the parser of that one command alone: importing and
    configuring all fifty costs 55 ms a start, a fifth of a no-op `repro` (issue 12's 0.3 s)."""
    parser = _Parser(
        prog="git datax",
        description="Version data sets and models with plain Git: large files become small stubs "
        "in Git, their bytes live in a compressed content-addressed store synced with a remote.",
        epilog="Run `git datax COMMAND --help` for a command's options. "
        "Start here: `git datax install`, then `git datax track '*.csv' '*.bin'`.",
    )
    parser.add_argument("--version", action="version", version=f"gitdatax {__version__}")
    visible = ",".join(name for name, _ in COMMANDS)
    sub = parser.add_subparsers(dest="command", metavar=f"{{{visible}}}")
    sub.required = False  # main() says "no command given" in words, not as a {a,b,...} set
    for name, module_name in COMMANDS + HIDDEN_COMMANDS:
        if only is not None and name != only:
            continue
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
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting up (importing a command, parsing): no traceback
        output.error("interrupted")
        return 130


def _main(argv: Sequence[str] | None) -> int:
    # `git checkout --recurse-submodules` runs read-tree, hence our filter, in a submodule with
    # GIT_INTERNAL_SUPER_PREFIX set (git < 2.40); every git command we start would inherit it and
    # die with "doesn't support --super-prefix" (git-lfs fixed the same, git-lfs#4063).
    os.environ.pop("GIT_INTERNAL_SUPER_PREFIX", None)
    # Paths are bytes to git: one that is not UTF-8 reaches us as surrogate escapes, and must be
    # printed back as its bytes (as git does), not crash a UTF-8 locale's strict stdout. And UTF-8
    # whatever the locale: git writes a path's bytes as they are, where an ASCII or Latin-1
    # stream would fail on 'données.bin' (an internal error, or a traceback from the handler).
    for stream in (sys.stdout, sys.stderr):  # messages name paths too (stderr's default: \udce9)
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors="surrogateescape")
    from gitdatax.cli.verbs import add_with_paths

    dvc_add = add_with_paths(list(sys.argv[1:] if argv is None else argv))
    if dvc_add is not None:  # before argparse, which sees only the verb
        output.error(dvc_add)
        return 1
    given = list(sys.argv[1:] if argv is None else argv)
    # `git datax CMD ...`: only CMD's parser is built. Anything else (no command, an option
    # first, an unknown command) gets the whole one, for the full help and the "did you mean".
    known = {name for name, _ in COMMANDS + HIDDEN_COMMANDS}
    parser = build_parser(only=given[0] if given and given[0] in known else None)
    args = parser.parse_args(given)
    if args.command is None:
        parser.error(f"no command given: one of {', '.join(name for name, _ in COMMANDS)}")
    from gitdatax.cli import signals

    signals.unwind_on_signals()  # SIGTERM cleans up as Ctrl-C does; the filter ends at once instead
    try:
        return int(args.run(args) or 0)
    except FatalError as exc:
        output.error(str(exc))
        return 1
    except KeyboardInterrupt:
        # Threads still writing (a transfer's workers) are daemons and die with us, mid-file:
        # their partial files go now, as the main thread's went with its `finally` blocks.
        from gitdatax.store import tmpfiles

        tmpfiles.remove_own()
        output.error("interrupted")
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # a bug: keep the details, show one line
        problem = environment_problem(exc)
        if problem is not None:  # not a bug: a full disk, a read-only file system, ...
            output.error(problem)
            return 1
        from gitdatax.crashlog import details, write_crash_log  # traceback, datetime: off the start-up

        log = write_crash_log(sys.argv if argv is None else ["git-datax", *argv])
        output.error(f"internal error ({type(exc).__name__}: {exc}); {details(log)}")
        return 2
