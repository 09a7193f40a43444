"""Credentials for HTTP remotes from Git's credential helpers (`git credential fill|approve|reject`).

We ask only after a server answered 401, as git and git-lfs do, so anonymous servers never trigger
a helper (or a prompt). Secrets live in memory only: nothing here prints, logs or puts them in an
exception message. URLs shown to people go through `redact`, which drops userinfo and the query
string (pre-signed hrefs carry tokens there).
"""
from __future__ import annotations

import subprocess
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from gitdatax import git


class Credential(NamedTuple):
    username: str
    password: str

    def __repr__(self) -> str:  # never show the secret, even in a debugger or a crash log
        return f"Credential(username={self.username!r}, password=***)"


def redact(url: str) -> str:
    """`url` without userinfo, query or fragment: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def userinfo(url: str) -> Credential | None:
    """Credentials written into the URL itself (`https://user:token@host/...`), if any."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return Credential(unquote(parts.username), unquote(parts.password or ""))


def _describe(url: str, username: str | None = None) -> bytes:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    lines = [f"protocol={parts.scheme}", f"host={host}"]
    if parts.path.strip("/"):
        lines.append(f"path={parts.path.lstrip('/')}")  # used only with credential.useHttpPath
    if username:
        lines.append(f"username={username}")
    return ("\n".join(lines) + "\n\n").encode()


def fill(url: str, username: str | None = None) -> Credential | None:
    """Ask Git's credential helpers (and, on a terminal, the user) for `url`. None when none."""
    try:
        proc = git.run(["credential", "fill"], input=_describe(url, username), check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    values: dict[str, str] = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    if "password" not in values:
        return None
    return Credential(values.get("username", ""), values["password"])


def _report(action: str, url: str, cred: Credential) -> None:
    data = _describe(url, cred.username)[:-1] + f"password={cred.password}\n\n".encode()
    try:
        git.run(["credential", action], input=data, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        pass  # a helper that cannot store is not worth failing a transfer over


def approve(url: str, cred: Credential) -> None:
    _report("approve", url, cred)


def reject(url: str, cred: Credential) -> None:
    _report("reject", url, cred)
