from __future__ import annotations

import argparse
import shutil

HELP = "set up the datax filter and merge driver in git config, and the hooks in this repository"
DESCRIPTION = """Write the filter.datax.* and merge.datax.* settings git needs into the chosen git
config (--global by default), and, inside a repository, install gitdatax's hooks. Existing hooks
are kept: each is renamed to NAME.pre-datax and still runs first. Run once per machine; a
plain `git clone` then brings data with the code.

On a Git server, `git datax install --server [--store URL] [PATH]` in (or naming) the bare
repository people push to installs only the pre-receive hook, which refuses a push whose stubs
name objects missing from the server's store, and records that store as datax.serverstore
(default <bare repo>/datax). No filter config is written there."""

def configure(parser: argparse.ArgumentParser) -> None:
    from gitdatax.cli.common import add_scope_arguments

    add_scope_arguments(parser)
    parser.add_argument("--skip-hooks", action="store_true", help="write the config only, no hooks")
    parser.add_argument("--store", metavar="URL", help="with --server: the store pushes are checked "
                        "against (a path, file://, s3://...; default <bare repo>/datax)")
    parser.add_argument("--store-option", metavar="KEY=VALUE", action="append",
                        help="with --server: a backend option of the store, e.g. endpoint_url=URL, "
                        "region=R, profile=P for S3 (repeatable; AWS credentials come from the "
                        "server's environment or profile files, never from here)")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="with --server: the bare repository (default: the current directory)")


def run(args: argparse.Namespace) -> int:
    from gitdatax import attributes, git, output
    from gitdatax.hooks import installer as hooks
    from gitdatax.errors import FatalError, NotARepository

    if args.scope == "server" or args.store or args.path or args.store_option:
        return _install_server(args)
    in_work_tree = bare = False
    try:
        paths = git.repo_paths()
        in_work_tree, bare = paths.toplevel is not None, paths.bare
    except NotARepository:
        if args.scope == "local":
            raise FatalError("--local needs a repository: run it inside one") from None
    for key, value in attributes.FILTER_CONFIG.items():
        git.config_set(key, value, scope=args.scope)
    output.info(f"gitdatax: filter and merge driver configured ({args.scope} git config)")
    if in_work_tree and not args.skip_hooks:
        for line in hooks.install(git.hooks_dir()):
            output.info(f"  hook {line}")
        # The mark of a repository that uses gitdatax, for hooks shared by every repository (a
        # global core.hooksPath), which do nothing where there is no <git dir>/datax and no
        # gitdatax line in .gitattributes (hooks/client-hook.sh).
        (paths.common_dir / "datax").mkdir(exist_ok=True)
    if bare:  # someone setting up the server most likely wants the server side
        output.info(f"{paths.common_dir} is a bare repository: no hooks here; on the Git server, "
                    "`git datax install --server` installs the one that refuses pushes whose data is not stored")
    if args.scope in ("global", "system"):
        _install_man_page()
    if shutil.which("git-datax") is None:
        output.warn("git-datax is not on your PATH: git will not find the filter until it is")
    return 0


def _install_man_page() -> None:
    """`git datax --help` is `man git-datax` to git: give man a page to show."""
    from gitdatax import output
    from gitdatax.cli import manpage
    from gitdatax.cli.main import build_parser

    if manpage.install(build_parser()) is None:
        output.warn("no writable man folder: `git datax --help` will not work; use `git datax -h`")


def _install_server(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.server import install as server_install
    from gitdatax.errors import FatalError

    if args.scope != "server":
        raise FatalError("--store, --store-option and PATH go with --server "
                         "(`git datax install --server [--store URL] [PATH]`)")
    lines = server_install.install(args.path, args.store, args.store_option)
    output.info("gitdatax: server side installed")
    for line in lines:
        output.info(f"  {line}")
    return 0
