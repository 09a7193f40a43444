from __future__ import annotations

import argparse

HELP = "remove gitdatax's git config and hooks (only what gitdatax wrote)"
DESCRIPTION = """Remove the filter.datax.* and merge.datax.* settings from the chosen git config
(--global by default) and, inside a repository, the hooks gitdatax wrote, putting back any hook
they had replaced. Your data stays in .git/datax; files already checked out keep their content.
With --server [PATH]: remove the pre-receive hook and the datax.serverstore settings from a bare
repository; the store's data stays."""


def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_scope_arguments

    add_scope_arguments(parser, server_help="a bare repository on a Git server: remove the pre-receive hook "
                        "and the datax.serverstore settings (see PATH); the store's data stays")
    parser.add_argument("--skip-hooks", action="store_true", help="leave the hooks alone")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="with --server: the bare repository (default: the current directory)")


def run(args: argparse.Namespace) -> int:
    from gitdatax import git, output
    from gitdatax.hooks import installer as hooks
    from gitdatax.attributes import FILTER_CONFIG
    from gitdatax.errors import FatalError, NotARepository

    if args.scope == "server" or args.path:
        if args.scope != "server":
            raise FatalError("PATH goes with --server (`git datax uninstall --server [PATH]`)")
        from gitdatax.server import install as server_install

        lines = server_install.uninstall(args.path)
        output.info("gitdatax: server side removed")
        for line in lines:
            output.info(f"  {line}")
        return 0
    if args.scope == "local":
        try:
            git.repo_paths()
        except NotARepository:
            raise FatalError("--local needs a repository: run it inside one") from None
    for key, ours in FILTER_CONFIG.items():
        if git.config_get(key, scope=args.scope) == ours:
            git.config_unset(key, scope=args.scope)
    for section in ("filter.datax", "merge.datax"):  # drop a section header left empty
        left = git.run(["config", f"--{args.scope}", "--get-regexp", "^" + section.replace(".", r"\.") + r"\."], check=False)
        if left.returncode == 1:
            git.run(["config", f"--{args.scope}", "--remove-section", section], check=False)
    output.info(f"gitdatax: filter and merge driver removed ({args.scope} git config)")
    try:
        in_work_tree = git.repo_paths().toplevel is not None
    except NotARepository:
        in_work_tree = False
    if in_work_tree and not args.skip_hooks:
        for line in hooks.uninstall(git.hooks_dir()):
            output.info(f"  hook {line}")
    return 0
