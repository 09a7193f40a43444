from __future__ import annotations

import argparse
import os

HELP = "store files matching PATTERN with gitdatax (edits .gitattributes); no PATTERN lists them"
DESCRIPTION = """Add `PATTERN filter=datax diff=datax merge=datax -text` to the .gitattributes at
the top of the work tree, so `git add` stores matching files as stubs with their bytes in the
gitdatax store. Patterns are gitattributes patterns ('*.csv', 'models/asr.bin', 'data/**'); a
directory (`models` or `models/`, as `dvc add models`) is taken as 'models/**', every file under
it, since git applies attributes to files only; given in a subdirectory, they are made relative
to the top. With no PATTERN, list the tracked
patterns of every .gitattributes file.

Commit .gitattributes. Files committed before they were tracked stay raw in old commits; run
`git add --renormalize .` to store their current version with gitdatax."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="*", metavar="PATTERN")


def run(args: argparse.Namespace) -> int:
    from gitdatax import attributes, git, output
    from gitdatax.errors import FatalError

    top = git.toplevel()
    if not args.patterns:
        files = git.ls_files_z(["--cached", "--others", "--exclude-standard", "--full-name"], cwd=top)
        listed = 0
        for attr_file in sorted({f for f in files if os.path.basename(f) == ".gitattributes"}):
            for pattern in attributes.tracked_patterns(top / attr_file):
                print(f"{pattern}    ({attr_file})")
                listed += 1
        if not listed:  # on stderr: the listing itself stays empty for scripts
            output.info("no pattern is tracked yet: `git datax track '*.csv'` adds one")
        return 0
    prefix = git.output(["rev-parse", "--show-prefix"]).rstrip("/") or "."  # git's: "" outside the work tree
    path = top / ".gitattributes"
    lines = attributes.read_lines(path)
    existing = {p[0]: p[1] for p in map(attributes.split_line, lines) if p}
    added = 0
    said = []  # printed once every pattern is known good: an error below writes nothing
    for raw in args.patterns:
        if "\n" in raw or "\r" in raw or not raw.strip():
            raise FatalError(f"invalid pattern {raw!r}")
        pattern = raw if prefix == "." or raw.startswith("/") else f"{prefix}/{raw}"
        pattern = pattern.replace(os.sep, "/")
        folder = attributes.as_folder_pattern(raw, top / pattern.lstrip("/"))
        note = ""
        if folder is not None:  # attributes apply to files: a folder means every file under it
            note = f" (every file under {raw.rstrip('/')}/: git applies attributes to files, not folders)"
            raw, pattern = folder, pattern.rstrip("/") + "/**"
        if os.path.basename(pattern.rstrip("/")) in (".gitattributes", ".gitignore", ".datax.toml"):
            raise FatalError(f"{raw}: gitdatax's own configuration files cannot be tracked")
        problem = attributes.matches_no_file(raw, top / pattern.lstrip("/"))
        if problem:
            raise FatalError(problem)
        own = attributes.own_file_matched(pattern, top)
        if own:
            raise FatalError(f"{raw}: it also matches {own}, which must stay plain text in Git (git reads it "
                             "from the commit): use a narrower pattern, e.g. '*.bin'")
        if "filter=lfs" in existing.get(pattern, ()):
            raise FatalError(f"{raw} is tracked by Git LFS: `git datax migrate from-lfs` turns its pointers into "
                             "stubs and its line into gitdatax's (a second line would check the LFS pointers out "
                             "as text)")
        if pattern in existing and attributes.is_datax_line(existing[pattern]):
            said.append(f"{pattern} is already tracked")
            continue
        lines.append(f"{attributes.quote_pattern(pattern)} {attributes.ATTRIBUTES}")
        existing[pattern] = attributes.ATTRIBUTES.split()
        added += 1
        said.append(f"tracking {pattern}{note}")
    for line in said:
        output.info(line)
    if added:
        attributes.write_lines(path, lines)
        output.info("commit .gitattributes to share this; `git add --renormalize .` converts files already committed")
        if not attributes.filter_configured():
            output.warn("the datax filter is not configured: run `git datax install`, or git stores the files "
                        "these patterns match as they are")
    return 0

