"""DVC's configuration as DVC reads it, for `migrate from-dvc`: four INI files merged key by key,
each over the ones before it:

- system: every user of this machine (`/etc/xdg/dvc/config` on Linux);
- global: this user, every project (`~/.config/dvc/config` on Linux; `dvc config --global`);
- the project's `.dvc/config`: committed, the team's;
- `.dvc/config.local`: this clone's, never committed (`dvc config --local`).

The first two are where DVC finds them: $DVC_SYSTEM_CONFIG_DIR and $DVC_GLOBAL_CONFIG_DIR, else
platformdirs' folders for "dvc" by "iterative", as DVC asks for them (macOS and Windows have
their own). A relative path in a file (a remote's url, `cache.dir`) is relative to that file's
folder, as DVC reads it.

Only `.dvc/config` is the team's. What the other three add is this user's or this machine's:
dvc_remotes.py puts it into this repository's git config, never into `.datax.toml`.
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from gitdatax.errors import FatalError

SYSTEM, GLOBAL, PROJECT, LOCAL = "system", "global", "project", "local"


@dataclass(frozen=True)
class DvcRemote:
    name: str
    url: str
    options: dict[str, str]  # without url: the committed ones, or (local_only) all of them merged
    local_only: bool = False  # its url is not in .dvc/config: a remote of this user or machine
    origin: str = ".dvc/config"  # the file its url comes from, as a person would name it
    whose: str = "the team's"  # what that file is: this machine's (config.local, system), this user's (global)


@dataclass(frozen=True)
class ConfigFile:
    level: str
    path: Path
    sections: dict[str, dict[str, str]]

    @property
    def shown(self) -> str:
        if self.level in (PROJECT, LOCAL):
            return f".dvc/{self.path.name}"
        return f"DVC's {self.level} config {_home_relative(self.path)}"

    @property
    def whose(self) -> str:
        return {PROJECT: "the team's", GLOBAL: "this user's"}.get(self.level, "this machine's")

    def resolve(self, value: str) -> str:
        """A path relative to this file's folder made absolute; a URL as it is."""
        if "://" in value or os.path.isabs(value):
            return value
        return str((self.path.parent / os.path.expanduser(value)).resolve())


def read_config(path: Path) -> dict[str, dict[str, str]]:
    """DVC's config as {section: {key: value}}, `'remote "NAME"'` read as `remote "NAME"`."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except configparser.Error as exc:
        raise FatalError(f"{path}: not a DVC config file ({str(exc).splitlines()[0]})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FatalError(f"{path}: cannot read DVC's config: {getattr(exc, 'strerror', None) or exc}") from None
    return {section.strip("'").strip(): dict(parser[section]) for section in parser.sections()}


class DvcConfig:
    """The four files of a DVC project, lowest priority first."""

    def __init__(self, top: Path) -> None:
        self.files = [ConfigFile(level, path, read_config(path)) for level, path in _locations(top)]
        self.project = self.files[2]

    def value(self, section: str, key: str) -> tuple[str, ConfigFile] | None:
        """The value DVC uses and the file that sets it (the last one that does)."""
        for file in reversed(self.files):
            if key in file.sections.get(section, {}):
                return file.sections[section][key], file
        return None

    @property
    def default(self) -> str | None:
        """The team's default remote: `core.remote` of .dvc/config."""
        return self.project.sections.get("core", {}).get("remote")

    @property
    def own_default(self) -> str | None:
        """The default remote DVC uses here, all four files merged (config.local's wins)."""
        found = self.value("core", "remote")
        return found[0] if found else None

    def cache_dir(self, top: Path) -> Path:
        found = self.value("cache", "dir")
        return Path(found[1].resolve(found[0])) if found else top / ".dvc" / "cache"

    def remotes(self) -> list[DvcRemote]:
        """The remotes DVC sees, in the order of their first mention. A committed remote (its url
        in .dvc/config) carries its committed options only (own_options says what the other files
        add, kept out of the team file); one whose url is elsewhere is `local_only`, with the
        options of all four files merged."""
        names = dict.fromkeys(section[len('remote "'):-1] for file in [self.project, *self.files]
                              for section in file.sections
                              if section.startswith('remote "') and section.endswith('"'))
        found = []
        for name in names:
            section = f'remote "{name}"'
            committed = self.project.sections.get(section, {})
            if "url" in committed:
                found.append(DvcRemote(name, self.project.resolve(committed["url"]),
                                       {k: v for k, v in committed.items() if k != "url"}))
                continue
            url = self.value(section, "url")
            if url is None:
                continue  # options of a remote no file defines: DVC ignores them too
            merged = {k: v for file in self.files for k, v in file.sections.get(section, {}).items() if k != "url"}
            found.append(DvcRemote(name, url[1].resolve(url[0]), merged, True, url[1].shown, url[1].whose))
        return found

    def own_options(self, name: str) -> dict[str, str]:
        """What the system, global and local files make of a committed remote's options beyond
        .dvc/config (as DVC merges them: .dvc/config over the first two, config.local over all)."""
        section = f'remote "{name}"'
        committed = self.project.sections.get(section, {})
        merged: dict[str, str] = {}
        for file in self.files:
            merged.update(file.sections.get(section, {}))
        return {k: v for k, v in merged.items() if k != "url" and committed.get(k) != v}


def _locations(top: Path) -> list[tuple[str, Path]]:
    return [(SYSTEM, _machine_dir("DVC_SYSTEM_CONFIG_DIR", system=True) / "config"),
            (GLOBAL, _machine_dir("DVC_GLOBAL_CONFIG_DIR", system=False) / "config"),
            (PROJECT, top / ".dvc" / "config"),
            (LOCAL, top / ".dvc" / "config.local")]


def _machine_dir(variable: str, system: bool) -> Path:
    # platformdirs, as DVC itself asks it: the same folders on every platform (XDG variables on
    # Linux, Application Support on macOS, AppData on Windows) without a table of our own.
    import platformdirs

    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    if system:
        return Path(platformdirs.site_config_dir("dvc", "iterative"))
    return Path(platformdirs.user_config_dir("dvc", "iterative"))


def _home_relative(path: Path) -> str:
    home = Path.home()
    try:
        return f"~/{path.relative_to(home).as_posix()}"
    except ValueError:
        return str(path)
