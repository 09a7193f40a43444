"""Installing gitdatax's hooks beside a user's own, and running the ones it replaced.

A hook that gitdatax writes carries the marker `gitdatax-hook`. A foreign hook already in place
is never overwritten: it is renamed to `<name>.pre-datax` and our hook runs it first, with the
same arguments and standard input. `uninstall` deletes only hooks carrying the marker and puts
the renamed ones back.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

from gitdatax.errors import FatalError
from gitdatax.files import write_atomically

MARKER = b"gitdatax-hook"
CHAINED_SUFFIX = ".pre-datax"
CLIENT_HOOKS = ("pre-commit", "pre-push", "post-checkout", "post-merge", "post-rewrite")
# A missing git-datax must stop what would lose data (a commit of raw content, a push whose data
# is not uploaded); after a checkout there is nothing left to stop.
_BLOCKING = {"pre-commit", "pre-push", "pre-receive"}


def _template(name: str) -> str:
    return resources.files("gitdatax._hookscripts").joinpath(name).read_text()


def render(hook: str, template: str = "client-hook.sh") -> str:
    text = _template(template).replace("@HOOK@", hook)
    text = text.replace("@GIT_DATAX@", shlex.quote(_this_executable()))
    return text.replace("@MISSING_EXIT@", "1" if hook in _BLOCKING else "0")


def _this_executable() -> str:
    """The git-datax script running now, if that is what runs (else "git-datax", from PATH)."""
    argv0 = os.path.realpath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if os.path.basename(argv0) == "git-datax" and os.access(argv0, os.X_OK):
        return argv0
    return "git-datax"


def is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return MARKER in f.read(4096)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):  # core.hooksPath=/dev/null
        return False


def _write_executable(path: Path, text: str) -> None:
    write_atomically(path, text, mode=0o755)


def install(hooks_dir: Path, names: tuple[str, ...] = CLIENT_HOOKS, template: str = "client-hook.sh") -> list[str]:
    """Install (or refresh) our hooks; returns a line per hook saying what was done."""
    if hooks_dir.exists() and not hooks_dir.is_dir():  # core.hooksPath=/dev/null turns hooks off
        raise FatalError(f"cannot install hooks in {hooks_dir} (core.hooksPath): it is not a folder; "
                         "point core.hooksPath at a folder, or install with --skip-hooks")
    hooks_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for name in names:
        path = hooks_dir / name
        chained = hooks_dir / (name + CHAINED_SUFFIX)
        if path.exists() and not is_ours(path):
            if chained.exists():
                raise FatalError(
                    f"both {path} and {chained} exist and neither was written by gitdatax; "
                    f"merge them into {chained} and run the command again"
                )
            os.replace(path, chained)
            done.append(f"{name}: installed; your existing hook was kept as {chained.name} and runs first")
        elif path.exists():
            done.append(f"{name}: updated")
        else:
            done.append(f"{name}: installed")
        _write_executable(path, render(name, template))
    return done


def missing(hooks_dir: Path, names: tuple[str, ...] = CLIENT_HOOKS) -> list[str]:
    return [name for name in names if not is_ours(hooks_dir / name)]


def stale(hooks_dir: Path, names: tuple[str, ...] = CLIENT_HOOKS) -> list[str]:
    """Our hooks whose text differs from what this gitdatax writes (another version, or another
    git-datax path): the filter refreshes them so hooks never run an old install."""
    out = []
    for name in names:
        path = hooks_dir / name
        try:
            if is_ours(path) and path.read_text() != render(name):
                out.append(name)
        except OSError:
            continue
    return out


def uninstall(hooks_dir: Path, names: tuple[str, ...] = CLIENT_HOOKS) -> list[str]:
    done = []
    for name in names:
        path = hooks_dir / name
        chained = hooks_dir / (name + CHAINED_SUFFIX)
        if is_ours(path):
            path.unlink()
            if chained.exists():
                os.replace(chained, path)
                done.append(f"{name}: removed; your previous hook is back in place")
            else:
                done.append(f"{name}: removed")
    return done


def run_chained(hooks_dir: Path, name: str, args: list[str], stdin: bytes) -> int:
    """Run the user's hook that ours replaced, if any; its exit code (0 when there is none)."""
    chained = hooks_dir / (name + CHAINED_SUFFIX)
    if not chained.is_file() or not os.access(chained, os.X_OK):
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run([str(chained), *args], input=stdin).returncode


def ensure_installed() -> None:
    """Install any missing client hook into the current repository. Called by the filter process
    so that a plain `git clone` gets them; a failure here must never fail the filter."""
    from gitdatax import git

    try:
        paths = git.repo_paths()
        if paths.toplevel is None:
            return
        hooks_dir = paths.hooks
        if not _inside(hooks_dir, paths.common_dir) and not _inside(hooks_dir, paths.git_dir):
            # core.hooksPath elsewhere: in the work tree (.githooks, .husky: project files, often
            # committed), or a global or system one that every repository on the machine shares
            # (issue 11, item 11). Neither is this repository's to change behind the user's
            # back; `git datax install` still installs there when asked.
            return
        names = tuple(missing(hooks_dir)) + tuple(stale(hooks_dir))
        if names:
            install(hooks_dir, names)
    except Exception:  # noqa: BLE001 - best effort by design
        pass


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
