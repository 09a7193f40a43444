from __future__ import annotations

import argparse

HELP = "show versions, the git config gitdatax uses, the store and its size, hooks and remotes"


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    import platform
    import shutil

    import zstandard

    from gitdatax import __version__, config, git

    from gitdatax.hooks import installer as hooks
    from gitdatax.errors import NotARepository
    from gitdatax.output import human_size
    from gitdatax.store.objectstore import ObjectStore

    rows: list[tuple[str, str]] = [
        ("gitdatax", __version__),
        ("git", git.output(["version"]).replace("git version ", "")),
        ("python", platform.python_version()),
        ("zstandard", zstandard.__version__),
        ("git-datax on PATH", shutil.which("git-datax") or "no (git cannot run the filter)"),
    ]
    for key in ("filter.datax.process", "filter.datax.required", "merge.datax.driver"):
        rows.append((key, git.config_get(key) or "(not set: run `git datax install`)"))
    try:
        paths = git.repo_paths()
    except NotARepository:
        rows.append(("repository", "(not in a repository)"))
    else:
        store = ObjectStore.for_repo()
        count, size = store.disk_usage()
        rows.append(("git dir", str(paths.git_dir)))
        rows.append(("store", str(store.root)))
        rows.append(("store objects", f"{count} ({human_size(size)} on disk)"))
        rows.append(("datax.maxgitsize", human_size(config.max_git_size())))
        rows.append(("datax.concurrency", str(config.concurrency())))
        if paths.toplevel is not None:
            hooks_dir = git.hooks_dir()
            absent = hooks.missing(hooks_dir)
            rows.append(("hooks", f"{hooks_dir} ({'all installed' if not absent else 'missing: ' + ', '.join(absent) + '; run `git datax install`'})"))
            rows.append(("remotes", _remotes()))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _remotes() -> str:
    """The configured remote stores (credentials hidden), or the one derived from origin, or why
    there is none: a problem here is worth showing, not worth failing `env` for."""
    from gitdatax.errors import FatalError
    from gitdatax.remotes.remote_config import display_url, load, resolve

    try:
        table = load()
        if table.remotes:
            return ", ".join(
                f"{name} {display_url(r.url)}{' (default)' if name == table.default else ''}"
                for name, r in table.remotes.items()
            )
        derived = resolve(None)
        return f"{display_url(derived.url)} (derived from git remote origin)"
    except FatalError as exc:
        return f"({exc})"
