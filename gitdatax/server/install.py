"""`git datax install --server`: the pre-receive hook and the store a bare repository checks.

The store's URL and options are recorded as `datax.serverstore` and `datax.serverstore.OPTION`
in the bare repository's config; remote_config reads them (for pre-receive, `serve` and clients).
"""
from __future__ import annotations

import os
from pathlib import Path

from gitdatax import git

from gitdatax.hooks import installer as hooks
from gitdatax.errors import FatalError, NotARepository
from gitdatax.remotes.remote_config import STORE_KEY, default_store, option_name

SERVER_HOOKS = ("pre-receive",)
TEMPLATE = "server-hook.sh"


def bare_repository(path: str | os.PathLike[str] | None) -> Path:
    """The git dir of the bare repository at `path` (or the current one); refuses a work tree."""
    where = Path(path or os.getcwd())
    if not where.is_dir():
        raise FatalError(f"{where}: no such directory")
    try:
        paths = git.repo_paths(where)
    except NotARepository:
        raise FatalError(f"{where} is not a git repository (give the path of the bare repository)") from None
    if paths.toplevel is not None:
        raise FatalError(
            f"{paths.toplevel} has a work tree: --server is for the bare repository people push to "
            f"(`git init --bare`); on a client run `git datax install` instead"
        )
    return paths.common_dir


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """`endpoint_url=https://...` pairs from the command line."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise FatalError(f"bad store option {pair!r}: expected KEY=VALUE, e.g. endpoint_url=https://minio:9000")
        options[option_name(key.strip())] = value
    return options


def _normalise(url: str | None, git_dir: Path) -> str:
    from gitdatax.remotes import scheme_of

    if not url:
        return str(default_store(git_dir))
    if scheme_of(url) == "file" and not url.startswith("file://"):
        return str(Path(os.path.expanduser(url)).resolve())
    return url


def install(path: str | os.PathLike[str] | None, url: str | None, option_pairs: list[str] | None = None) -> list[str]:
    from gitdatax.remotes.remote_config import display_url, git_key
    from gitdatax.remotes import open_remote, scheme_of

    git_dir = bare_repository(path)
    url = _normalise(url, git_dir)
    options = parse_options(option_pairs)
    # Open it now, so that a URL that cannot work is refused at install time rather than at the
    # first push (a directory store is created here).
    open_remote(url, {**options, "create": True} if scheme_of(url) == "file" else options).close()
    _remove_store_config(git_dir)
    git.config_set(STORE_KEY, url, scope="local", cwd=git_dir)
    for key, value in options.items():
        git.config_set(f"{STORE_KEY}.{git_key(key)}", value, scope="local", cwd=git_dir)
    shown = "".join(f", {k}={v}" for k, v in options.items())
    lines = [f"store: {display_url(url)}{shown} (recorded as {STORE_KEY} in {git_dir / 'config'})"]
    lines += [f"hook {line}" for line in hooks.install(git.hooks_dir(cwd=git_dir), SERVER_HOOKS, TEMPLATE)]
    return lines


def uninstall(path: str | os.PathLike[str] | None) -> list[str]:
    git_dir = bare_repository(path)
    lines = [f"hook {line}" for line in hooks.uninstall(git.hooks_dir(cwd=git_dir), SERVER_HOOKS)]
    url = git.config_get(STORE_KEY, cwd=git_dir)
    if url is not None:
        from gitdatax.remotes.remote_config import display_url

        _remove_store_config(git_dir)
        lines.append(f"{STORE_KEY} removed (the store's data stays in {display_url(url)})")
    return lines


def _remove_store_config(git_dir: Path) -> None:
    git.config_unset(STORE_KEY, scope="local", cwd=git_dir)
    git.run(["config", "--local", "--remove-section", STORE_KEY], cwd=git_dir, check=False)
    left = git.run(["config", "--local", "--get-regexp", r"^datax\."], cwd=git_dir, check=False)
    if left.returncode == 1:  # drop the [datax] header we left empty
        git.run(["config", "--local", "--remove-section", "datax"], cwd=git_dir, check=False)
