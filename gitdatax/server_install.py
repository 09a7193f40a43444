"""`git datax install --server`: the pre-receive hook and the store a bare repository checks.

The store's URL is kept in the bare repository's own config as `datax.serverstore` (absolute
path, file://, s3://, ...) and its backend options as `datax.serverstore.OPTION`, e.g.

    [datax]
        serverstore = s3://acme-ml/wolof-asr
    [datax "serverstore"]
        endpoint-url = https://minio.example.com

Without it the store is `<bare repo>/datax`, which is also where `git datax serve` and the
default remote of a client pushing to a local bare repository look.
"""
from __future__ import annotations

import os
from pathlib import Path

from gitdatax import git, hooks
from gitdatax.errors import FatalError, NotARepository

STORE_KEY = "datax.serverstore"
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


def default_store(git_dir: Path) -> Path:
    return git_dir / "datax"


def store_url(git_dir: Path) -> str:
    """The store this bare repository's pushes are checked against."""
    return git.config_get(STORE_KEY, cwd=git_dir) or str(default_store(git_dir))


def store_options(git_dir: Path) -> dict[str, str]:
    from gitdatax.remote_config import option_name

    proc = git.run(["config", "--local", "-z", "--get-regexp", r"^datax\.serverstore\."], cwd=git_dir, check=False)
    options = {}
    for record in proc.stdout.split(b"\0"):
        if record:
            key, _, value = record.decode("utf-8", "surrogateescape").partition("\n")
            options[option_name(key.rpartition(".")[2])] = value
    return options


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """`endpoint_url=https://...` pairs from the command line."""
    from gitdatax.remote_config import option_name

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


def open_store(git_dir: Path):  # type: ignore[no-untyped-def]
    """The server's store as a Remote. A directory store is created when missing: a fresh server
    has simply stored nothing yet."""
    from gitdatax.remotes import open_remote, scheme_of

    url = store_url(git_dir)
    options: dict[str, object] = dict(store_options(git_dir))
    if scheme_of(url) == "file":
        options["create"] = True
    return open_remote(url, options)


def install(path: str | os.PathLike[str] | None, url: str | None, option_pairs: list[str] | None = None) -> list[str]:
    from gitdatax.remote_config import display_url, git_key
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
        from gitdatax.remote_config import display_url

        _remove_store_config(git_dir)
        lines.append(f"{STORE_KEY} removed (the store's data stays in {display_url(url)})")
    return lines


def _remove_store_config(git_dir: Path) -> None:
    git.config_unset(STORE_KEY, scope="local", cwd=git_dir)
    git.run(["config", "--local", "--remove-section", STORE_KEY], cwd=git_dir, check=False)
    left = git.run(["config", "--local", "--get-regexp", r"^datax\."], cwd=git_dir, check=False)
    if left.returncode == 1:  # drop the [datax] header we left empty
        git.run(["config", "--local", "--remove-section", "datax"], cwd=git_dir, check=False)
