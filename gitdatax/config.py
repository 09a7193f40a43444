"""Settings: team settings in the committed .datax.toml, per-user overrides in `git config datax.*`."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from gitdatax import git
from gitdatax.errors import FatalError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older Pythons only
    import tomli as tomllib

TEAM_FILE = ".datax.toml"
DEFAULT_MAX_GIT_SIZE = 10 << 20
# The [core] settings the team file may carry: inert ones (see remote_config.TEAM_SAFE_OPTIONS).
TEAM_CORE_SETTINGS = ("maxgitsize", "concurrency")
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str, *, setting: str) -> int:
    """'10MiB', '10m', '1.5G', '4096' -> bytes (binary units, as git config does)."""
    match = _SIZE_RE.fullmatch(text)
    if not match:
        raise FatalError(f"bad size {text!r} for {setting} (expected e.g. 10MiB, 500k, 1G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def load_team_config(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The parsed .datax.toml at the top of the work tree, or {} when there is none."""
    top = git.repo_paths(cwd).toplevel
    if top is None:
        return {}
    data = load_toml(top / TEAM_FILE)
    core = data.get("core", {})
    for name in core if isinstance(core, dict) else ():
        if name not in TEAM_CORE_SETTINGS:
            raise FatalError(f"{TEAM_FILE}: [core] {name} may not be set in the team file (it may set "
                             f"{' and '.join(TEAM_CORE_SETTINGS)}); set it in your own git config: "
                             f"`git config datax.{name} VALUE`")
    return data


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise FatalError(f"{path.name}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # saved in Latin-1 or UTF-16 by an editor
        raise FatalError(f"{path.name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start}); TOML files are UTF-8") from None
    except OSError as exc:  # a folder by that name, unreadable
        raise FatalError(f"{path.name}: cannot read it ({exc.strerror})") from None


def setting(key: str, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """`git config datax.KEY` first (per user), then [core] KEY in .datax.toml (team)."""
    return setting_and_source(key, cwd)[0]


def setting_and_source(key: str, cwd: str | os.PathLike[str] | None = None) -> tuple[str | None, str]:
    """The value and where it was set, as a message names it: `datax.KEY` (git config) or
    `[core] KEY in .datax.toml` (a bad team value must not send the user to git config)."""
    value = git.config_get(f"datax.{key}", cwd=cwd)
    if value is not None:
        return value, f"datax.{key}"
    team = load_team_config(cwd).get("core", {})
    if not isinstance(team, dict):
        raise FatalError(f"{TEAM_FILE}: [core] must be a table")
    raw = team.get(key)
    return (None if raw is None else str(raw)), f"[core] {key} in {TEAM_FILE}"


def max_git_size(cwd: str | os.PathLike[str] | None = None) -> int:
    value, where = setting_and_source("maxgitsize", cwd)
    return DEFAULT_MAX_GIT_SIZE if value is None else parse_size(value, setting=where)


def concurrency(cwd: str | os.PathLike[str] | None = None) -> int:
    value, where = setting_and_source("concurrency", cwd)
    if value is None:
        return 8
    if not value.isdigit() or not 1 <= int(value) <= 256:
        shown = f"{where} {value!r}" if where.startswith("datax.") else f"[core] concurrency {value!r} in {TEAM_FILE}"
        raise FatalError(f"bad {shown} (expected a whole number from 1 to 256)")
    return int(value)
