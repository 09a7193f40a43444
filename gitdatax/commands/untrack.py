from __future__ import annotations

import argparse

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
        output.warn(f"{pattern} was not tracked in {path.name}")
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
