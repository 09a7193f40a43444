from __future__ import annotations

import argparse

HELP = "list the files at a revision of any repository: sizes, and which are data"
DESCRIPTION = """`git datax list REPO [PATH] [--rev REV]` lists the files in PATH (default: the top) of
REPO at REV (default its HEAD), without a clone: one line per file with its size (the data's
size for a file gitdatax stores), `data` or `git`, and its path; folders end with `/` (-R lists
every file below instead). Nothing is downloaded from the data remote: sizes come from the
stubs. --json prints a list of {path, size, isdata, isdir, isexec, oid} records."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo", metavar="REPO", help="the repository: a path or any URL git clone takes")
    parser.add_argument("path", metavar="PATH", nargs="?", help="a folder or file of REPO (default: the top)")
    parser.add_argument("--rev", metavar="REV", help="branch, tag, commit or model (asr@v1.2.0, asr#prod); default HEAD")
    parser.add_argument("-R", "--recursive", action="store_true", help="every file below, not just PATH's entries")
    parser.add_argument("--json", action="store_true", help="JSON records instead of lines")


def run(args: argparse.Namespace) -> int:
    import json

    from gitdatax.output import human_size, path_on_a_line
    from gitdatax.share.listing import list_files

    _, entries = list_files(args.repo, args.path, rev=args.rev, recursive=args.recursive)
    if args.json:
        print(json.dumps([e.as_json() for e in entries], indent=2))
        return 0
    for e in entries:
        if e.is_dir:
            print(f"{'-':>10}  {'':4}  {path_on_a_line(e.path)}/")
        else:
            print(f"{human_size(e.size):>10}  {'data' if e.is_data else 'git':4}  {path_on_a_line(e.path)}")
    return 0
