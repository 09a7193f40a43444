"""Which remote store to talk to: named remotes from `.datax.toml` and `git config`, and the
default derived from the Git remote `origin` when none is configured.

Team settings live in the committed `.datax.toml`:

    [remote.team]
    url = "s3://acme-ml/wolof-asr"
    default = true
    endpoint_url = "https://minio.example.com"

Per-user settings live in git config as `datax.remote.NAME.KEY` (any scope) and override the
team file key by key. Git config variable names cannot contain `_`, so `endpoint-url` (or
`endpointUrl`) there is `endpoint_url` here.

When no remote is marked default and the only configured remote is one, that one is the default;
with none configured the default follows `origin` (DESIGN.md, Remotes):

    origin URL                       datax remote
    /srv/git/proj.git (bare)         /srv/git/proj.git/datax    (directory store, created on demand)
    /home/me/proj (non-bare)         /home/me/proj/.git/datax   (that repository's own store)
    https://host/org/proj(.git)      https://host/org/proj.git/info/lfs   (git-lfs's convention)
    ssh://host/srv/proj.git          ssh://host/srv/proj.git   (the ssh backend runs `git-datax
    host:proj.git                    host:proj.git              serve --stdio PATH` there, which
                                                                serves <bare>/datax or .git/datax)

As with git-lfs, `remote.origin.lfsurl` or `lfs.url` in git config, when set, name the remote
outright (an LFS server) whatever origin's URL is: that is how a GitHub or GitLab repository
cloned over ssh gets its data over https.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse, urlunparse

from gitdatax import config, git
from gitdatax.config import TEAM_FILE
from gitdatax.errors import FatalError, NoRemoteConfigured

# The options every backend knows by these names; git config spellings are mapped onto them.
KNOWN_OPTIONS = ("url", "default", "endpoint_url", "region", "profile", "multipart_threshold")
# What a committed .datax.toml may say of a remote: where it is and options that run nothing and
# choose no credentials. It is data a stranger may have written, read by the filter on every
# clone; a program to run (`sshcommand`, `server_command`), a credential or a choice of the
# user's credentials (`profile`) comes only from the user's own git config, as Git never runs
# configuration it cloned and Git LFS honours only a safe list of keys in .lfsconfig.
TEAM_SAFE_OPTIONS = ("url", "default", "endpoint_url", "region", "multipart_threshold", "retries", "backoff",
                     "timeout", "connections", "chunks")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ConfiguredRemote(NamedTuple):
    name: str
    url: str
    options: dict[str, Any]  # backend options (endpoint_url, region, ...), without url/default
    source: str  # ".datax.toml", "git config", "git config + .datax.toml" or "origin"


def option_name(git_key: str) -> str:
    """`endpoint-url`, `endpointurl` (git lowercases) -> `endpoint_url`; unknown keys keep
    their spelling with `-` read as `_`."""
    folded = git_key.lower().replace("-", "").replace("_", "")
    for known in KNOWN_OPTIONS:
        if known.replace("_", "") == folded:
            return known
    return git_key.lower().replace("-", "_")


def git_key(option: str) -> str:
    """The git config spelling of an option: `endpoint_url` -> `endpoint-url`."""
    return option.replace("_", "-")


def display_url(url: str) -> str:
    """The URL with any password, query and fragment removed (a query often carries a token),
    safe to print."""
    if "://" not in url:
        return url
    parsed = urlparse(url)
    if parsed.password is None and parsed.username is None and not parsed.query and not parsed.fragment:
        return url
    host = parsed.hostname or ""
    if parsed.port:
        host = f"{host}:{parsed.port}"
    user = f"{parsed.username}@" if parsed.username else ""
    return urlunparse(parsed._replace(netloc=user + host, query="", fragment=""))


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "on", "1")


# -- reading ---------------------------------------------------------------------------------


def git_config_entries(cwd: str | os.PathLike[str] | None = None, scope: str | None = None) -> dict[str, str]:
    """All of git's config (every scope unless one is named; last value wins) in one subprocess."""
    proc = git.run(["config", *([f"--{scope}"] if scope else []), "-z", "--list"], cwd=cwd, check=False)
    entries: dict[str, str] = {}
    for record in proc.stdout.split(b"\0"):
        if record:
            key, _, value = record.decode("utf-8", "surrogateescape").partition("\n")
            entries[key] = value
    return entries


def team_remotes(cwd: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    table = config.load_team_config(cwd).get("remote", {})
    if not isinstance(table, dict):
        raise FatalError(f"{TEAM_FILE}: `remote` must be a table of [remote.NAME] tables")
    out = {}
    for name, settings in table.items():
        if not isinstance(settings, dict):
            raise FatalError(f"{TEAM_FILE}: [remote.{name}] must be a table with at least `url`")
        url = settings.get("url", "")
        if not isinstance(url, str):  # a list or a number would be taken for a relative path
            kind = {list: "a list", dict: "a table", bool: "a boolean", int: "a number",
                    float: "a number"}.get(type(url), "a date or time")
            raise FatalError(f"{TEAM_FILE}: [remote.{name}] url must be a string, not {kind}")
        for key in settings:
            if key not in TEAM_SAFE_OPTIONS:
                raise FatalError(team_refusal(name, key))
        check_team_url(name, url)
        out[name] = dict(settings)
    return out


def team_refusal(name: str, key: str) -> str:
    """The one line that refuses `key` of remote `name` in the team file, naming the safe way."""
    allowed = ", ".join(TEAM_SAFE_OPTIONS[:-1]) + " and " + TEAM_SAFE_OPTIONS[-1]
    return (f"{TEAM_FILE}: [remote.{name}] {key} may not be set in the team file (it may name a remote's "
            f"{allowed}); set it in your own git config: `git datax remote add --local` or "
            f"`git config datax.remote.{name}.{git_key(key)} VALUE`")


def check_team_url(name: str, url: str) -> None:
    """Refuse a team-file URL that could be read as an ssh option (a leading `-` in the host, the
    user or the path, as Git does since CVE-2017-1000117) or that carries a password."""
    from gitdatax.remotes import scheme_of

    scheme = scheme_of(url)
    where = f"{TEAM_FILE}: [remote.{name}] url"
    if scheme == "ssh":
        from gitdatax.remotes.ssh import parse_ssh_url

        try:
            parse_ssh_url(url)
        except FatalError as exc:
            raise FatalError(f"{where}: {exc}") from None
    elif "://" in url:
        try:
            password = urlparse(url).password
        except ValueError:
            password = None
        if password is not None:
            raise FatalError(f"{where} holds a password, and the team file is for everyone to read: leave it "
                             "to git's credential helper, or add the remote with `git datax remote add --local`")


def git_remotes(entries: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    prefix = "datax.remote."
    for key, value in entries.items():
        if key.startswith(prefix) and "." in key[len(prefix):]:
            name, _, var = key[len(prefix):].rpartition(".")
            out.setdefault(name, {})[option_name(var)] = value
    return out


class RemoteTable(NamedTuple):
    remotes: dict[str, ConfiguredRemote]
    default: str | None  # the explicit or only configured remote
    entries: dict[str, str]  # git config, for deriving from origin


def load(cwd: str | os.PathLike[str] | None = None) -> RemoteTable:
    entries = git_config_entries(cwd)
    team = team_remotes(cwd)
    user = git_remotes(entries)
    remotes = {}
    user_defaults, team_defaults = [], []
    for name in sorted(set(team) | set(user)):
        merged = {**team.get(name, {}), **user.get(name, {})}
        sources = [s for s, d in (("git config", user), (TEAM_FILE, team)) if name in d]
        if "url" not in merged or not str(merged["url"]).strip():
            where = " and ".join(sources)
            raise FatalError(f"remote {name!r} has no url (in {where}): set one with `git datax remote add`")
        if _truthy(user.get(name, {}).get("default", False)):
            user_defaults.append(name)
        elif "default" not in user.get(name, {}) and _truthy(team.get(name, {}).get("default", False)):
            team_defaults.append(name)
        options = {k: v for k, v in merged.items() if k not in ("url", "default")}
        url = _anchor_path(str(merged["url"]), cwd)
        remotes[name] = ConfiguredRemote(name, url, options, " + ".join(sources))
    # A per-user default beats the team's; two defaults at one level is a mistake to report.
    defaults = user_defaults or team_defaults
    if len(defaults) > 1:
        raise FatalError(f"several remotes are marked default ({', '.join(defaults)}): "
                         "run `git datax remote set-default NAME`")
    default = defaults[0] if defaults else (next(iter(remotes)) if len(remotes) == 1 else None)
    if team:  # kept for checkouts of commits from before or after this team file (learned.py)
        from gitdatax.remotes import learned

        learned.remember(git.repo_paths(cwd).common_dir, [
            learned.Learned(name, _anchor_path(str(team[name]["url"]), cwd),
                            {k: v for k, v in team[name].items() if k not in ("url", "default")})
            for name in team])
    return RemoteTable(remotes, default, entries)


def _anchor_path(url: str, cwd: str | os.PathLike[str] | None) -> str:
    """A relative directory path in the settings means relative to the top of the work tree,
    wherever in it the command runs."""
    from gitdatax.remotes import scheme_of

    if scheme_of(url) != "file" or url.startswith("file://") or os.path.isabs(os.path.expanduser(url)):
        return url
    top = git.repo_paths(cwd).toplevel
    return str((top / url).resolve()) if top is not None else url


# -- the store of a bare repository on a Git server -----------------------------------------
# Its settings are `datax.serverstore` (URL) and `datax.serverstore.OPTION` (backend options) in
# that repository's own config file, e.g.
#
#     [datax]
#         serverstore = s3://acme-ml/wolof-asr
#     [datax "serverstore"]
#         endpoint-url = https://minio.example.com
#
# Without it the store is `<bare repo>/datax`. These functions are the one reader of those
# settings: pre-receive, `serve` and a client deriving its remote from a local bare origin all
# read the repository's config file alone, so a value in the server account's ~/.gitconfig
# cannot make the server check one store while clients push to another.

STORE_KEY = "datax.serverstore"


def default_store(git_dir: Path) -> Path:
    return git_dir / "datax"


def _config_file_entries(git_dir: Path) -> dict[str, str]:
    proc = git.run(["config", "--file", str(git_dir / "config"), "-z", "--get-regexp", r"^datax\.serverstore"],
                   check=False)
    entries = {}
    for record in proc.stdout.split(b"\0"):
        if record:
            key, _, value = record.decode("utf-8", "surrogateescape").partition("\n")
            entries[key.lower()] = value
    return entries


def configured_store(git_dir: Path) -> tuple[str, dict[str, Any]] | None:
    """(URL, options) the repository's `datax.serverstore*` settings name; None when unset."""
    entries = _config_file_entries(git_dir)
    url = entries.get(STORE_KEY, "").strip()
    if not url:
        return None
    prefix = STORE_KEY + "."
    options: dict[str, Any] = {option_name(k[len(prefix):]): v for k, v in entries.items() if k.startswith(prefix)}
    return url, options


def store_url(git_dir: Path) -> str:
    """The store this bare repository's pushes are checked against."""
    configured = configured_store(git_dir)
    return configured[0] if configured else str(default_store(git_dir))


def store_remote(git_dir: Path) -> tuple[str, dict[str, Any]]:
    """URL and options to open the server's store with. A directory store is created when
    missing: a fresh server has simply stored nothing yet."""
    from gitdatax.remotes import scheme_of

    url, options = configured_store(git_dir) or (str(default_store(git_dir)), {})
    options = dict(options)
    if scheme_of(url) == "file":
        options["create"] = True
    return url, options


def open_store(git_dir: Path):  # type: ignore[no-untyped-def]
    """The server's store as a Remote."""
    from gitdatax.remotes import open_remote

    return open_remote(*store_remote(git_dir))


# -- deriving from a Git remote --------------------------------------------------------------


def derive_from_git_remote(git_url: str, entries: dict[str, str], git_remote: str = "origin",
                           cwd: str | os.PathLike[str] | None = None) -> ConfiguredRemote:
    """The datax remote that goes with a Git remote URL (see the module docstring)."""
    lfs_url = entries.get(f"remote.{git_remote}.lfsurl") or entries.get("lfs.url")
    from gitdatax.remotes import scheme_of

    if lfs_url:  # git-lfs's own settings name the endpoint outright, whatever the Git URL
        return ConfiguredRemote(git_remote, lfs_url, {"exact_endpoint": True}, git_remote)
    scheme = scheme_of(git_url)
    if scheme in ("http", "https"):
        base = git_url.rstrip("/")
        base = base if base.endswith(".git") else base + ".git"
        return ConfiguredRemote(git_remote, base + "/info/lfs", {}, git_remote)
    if scheme == "file":
        path = Path(urlparse(git_url).path if git_url.startswith("file://") else os.path.expanduser(git_url))
        if not path.is_absolute():  # git resolves a relative URL from the top of the work tree
            path = ((git.repo_paths(cwd).toplevel or Path(cwd or os.getcwd())) / path).resolve()
        if (path / ".git").is_dir():
            return ConfiguredRemote(git_remote, str(path / ".git" / "datax"), {"create": True}, git_remote)
        is_bare = (path / "objects").is_dir() and (path / "HEAD").is_file()
        if is_bare:  # a server set up with `install --server --store URL` names its store
            if configured_store(path) is not None:
                return ConfiguredRemote(git_remote, *store_remote(path), git_remote)
        # A bare repository that exists gets its store created on the first push.
        return ConfiguredRemote(git_remote, str(path / "datax"), {"create": True} if is_bare else {}, git_remote)
    if scheme == "ssh":  # the server end resolves a repository path to its store itself
        return ConfiguredRemote(git_remote, git_url, {}, git_remote)
    raise FatalError(
        f"cannot derive a data remote from git remote {git_remote} ({display_url(git_url)}): "
        "configure one with `git datax remote add NAME URL`"
    )


# -- resolving -------------------------------------------------------------------------------


def looks_like_url(text: str) -> bool:
    return "/" in text or ":" in text or text.startswith("~") or text == "."


def resolve(name: str | None, cwd: str | os.PathLike[str] | None = None) -> ConfiguredRemote:
    """The remote called `name` (None: the default one). A configured name wins; then a Git
    remote of that name (its derived store); then, if it looks like one, a URL used as is."""
    table = load(cwd)
    if name is None:
        if table.default is not None:
            return table.remotes[table.default]
        if table.remotes:
            raise FatalError(f"no default remote among {', '.join(table.remotes)}: "
                             "run `git datax remote set-default NAME` or name one")
        git_remote = _data_git_remote(table.entries)
        if git_remote is None:
            raise NoRemoteConfigured("no remote store configured and no git remote origin to derive one from: "
                             "run `git datax remote add NAME URL`")
        return derive_from_git_remote(table.entries[f"remote.{git_remote}.url"], table.entries, git_remote, cwd)
    if name in table.remotes:
        return table.remotes[name]
    git_url = table.entries.get(f"remote.{name}.url")
    if git_url is not None:
        return derive_from_git_remote(git_url, table.entries, name, cwd)
    if looks_like_url(name):
        return ConfiguredRemote(name, name, {}, "command line")
    known = sorted(set(table.remotes) | {k[7:-4] for k in table.entries if k.startswith("remote.") and k.endswith(".url")})
    hint = f"known: {', '.join(known)}" if known else "none is configured"
    raise FatalError(f"no remote named {name!r} ({hint}; see `git datax remote list`)")


def _data_git_remote(entries: dict[str, str]) -> str | None:
    """The Git remote the data follows: origin, else the only one there is (`git clone -o
    upstream`, `git remote rename origin github`), as git-lfs chooses."""
    if "remote.origin.url" in entries:
        return "origin"
    names = [key[len("remote."):-len(".url")] for key in entries if key.startswith("remote.") and key.endswith(".url")]
    return names[0] if len(names) == 1 else None


def for_git_remote(git_remote: str, git_url: str, cwd: str | os.PathLike[str] | None = None) -> ConfiguredRemote:
    """Where `git push GIT_REMOTE` must put the data: the configured default when there is one
    (the team's store, whatever Git server the code goes to), else a datax remote of the same
    name, else the store that goes with that Git remote's URL (as git-lfs does)."""
    table = load(cwd)
    if table.default is not None:
        return table.remotes[table.default]
    if git_remote in table.remotes:
        return table.remotes[git_remote]
    if table.remotes:
        raise FatalError(f"no default remote among {', '.join(table.remotes)}: "
                         "run `git datax remote set-default NAME`")
    url = table.entries.get(f"remote.{git_remote}.url") or git_url
    return derive_from_git_remote(url, table.entries, git_remote, cwd)


def configured_default(cwd: str | os.PathLike[str] | None = None) -> ConfiguredRemote | None:
    """The default remote only when one is explicitly configured (not derived from origin):
    what pre-commit uploads to."""
    table = load(cwd)
    return table.remotes[table.default] if table.default is not None else None


def open_configured(name: str | None, cwd: str | os.PathLike[str] | None = None) -> Any:
    """Resolve `name` and open its backend (a gitdatax.remotes.Remote)."""
    from gitdatax.remotes import open_remote

    remote = resolve(name, cwd)
    return open_remote(remote.url, remote.options)
