"""Reading and editing the `.gitattributes` lines that gitdatax owns."""
from __future__ import annotations

import re
from pathlib import Path

from gitdatax.files import write_atomically

ATTRIBUTES = "filter=datax diff=datax merge=datax -text"
# The git config the filter and the merge driver need (`git datax install` writes it, uninstall
# removes what still has these values).
FILTER_CONFIG = {
    "filter.datax.process": "git-datax filter-process",
    "filter.datax.clean": "git-datax clean -- %f",
    "filter.datax.smudge": "git-datax smudge -- %f",
    "filter.datax.required": "true",
    "merge.datax.name": "gitdatax: keep ours and report a conflict when both sides changed data",
    "merge.datax.driver": "git-datax merge-driver %O %A %B %P",
}
_NEEDS_QUOTES = re.compile(r'[\s"\\]')


def quote_pattern(pattern: str) -> str:
    """Git reads C-style quoted patterns in .gitattributes; a pattern with a space needs them,
    and so does one starting with `#` (unquoted, the line is a comment)."""
    if not _NEEDS_QUOTES.search(pattern) and not pattern.startswith("#"):
        return pattern
    return '"' + pattern.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'


def literal_pattern(path: str) -> str:
    """A pattern matching exactly the file or folder `path` (from the top): its glob characters
    escaped, so `/#take [1].bin` matches that file and not `#take 1.bin`."""
    return "/" + re.sub(r"([\\*?\[])", r"\\\1", path)


def unquote_pattern(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r'\\(.)', lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), token[1:-1])
    return token


def split_line(line: str) -> tuple[str, list[str]] | None:
    """(pattern, attributes) of one .gitattributes line, or None for blanks and comments."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith('"'):
        match = re.match(r'("(?:[^"\\]|\\.)*")\s*(.*)', stripped)
        if not match:
            return None
        return unquote_pattern(match.group(1)), match.group(2).split()
    pattern, _, rest = stripped.partition(" ")
    pattern, _, tab_rest = pattern.partition("\t")
    return pattern, (rest + " " + tab_rest).split()


def is_datax_line(attrs: list[str]) -> bool:
    return "filter=datax" in attrs


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def write_lines(path: Path, lines: list[str]) -> None:
    write_atomically(path, "".join(line + "\n" for line in lines))


def tracked_patterns(path: Path) -> list[str]:
    patterns = []
    for line in read_lines(path):
        parsed = split_line(line)
        if parsed and is_datax_line(parsed[1]):
            patterns.append(parsed[0])
    return patterns


def own_file_matched(pattern: str, top: Path | None = None) -> str | None:
    """Which of .gitattributes, .gitignore, .datax.toml `pattern` matches, if any: at the top, or
    in the folder a `FOLDER/NAME` pattern names when one is there (in the work tree under `top`).
    Git reads them from the commit: stored as a stub, .gitattributes would reach a clone as stub
    text and no file there would get its data (git lfs track refuses such patterns too). fnmatch
    reads the last, single-component part as git does; deeper globs are not checked."""
    import fnmatch

    bare = pattern[1:] if pattern.startswith("/") else pattern
    while bare.startswith("**/"):
        bare = bare[3:]
    folder, _, base = bare.rpartition("/")
    if folder and (top is None or any(c in folder for c in "*?[")):
        return None
    for name in (".gitattributes", ".gitignore", ".datax.toml"):
        path = f"{folder}/{name}" if folder else name
        # A folder's own files only when present: 'data/*' stays usable where data/ has none.
        if fnmatch.fnmatchcase(name, base) and (not folder or (top / path).exists()):  # type: ignore[operator]
            return path
    return None


def as_folder_pattern(raw: str, where: Path) -> str | None:
    """`models/**` for `models/` or `models` naming a directory (issue 16 item 4): what a DVC
    user means by `dvc add models`. None for any other pattern."""
    if raw.startswith("!") or any(c in raw for c in "*?["):
        return None
    if raw.endswith("/") or where.is_dir():
        return raw.rstrip("/") + "/**"
    return None


def matches_no_file(raw: str, where: Path) -> str | None:
    """Why git would read the pattern `raw` (`where`: the path it names in the work tree) and
    then match nothing with it, if it would: a directory (attributes are not inherited by the
    files inside, gitattributes(5)) or a negation (ignored, with a warning from every git command
    afterwards)."""
    why = "git applies attributes to files, not directories, so this pattern matches nothing"
    if raw.startswith("!"):
        return f"{raw}: .gitattributes has no negative patterns (git ignores the line): name only the files to store"
    if raw.endswith("/"):
        folder = raw.rstrip("/")
        return f"{raw}: {why}: use '{folder}/**' for every file under {folder}/"
    if not any(c in raw for c in "*?[") and where.is_dir():
        return f"{raw} is a directory: {why} in it: use '{raw}/**' for every file under {raw}/"
    return None


def filter_configured() -> bool:
    """Whether git has a datax filter to run: without one, git stores tracked files as they are
    (filter.datax.required is unset then too)."""
    from gitdatax import git

    return bool(git.config_get("filter.datax.process") or git.config_get("filter.datax.clean"))
