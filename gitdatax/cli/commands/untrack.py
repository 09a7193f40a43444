from __future__ import annotations

import argparse
from pathlib import Path

HELP = "stop storing files matching PATTERN with gitdatax (edits .gitattributes)"
DESCRIPTION = """Remove gitdatax's line for each PATTERN from the .gitattributes at the top of the
work tree. Files already committed as stubs stay stubs in those commits; after untracking,
`git add --renormalize .` commits their current content into Git itself."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="+", metavar="PATTERN")


def run(args: argparse.Namespace) -> int:
    from gitdatax import attributes, git, output
    from gitdatax.errors import FatalError

    top = git.toplevel()
    prefix = git.output(["rev-parse", "--show-prefix"]).rstrip("/") or "."  # git's: "" outside the work tree
    path = top / ".gitattributes"
    lines = attributes.read_lines(path)
    wanted = {p if prefix == "." or p.startswith("/") else f"{prefix}/{p}" for p in args.patterns}
    kept, removed = [], set()
    for line in lines:
        parsed = attributes.split_line(line)
        if parsed and parsed[0] in wanted and attributes.is_datax_line(parsed[1]):
            removed.add(parsed[0])
            continue
        kept.append(line)
    for pattern in sorted(wanted - removed):
        where = _tracked_in_nested_file(top, pattern)
        output.warn(f"{pattern} was not tracked in {path.name}" + (f" ({where} tracks it: edit that file)" if where else ""))
    for pattern in sorted(removed):
        output.info(f"untracking {pattern}")
    if removed:
        attributes.write_lines(path, kept)
        # Without it git sees nothing to change, and the stubs stay committed for paths no filter
        # runs on any more: every checkout, a clone's included, would give the stub text.
        output.info("run `git add --renormalize .` and commit it with .gitattributes: until then the files it "
                    "matched stay stubs in Git, and a checkout gives their stub text")
    elif wanted:
        raise FatalError("no pattern was untracked")
    return 0


def _tracked_in_nested_file(top: Path, pattern: str) -> str | None:
    """The .gitattributes below the top whose gitdatax line is `pattern` (as given, or made
    relative to the top), if any: `track` lists those lines too, untrack edits only the top file."""
    import os

    from gitdatax import attributes, git

    files = git.ls_files_z(["--cached", "--others", "--exclude-standard", "--full-name"], cwd=top)
    for attr_file in sorted(f for f in files if os.path.basename(f) == ".gitattributes" and f != ".gitattributes"):
        folder = os.path.dirname(attr_file)
        for tracked in attributes.tracked_patterns(top / attr_file):
            if pattern in (tracked, f"{folder}/{tracked.lstrip('/')}"):
                return attr_file
    return None
