from __future__ import annotations

import argparse
from typing import Any

HELP = "add, list, remove remote stores, or pick the default one (team .datax.toml or your git config)"
DESCRIPTION = """Remote stores hold the data that push uploads and fetch, pull and clone download.
A remote is a URL; the scheme picks the backend:
  /path, file:///path       a directory store (NAS, shared disk, <bare repo>/datax)
  s3://bucket/prefix        S3 or S3-compatible storage (--endpoint-url for MinIO, Ceph, R2)
  https://host/path         a Git LFS server (GitHub, GitLab, Gitea, giftless, `git datax serve`)
  ssh://host/path, host:path   `git-datax serve --stdio PATH` on that host over ssh
  gs://bucket/prefix        Google Cloud Storage (pip install 'gitdatax[gs]')
  az://container/prefix     Azure Blob Storage, also abfs(s):// (pip install 'gitdatax[azure]')
  webdav(s)://host/path     WebDAV (pip install 'gitdatax[webdav]'; -o user=... -o password=... --local)
  hdfs://host:port/path     HDFS through pyarrow (pip install 'gitdatax[hdfs]'); webhdfs://host:port/path
  any other fsspec protocol whose package is installed; -o KEY=VALUE options go to that file system

Without --local, remotes are written to .datax.toml at the top of the work tree: commit it so the
team shares them. With --local they go to this repository's git config (datax.remote.NAME.*),
for you only; git config overrides .datax.toml key by key.

With no remote configured, the default follows the git remote origin (or the only git remote
there is, after `git clone -o NAME`): a local bare repository stores in <bare>/datax, an http(s)
origin uses its Git LFS endpoint, an ssh origin the ssh backend. `git datax remote list` (or just `git datax remote`) shows what is in effect.

Every remote takes -o retries=N (default 3: tries after the first, per object), -o backoff=S
(0.5: seconds before the first retry, doubled each time) and -o timeout=S (60: seconds a request,
or an SSH server's next byte, may take); a server that answers nothing at all for retries+1
timeouts is given up on for the whole transfer. E.g. on a flaky link:
  git config datax.remote.team.timeout 20; git config datax.remote.team.retries 5"""


def configure(parser: argparse.ArgumentParser) -> None:
    # No subcommand lists them, as `git remote` does (and -v, as `git remote -v`).
    parser.add_argument("-v", "--verbose", action="store_true", help="with no subcommand: list them with "
                        "their options and where each is set")
    sub = parser.add_subparsers(dest="action", metavar="{add,list,remove,set-default}")
    add = sub.add_parser("add", help="add a remote", formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="""Add a remote store named NAME at URL (a path, s3://BUCKET/PREFIX, an
http(s):// Git LFS server, ssh://host/path or host:path, gs://, az://, webdav://, hdfs://: see
`git datax remote --help`), to .datax.toml (commit it: the team's) or, with --local, to this
repository's git config (yours). Nothing is contacted now, but the URL is checked: a scheme
without its // (s3:/bucket), an unknown scheme, a missing bucket or host, and a directory that
does not exist (a warning; --create makes it) each get one line.

Examples:
  git datax remote add nas /srv/nas/proj --default
  git datax remote add team s3://acme-ml/proj --endpoint-url https://minio.example.com --default
  git datax remote add lfs https://git.example.com/team/proj --local
  git datax remote add gcs gs://acme-ml/proj --default""")
    add.add_argument("name", metavar="NAME")
    add.add_argument("url", metavar="URL")
    add.add_argument("-d", "--default", action="store_true", help="make it the default remote (-d as in dvc)")
    add.add_argument("--endpoint-url", help="S3: the endpoint of an S3-compatible service")
    add.add_argument("--region", help="S3: the region")
    add.add_argument("--profile", help="S3: the AWS profile to take credentials from")
    add.add_argument("--create", action="store_true", help="a directory store: create the directory if it "
                     "does not exist (else a warning; asked on a terminal)")
    add.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                     help="any other backend option (repeatable): retries, backoff, timeout for every remote "
                     "(see `git datax remote --help`); for a directory remote, link=true hard-links "
                     "objects instead of copying them (one inode for both stores: no backup); for an http(s) "
                     "remote, chunks=false sends only Git LFS's basic transfers")
    _local_flag(add)
    lst = sub.add_parser("list", help="list remotes", description="List the remotes in effect, the default first.")
    lst.add_argument("-v", "--verbose", action="store_true", help="show each remote's options and where it is set")
    rm = sub.add_parser("remove", help="remove a remote", description="Remove remote NAME.")
    rm.add_argument("name", metavar="NAME")
    _local_flag(rm)
    sd = sub.add_parser("set-default", help="make NAME the default remote",
                        description="Make NAME the remote that push, fetch, pull and the hooks use.")
    sd.add_argument("name", metavar="NAME")
    _local_flag(sd)


def _local_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local", action="store_true",
                        help="write this repository's git config (just you) instead of .datax.toml (the team)")


def run(args: argparse.Namespace) -> int:
    return {"add": _add, "list": _list, "remove": _remove, "set-default": _set_default}[args.action or "list"](args)


def _team_path() -> Any:
    from gitdatax import git
    from gitdatax.config import TEAM_FILE

    return git.toplevel() / TEAM_FILE


def _check_name(name: str) -> None:
    from gitdatax.errors import FatalError
    from gitdatax.remotes.remote_config import NAME_RE

    if not NAME_RE.fullmatch(name):
        raise FatalError(f"invalid remote name {name!r}: use letters, digits, '-' and '_' (at most 64)")


def _add(args: argparse.Namespace) -> int:
    from gitdatax import git, output, toml_edit
    from gitdatax.errors import FatalError
    from urllib.parse import urlparse

    from gitdatax.remotes.remote_config import (TEAM_FILE, display_url, git_config_entries, git_key, git_remotes,
                                        option_name, team_remotes)
    from gitdatax.remotes.url_check import check_url

    _check_name(args.name)
    checked = check_url(args.url)
    scheme = checked.scheme
    if checked.warning:
        output.warn(checked.warning)
    typed = args.url  # a relative path, from where the command runs
    args.url = _from_top(args.url, scheme)
    values: dict[str, Any] = {"url": args.url}
    for key in ("endpoint_url", "region", "profile"):
        if getattr(args, key):
            values[key] = getattr(args, key)
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FatalError(f"bad option {item!r}: expected KEY=VALUE")
        key = option_name(key.strip())
        if key in ("url", "default"):
            raise FatalError(f"bad option {item!r}: give the URL as an argument and use --default")
        values[key] = value
    if args.default:
        values["default"] = True
    git.toplevel()  # both kinds need a work tree
    if scheme == "file":
        _directory_exists(typed, create=args.create)
    if args.local:
        local = git_remotes(git_config_entries(scope="local"))
        if args.name in local:
            raise FatalError(f"remote {args.name!r} already exists in git config (remove it first: "
                             f"`git datax remote remove --local {args.name}`)")
        if args.default:
            _unset_local_defaults(local)
        for key, value in values.items():
            git.config_set(f"datax.remote.{args.name}.{git_key(key)}", "true" if value is True else str(value), scope="local")
        output.info(f"added remote {args.name} ({display_url(args.url)}) to this repository's git config")
        return 0
    from gitdatax.remotes.remote_config import TEAM_SAFE_OPTIONS

    unsafe = [key for key in values if key not in TEAM_SAFE_OPTIONS]
    if unsafe:
        raise FatalError(f"remote {args.name}: {unsafe[0]} may not be set in the team file {TEAM_FILE}, which "
                         "every clone reads (it names no program to run and no credentials): add the remote "
                         "with --local, to your own git config")
    if "://" in args.url and urlparse(args.url).password is not None:
        raise FatalError(f"remote {args.name}: the URL holds a password, and {TEAM_FILE} is committed for the "
                         "whole team to read: add the remote with --local, or leave the password to git's "
                         "credential helper")
    path = _team_path()
    team = team_remotes()
    if args.name in team:
        raise FatalError(f"remote {args.name!r} already exists in {path.name} (remove it first: "
                         f"`git datax remote remove {args.name}`)")
    others = [n for n, t in team.items() if t.get("default") is True] if args.default else []

    def change(text: str) -> str:
        for other in others:
            text = toml_edit.remove_key(text, ("remote", other), "default")
        return toml_edit.add_table(text, ("remote", args.name), values)

    def expect(data: dict[str, Any]) -> dict[str, Any]:
        remotes = data.setdefault("remote", {})
        for other in others:
            remotes[other].pop("default", None)
        remotes[args.name] = values
        return data

    toml_edit.edit_file(path, change, expect)
    output.info(f"added remote {args.name} ({display_url(args.url)}) to {path.name}; commit it to share with your team")
    return 0


def _directory_exists(url: str, *, create: bool) -> None:
    """A directory store that is not there is often a typo: say so in one line, and make it with
    --create (asked on a terminal). A NAS that is not mounted here right now is still added."""
    import sys

    from gitdatax import output
    from gitdatax.errors import FatalError
    from gitdatax.remotes.local import path_from_url

    path = path_from_url(url)
    if path.is_dir():
        return
    if path.exists():
        raise FatalError(f"{path} is not a directory")
    if not create and sys.stdin.isatty() and sys.stderr.isatty():
        sys.stderr.write(f"{path} does not exist; create it? [y/N] ")
        sys.stderr.flush()
        create = sys.stdin.readline().strip().lower() in ("y", "yes")
    if not create:
        output.warn(f"no such directory {path} (yet): check the path, or run again with --create to make it")
        return
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise FatalError(f"cannot create {path}: {exc.strerror}") from None


def _from_top(url: str, scheme: str) -> str:
    """A relative path typed in a subdirectory means from there, as for git; the settings read it
    from the top of the work tree, so it is written relative to the top."""
    import os

    from gitdatax import git

    if scheme != "file" or url.startswith("file://") or os.path.isabs(os.path.expanduser(url)):
        return url
    top = git.toplevel()
    if os.path.realpath(os.getcwd()) == os.path.realpath(top):
        return url
    rel = os.path.relpath(os.path.realpath(url), os.path.realpath(top)).replace(os.sep, "/")
    return rel if rel.startswith("../") else f"./{rel}"  # ./ keeps a name with ':' a path


def _unset_local_defaults(local: dict[str, dict[str, Any]]) -> None:
    from gitdatax import git

    for name, settings in local.items():
        if "default" in settings:
            git.config_unset(f"datax.remote.{name}.default", scope="local")


def _list(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.errors import FatalError
    from gitdatax.remotes.remote_config import display_url, load, resolve

    table = load()
    rows = []
    for name, remote in table.remotes.items():
        rows.append((name == table.default, remote))
    if not rows:
        try:
            derived = resolve(None)
        except FatalError as exc:
            output.info(str(exc))
            return 0
        rows.append((True, derived._replace(source=f"derived from git remote {derived.name}")))
    rows.sort(key=lambda r: (not r[0], r[1].name))
    width = max(len(r.name) for _, r in rows)
    for is_default, remote in rows:
        mark = "  (default)" if is_default else ""
        print(f"{remote.name:<{width}}  {display_url(remote.url)}{mark}")
        if args.verbose:
            # "derived from git remote origin" says where by itself (it read "from derived from").
            where = remote.source if remote.source.startswith("derived from") else f"from {remote.source}"
            print(f"{'':<{width}}    {where}")
            for key, value in sorted(remote.options.items()):
                print(f"{'':<{width}}    {key} = {value}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from gitdatax import git, output, toml_edit
    from gitdatax.errors import FatalError
    from gitdatax.remotes.remote_config import git_config_entries, git_remotes, team_remotes

    git.toplevel()
    if args.local:
        if args.name not in git_remotes(git_config_entries(scope="local")):
            raise FatalError(f"no remote {args.name!r} in this repository's git config")
        git.run(["config", "--local", "--remove-section", f"datax.remote.{args.name}"])
        output.info(f"removed remote {args.name} from this repository's git config")
        return 0
    path = _team_path()
    if args.name not in team_remotes():
        hint = (" (it is in git config: add --local)" if args.name in git_remotes(git_config_entries()) else "")
        raise FatalError(f"no remote {args.name!r} in {path.name}{hint}")

    def expect(data: dict[str, Any]) -> dict[str, Any]:
        del data["remote"][args.name]
        if not data["remote"]:  # the empty [remote] parent vanishes with its last table
            del data["remote"]
        return data

    toml_edit.edit_file(path, lambda text: toml_edit.remove_table(text, ("remote", args.name)), expect)
    output.info(f"removed remote {args.name} from {path.name}; commit it to share the change")
    return 0


def _set_default(args: argparse.Namespace) -> int:
    from gitdatax import git, output, toml_edit
    from gitdatax.errors import FatalError
    from gitdatax.remotes.remote_config import git_config_entries, git_remotes, load, team_remotes

    git.toplevel()
    table = load()
    if args.name not in table.remotes:
        known = ", ".join(table.remotes) or "none is configured"
        raise FatalError(f"no remote named {args.name!r} (known: {known}; add it with `git datax remote add`)")
    if args.local:
        _unset_local_defaults(git_remotes(git_config_entries(scope="local")))
        git.config_set(f"datax.remote.{args.name}.default", "true", scope="local")
        output.info(f"{args.name} is now your default remote (this repository's git config)")
        return 0
    team = team_remotes()
    if args.name not in team:
        raise FatalError(f"remote {args.name!r} is not in .datax.toml (it is in git config): add --local")
    path = _team_path()
    others = [n for n, t in team.items() if n != args.name and "default" in t]

    def change(text: str) -> str:
        for other in others:
            text = toml_edit.remove_key(text, ("remote", other), "default")
        return toml_edit.set_key(text, ("remote", args.name), "default", True)

    def expect(data: dict[str, Any]) -> dict[str, Any]:
        for other in others:
            data["remote"][other].pop("default", None)
        data["remote"][args.name]["default"] = True
        return data

    toml_edit.edit_file(path, change, expect)
    output.info(f"{args.name} is now the default remote in {path.name}; commit it to share the change")
    user_defaults = [n for n, s in git_remotes(git_config_entries()).items() if "default" in s]
    if user_defaults:
        output.warn(f"your git config marks {', '.join(user_defaults)} as default, which wins over {path.name} "
                    f"for you (`git config --unset datax.remote.{user_defaults[0]}.default`)")
    return 0
