"""What several commands share, as pre-commit's commands share their option helpers: argument
groups and printing a view. A command module imports this, never another command."""
from __future__ import annotations

import argparse
from typing import Callable, Iterable, Iterator


def add_pattern_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", "--include", action="append", metavar="PATTERNS",
                        help="only paths matching these comma-separated patterns")
    parser.add_argument("-X", "--exclude", action="append", metavar="PATTERNS",
                        help="not paths matching these comma-separated patterns")


def add_scope_arguments(parser: argparse.ArgumentParser, server_help: str = "a bare repository on a Git server: "
                        "the pre-receive hook that refuses pushes whose data is not in the server's store "
                        "(see PATH)") -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--local", dest="scope", action="store_const", const="local",
                       help="this repository's config only")
    scope.add_argument("--global", dest="scope", action="store_const", const="global",
                       help="your user config (the default)")
    scope.add_argument("--system", dest="scope", action="store_const", const="system",
                       help="the machine-wide config (needs write access to it)")
    scope.add_argument("--server", dest="scope", action="store_const", const="server", help=server_help)
    parser.set_defaults(scope="global")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def precision(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 17:
        raise argparse.ArgumentTypeError("must be between 0 and 17")
    return value


def add_format_options(parser: argparse.ArgumentParser, *, csv: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_const", const="json", dest="fmt", help="JSON, as DVC prints it")
    if csv:
        group.add_argument("--csv", action="store_const", const="csv", dest="fmt", help="comma-separated values")
    group.add_argument("--md", action="store_const", const="md", dest="fmt", help="a Markdown (GFM) table")
    parser.set_defaults(fmt="table")


def add_common_options(parser: argparse.ArgumentParser, *, several_targets: bool = False) -> None:
    """`several_targets`: `--targets A B` as DVC's `metrics diff` and `params diff` take it (show
    takes revisions after its options, so there one path follows each --targets)."""
    parser.add_argument("--precision", type=precision, default=5, metavar="N",
                        help="digits after the point in tables (default 5, as DVC)")
    parser.add_argument("--targets", action="extend", nargs="+" if several_targets else 1, default=[],
                        metavar="PATH", help="read this file (named in datax.yaml or not), or the files "
                        "under this folder, instead of the pipeline's (repeatable)")


def add_diff_options(parser: argparse.ArgumentParser, what: str) -> None:
    """`diff [A] [B] [--all]` of metrics and params, with their format and common options."""
    parser.add_argument("a", nargs="?", metavar="A", help="the old revision (default HEAD)")
    parser.add_argument("b", nargs="?", metavar="B", help="the new revision (default the work tree)")
    parser.add_argument("--all", action="store_true", dest="everything", help=f"unchanged {what} too")
    add_format_options(parser, csv=False)
    add_common_options(parser, several_targets=True)


def add_filter_path(parser: argparse.ArgumentParser) -> None:
    """The one-shot filters' argument (clean, smudge: git's `%f`)."""
    parser.add_argument("path", nargs="?", default="", help="the file's path, for messages")


def filter_stdin(transform: Callable[[Iterator[bytes]], Iterable[bytes]]) -> None:
    """git's one-shot filter: stdin through `transform` to stdout, 1 MiB at a time."""
    import sys

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    for chunk in transform(iter(lambda: stdin.read(1 << 20), b"")):
        stdout.write(chunk)
    stdout.flush()


def print_view(view: object) -> int:
    """The table on stdout, then what could not be read on stderr (the rest was still shown)."""
    import sys

    from gitdatax import output

    sys.stdout.write(view.text)  # type: ignore[attr-defined]
    sys.stdout.flush()
    for note in view.notes:  # type: ignore[attr-defined]
        output.warn(note)
    return 0
