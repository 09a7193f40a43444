from __future__ import annotations

import argparse
import sys

HELP = "run one of gitdatax's git hooks (called by the hook scripts)"

# Hooks that git feeds on standard input; the input is read once and given to the chained hook too.
_STDIN_HOOKS = {"pre-push", "post-rewrite", "pre-receive"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the hook's name, e.g. pre-commit")
    parser.add_argument("hook_args", nargs=argparse.REMAINDER, help="the arguments git gave the hook")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git
    from gitdatax.hooks import installer as hooks
    from gitdatax.cli.hook_actions import ACTIONS

    stdin = sys.stdin.buffer.read() if args.name in _STDIN_HOOKS else b""
    code = hooks.run_chained(git.repo_paths().hooks, args.name, args.hook_args, stdin)
    if code != 0:
        return code
    action = ACTIONS.get(args.name)
    if action is None:
        return 0
    return action(args.hook_args, stdin)
