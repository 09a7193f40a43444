"""The remotes of `.dvc/config` as gitdatax remotes, for `migrate from-dvc` (issue 14).

- A path, `s3://`, `gs://`, `azure://` (fsspec's `az://`), `webdav(s)://`, `hdfs://`: the same
  URL in `.datax.toml` (gitdatax's `objects/` sits beside DVC's `files/`), `endpointurl` and
  `region` with it, the default kept.
- `ssh://[user@]host[:port]/path`: gitdatax's ssh remote on the same path, in `.datax.toml`
  (a `port` option goes into the URL). DVC reached that folder over SFTP; gitdatax runs
  `git-datax serve --stdio PATH` there, so the host needs git-datax: the line says so.
- `http(s)://`: not converted. DVC's http remote is a plain tree of files (GET, and POST/PUT to
  upload); gitdatax's `http(s)://` remote is a Git LFS server's batch API, which such a server
  does not answer. Writing the URL would make a remote that fails on every push; a warning names
  the remote and the commands to run instead.
- Credentials (`user`, `password`, `keyfile`, tokens, `profile`; from `.dvc/config` or
  `.dvc/config.local`) never go into the committed team file, whose allowlist refuses them: the
  ones a gitdatax backend takes go into this repository's git config (`datax.remote.NAME.*`,
  never committed), an ssh `keyfile` as `sshcommand = ssh -i KEYFILE`; the others are named in a
  warning. An existing git config value is never overwritten.
- What `.dvc/config.local` says is this machine's, as DVC means it, so it goes to this
  repository's git config, which overrides the team file key by key as config.local overrides
  .dvc/config: a remote defined only there (all its settings, `default` when `core.remote` names
  it), a `core.remote` of its own, an `endpointurl` or `region` of its own. Only `.dvc/config`
  reaches `.datax.toml`.
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

from gitdatax import git
from gitdatax.migrate.dvc_config import DvcConfig
from gitdatax.files import write_atomically

# DVC remotes whose scheme names a store gitdatax writes its own layout into (s3 itself, the
# others through fsspec); DVC's `azure://` is fsspec's `az://`.
OBJECT_STORES = ("file", "s3", "gs", "gcs", "az", "webdav", "webdavs", "hdfs", "webhdfs")
# DVC option -> gitdatax's, for the team file: they run nothing and choose no credentials.
TEAM_OPTIONS = {"endpointurl": "endpoint_url", "region": "region"}
# DVC option -> gitdatax's, per scheme, for this repository's git config only.
LOCAL_OPTIONS: dict[str, dict[str, str]] = {
    "s3": {"profile": "profile"},
    "webdav": {"user": "user", "password": "password"},
    "webdavs": {"user": "user", "password": "password"},
    "gs": {"credentialpath": "token", "projectname": "project"},
    "gcs": {"credentialpath": "token", "projectname": "project"},
    "az": {"account_name": "account_name", "account_key": "account_key",
           "connection_string": "connection_string", "sas_token": "sas_token"},
}
# DVC options that carry or choose a credential: when not taken above, named in a warning.
CREDENTIAL_OPTIONS = ("user", "password", "ask_password", "passphrase", "ask_passphrase", "keyfile", "key_path",
                      "cert_path", "access_key_id", "secret_access_key", "session_token", "token", "profile",
                      "credentialpath", "account_key", "connection_string", "sas_token", "client_secret",
                      "custom_auth_header", "auth", "gss_auth")


class RemoteConversion(NamedTuple):
    converted: list[str]  # "NAME -> URL ..." lines, in .datax.toml
    local: list[str]  # the git config keys set in this repository (never their values)
    skipped: list[str]  # warnings: a remote not converted, or credentials not copied, and why
    local_remotes: list[str]  # "NAME -> URL ... (only in FILE...)" lines of remotes not in .dvc/config, in git config


def convert_remotes(top: Path, config: DvcConfig) -> RemoteConversion:
    """DVC remotes gitdatax can use, into .datax.toml (and their credentials into git config)."""
    from gitdatax.remotes import scheme_of
    from gitdatax.remotes.remote_config import display_url
    from gitdatax.toml_edit import add_table

    team = top / ".datax.toml"
    text = team.read_text(encoding="utf-8") if team.exists() else ""
    default, local_default = config.default, config.own_default
    result = RemoteConversion([], [], [], [])
    local_writes: list[tuple[str, str, str]] = []  # (DVC's name, git config key, value)
    for remote in config.remotes():
        url = "az://" + remote.url[len("azure://"):] if remote.url.startswith("azure://") else remote.url
        scheme = scheme_of(url)
        name = re.sub(r"[^A-Za-z0-9_-]", "-", remote.name).strip("-") or "dvc"
        shown = f"{remote.name} ({display_url(remote.url)})"
        # As DVC merges its files (a local-only remote has the options of all of them already).
        private = {} if remote.local_only else config.own_options(remote.name)
        options = {**remote.options, **private}
        if scheme in ("http", "https"):
            result.skipped.append(_http_warning(name, url, shown, options))
            continue
        if scheme != "ssh" and scheme not in OBJECT_STORES:
            result.skipped.append(f"{shown}: gitdatax has no {scheme}:// backend of DVC's kind; "
                                  "add a gitdatax remote with `git datax remote add`")
            continue
        if f"[remote.{name}]" in text:
            result.skipped.append(f"{remote.name}: .datax.toml already has a remote {name}")
            continue
        if scheme == "ssh":
            team_url, local, dropped, note = _ssh(url, options)
        else:
            team_url, note = _team_url(top, url), ""
            taken = LOCAL_OPTIONS.get(scheme, {})
            local = {taken[k]: v for k, v in options.items() if k in taken}
            dropped = [k for k in options if k in CREDENTIAL_OPTIONS and k not in taken]
            if "://" in url and urlsplit(url).password is not None:  # the team file would refuse it
                team_url, local["url"] = _without_login(url), url
        inert = {TEAM_OPTIONS[k]: v for k, v in remote.options.items() if k in TEAM_OPTIONS}
        if remote.local_only:  # this machine's remote: all of it in git config, none in the team file
            local = {"url": local.pop("url", team_url if scheme == "ssh" else url), **inert, **local}
            if remote.name in (default, local_default):
                local["default"] = "true"
            shown_url = _without_login(local["url"]) if "://" in local["url"] else local["url"]  # no login shown
            result.local_remotes.append(f"{name} -> {display_url(shown_url)}{note} (only in {remote.origin}, "
                                        f"{remote.whose}: in this repository's git config, not in .datax.toml)")
        else:
            values: dict[str, object] = {"url": team_url}
            if remote.name == default:
                values["default"] = True
            values.update(inert)
            text = add_table(text, ("remote", name), values)
            result.converted.append(f"{name} -> {display_url(team_url)}{note}")
            local.update({TEAM_OPTIONS[k]: v for k, v in private.items() if k in TEAM_OPTIONS})
            if remote.name == local_default != default:  # config.local's (or global's) default: this user's
                local["default"] = "true"
        local_writes += [(remote.name, f"datax.remote.{name}.{key.replace('_', '-')}", value)
                         for key, value in local.items()]
        if dropped and scheme == "ssh":
            result.skipped.append(f"{shown}: {', '.join(sorted(dropped))} not copied: gitdatax's ssh remote logs "
                                  "in with the ssh program, which takes no stored password: use a key (`git config "
                                  f"datax.remote.{name}.sshcommand \"ssh -i KEYFILE\"`) or an ssh agent")
        elif dropped:
            result.skipped.append(f"{shown}: {', '.join(sorted(dropped))} not copied (the team file holds no "
                                  f"credentials and gitdatax's {scheme}:// remote does not take them): set them "
                                  f"as for any gitdatax remote (README, \"Remotes and sync\")")
    if result.converted:
        write_atomically(team, text)
    for dvc_name, key, value in local_writes:
        have = git.config_get(key, cwd=top, scope="local")
        if have is not None and have != value:  # never overwrite the user's own setting
            result.skipped.append(f"{dvc_name}: {key} is already set in this repository's git config to "
                                  "another value: left as it is")
            continue
        git.config_set(key, value, scope="local", cwd=top)
        result.local.append(key)  # the key, never the value: it may be a password
    return result


def _ssh(url: str, options: dict[str, str]) -> tuple[str, dict[str, str], list[str], str]:
    """(team URL, git config options, credentials dropped, note) of a DVC ssh remote."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = options.get("port") or (str(parts.port) if parts.port else "")
    hostport = f"{host}:{port}" if port and port != "22" else host
    url_user = f"{parts.username}@" if parts.username else ""  # in the committed .dvc/config already
    team_url = f"ssh://{url_user}{hostport}{parts.path or '/'}"
    local: dict[str, str] = {}
    if options.get("user") and not parts.username:  # a login of the user's: their own git config
        local["url"] = f"ssh://{options['user']}@{hostport}{parts.path or '/'}"
    if options.get("keyfile"):
        local["sshcommand"] = f"ssh -i {shlex.quote(options['keyfile'])}"
    dropped = [k for k in options if k in CREDENTIAL_OPTIONS and k not in ("user", "keyfile")]
    if parts.password is not None:
        dropped.append("the password in its URL")
    return team_url, local, dropped, (" (gitdatax's ssh remote: the host needs git-datax on its PATH, "
                                      "where DVC used SFTP; `git datax push` uploads the data)")


def _http_warning(name: str, url: str, shown: str, options: dict[str, str]) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    dav = f"webdav{'s' if parts.scheme == 'https' else ''}://{netloc}{parts.path}"
    creds = [k for k in options if k in CREDENTIAL_OPTIONS]
    creds_note = f"; its credentials ({', '.join(sorted(creds))}) were not copied" if creds else ""
    return (f"{shown}: not converted: DVC's http(s) remote is a plain tree of files over HTTP, while "
            f"gitdatax's http(s):// remote is a Git LFS server (its batch API), which that server would not "
            f"answer. If it speaks WebDAV, run `git datax remote add {name} {dav}` (and `-o user=... "
            f"-o password=... --local`); else use a Git LFS server or `git datax serve`: `git datax remote add "
            f"{name} https://HOST/REPO`{creds_note}")


def _without_login(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _team_url(top: Path, url: str) -> str:
    """A path inside or beside the work tree is written relative to its top (as .datax.toml
    reads it), so that every clone finds it; anything else as it is."""
    if url.startswith("file://") or "://" in url:
        return url
    rel = os.path.relpath(url, top)
    return rel if not os.path.isabs(rel) else url
