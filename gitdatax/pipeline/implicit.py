"""The repository's own Python modules a stage's script imports: implicit deps (treeverse/dvc#9195).

When `cmd` runs `python3 train.py` or `python -m pkg.train`, the script is read with `ast` (never
run) and each `import`/`from ... import` is resolved the way Python would find it from the
script's folder (for `-m`, from the stage's wdir); modules that resolve to a file in the work
tree are deps, followed transitively. Imports of installed packages resolve to nothing here and
are left out; an import inside `try:` or a function counts too (it may run). A stage switches
this off with `implicit_deps: false`.
"""
from __future__ import annotations

import ast
import os
import posixpath
import re
import shlex
from pathlib import Path

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_PYTHON_WORD = re.compile(r"(^|[\s/])python")


def entry_points(cmd: str, wdir: str) -> list[tuple[str, str]]:
    """(script path relative to the top, the folder Python searches first) for each Python
    invocation in `cmd` (`a && python3 b.py` finds b.py)."""
    if not _PYTHON_WORD.search(cmd):
        return []
    if any(c in cmd for c in "'\"\\"):
        try:
            words = shlex.split(cmd)
        except ValueError:
            return []
    else:
        words = cmd.split()  # no quoting: the same words as shlex, at a fraction of its cost
    found = []
    for i, word in enumerate(words):
        if not _PYTHON.match(posixpath.basename(word)):
            continue
        j = i + 1
        while j < len(words) and words[j].startswith("-") and words[j] != "-m":
            j += 1  # python3 -u -O script.py
        if j + 1 < len(words) and words[j] == "-m":
            found.append(("-m " + words[j + 1], wdir))
        elif j < len(words) and words[j].endswith(".py"):
            script = posixpath.normpath(posixpath.join(wdir, words[j]))
            found.append((script, posixpath.dirname(script) or "."))
    return found


class ImportScanner:
    """Memoised per process: many stages share one script."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._imports: dict[tuple[str, str], list[str]] = {}
        self._closures: dict[tuple[str, str], list[str]] = {}  # many stages run one script

    def deps_of(self, cmd: str | tuple[str, ...], wdir: str) -> list[str]:
        """The work-tree files (relative to the top) the cmd's Python code runs, the scripts
        themselves excluded when they are listed deps anyway (they are returned too)."""
        commands = (cmd,) if isinstance(cmd, str) else cmd
        result: dict[str, None] = {}
        for command in commands:
            for entry, search in entry_points(command, wdir):
                if entry.startswith("-m "):
                    start = self._resolve(entry[3:], search)
                    if start is None:
                        continue
                else:
                    start = entry
                self._follow(start, search, result)
        return list(result)

    def _follow(self, start: str, search: str, result: dict[str, None]) -> None:
        key = (start, search)
        if key not in self._closures:
            found: dict[str, None] = {}
            self._walk_imports(start, search, found)
            self._closures[key] = list(found)
        result.update(dict.fromkeys(self._closures[key]))

    def _walk_imports(self, start: str, search: str, result: dict[str, None]) -> None:
        todo = [start]
        while todo:
            path = todo.pop()
            if path in result or not (self.top / path).is_file():
                continue
            result[path] = None
            todo.extend(self._imports_of(path, search))

    def _imports_of(self, path: str, search: str) -> list[str]:
        key = (path, search)
        if key not in self._imports:
            self._imports[key] = self._scan(path, search)
        return self._imports[key]

    def _scan(self, path: str, search: str) -> list[str]:
        try:
            tree = ast.parse((self.top / path).read_bytes(), filename=path)
        except (SyntaxError, ValueError, OSError):
            return []  # the command will say what is wrong with it when it runs
        package = posixpath.dirname(path)
        found = []
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # from . import x / from ..pkg import y: relative to this file
                    base = package
                    for _ in range(node.level - 1):
                        base = posixpath.dirname(base)
                    stem = posixpath.join(base, *(node.module or "").split(".")) if node.module else base
                    for candidate in self._relative(stem, [a.name for a in node.names]):
                        found.append(candidate)
                    continue
                if node.module:
                    names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                resolved = self._resolve(name, search)
                if resolved:
                    found.append(resolved)
                    found.extend(self._parents(name, search))
        return found

    def _relative(self, stem: str, names: list[str]) -> list[str]:
        hits = []
        for option in [stem + ".py", posixpath.join(stem, "__init__.py")] + \
                [posixpath.join(stem, n + ".py") for n in names] + [posixpath.join(stem, n, "__init__.py") for n in names]:
            option = posixpath.normpath(option)
            if not option.startswith("../") and (self.top / option).is_file():
                hits.append(option)
        return hits

    def _resolve(self, dotted: str, search: str) -> str | None:
        parts = dotted.split(".")
        base = posixpath.join(search, *parts)
        for option in (base + ".py", posixpath.join(base, "__init__.py")):
            option = posixpath.normpath(option)
            if not option.startswith("../") and os.path.isfile(self.top / option):
                return option
        return None

    def _parents(self, dotted: str, search: str) -> list[str]:
        """`import pkg.sub` runs pkg/__init__.py too."""
        parts = dotted.split(".")
        found = []
        for n in range(1, len(parts)):
            init = posixpath.normpath(posixpath.join(search, *parts[:n], "__init__.py"))
            if (self.top / init).is_file():
                found.append(init)
        return found
