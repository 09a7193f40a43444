"""What each client hook does for gitdatax, after any chained user hook has run."""
from __future__ import annotations

from typing import Callable

from gitdatax import output

HookAction = Callable[[list[str], bytes], int]


def pre_commit(args: list[str], stdin: bytes) -> int:
    from gitdatax.hooks.checks import inspect_staged

    problems, staged = inspect_staged()
    if problems:
        output.error(f"commit refused: {len(problems)} file(s) cannot be committed as staged")
        for line in problems:
            output.info(f"  {line}")
        return 1
    from gitdatax.hooks.data import pre_commit_upload

    return pre_commit_upload(staged)


def _data_hook(name: str) -> HookAction:
    def action(args: list[str], stdin: bytes) -> int:
        from gitdatax.hooks import data as data_hooks

        return getattr(data_hooks, name)(args, stdin)  # type: ignore[no-any-return]

    return action


def pre_receive(args: list[str], stdin: bytes) -> int:
    from gitdatax import git
    from gitdatax.server import pre_receive as server_check

    return server_check.check(git.repo_paths().common_dir, stdin)


ACTIONS: dict[str, HookAction] = {
    "pre-commit": pre_commit,
    "pre-receive": pre_receive,
    "pre-push": _data_hook("pre_push"),
    "post-checkout": _data_hook("post_checkout_like"),
    "post-merge": _data_hook("post_checkout_like"),
    "post-rewrite": _data_hook("post_checkout_like"),
}
