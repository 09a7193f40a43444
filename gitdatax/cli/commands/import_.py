from __future__ import annotations

import argparse

HELP = "add a file or folder of another repository as data of this one, recording where it came from"
DESCRIPTION = """`git datax import REPO PATH [--rev REV] [-o OUT]` fetches PATH of REPO at REV
(default its HEAD) without a clone (as `git datax get`), writes it to OUT (default: PATH's last
part, here), tracks it (a `.gitattributes` line for OUT) and records its origin (repo, path, rev
asked, commit it resolved to) in the committed `.datax-imports.toml`; all of it is staged, ready
to commit. The data becomes this project's: pre-push uploads it to this project's remote, and a
clone of this project gets it from there, never from REPO. `git datax update OUT` moves it on;
`git datax status` says when REPO's REV has moved. A folder's `.gitattributes`, `.gitignore`
and `.datax.toml` are not imported (they would configure this repository)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo", metavar="REPO", help="the repository: a path or any URL git clone takes")
    parser.add_argument("path", metavar="PATH", help="a file or folder of REPO, from its top")
    parser.add_argument("--rev", metavar="REV", help="branch, tag, commit or model (asr@v1.2.0, asr#prod); default HEAD "
                        "(a branch is followed by `update`, a tag or commit stays)")
    parser.add_argument("-o", "--out", metavar="OUT", help="where it goes in this work tree (default: PATH's last part)")
    parser.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("-j", "--jobs", metavar="N", type=int, help="parallel downloads (default datax.concurrency, 8)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.share.imports import IMPORTS_FILE, import_data

    report = import_data(args.repo, args.path, rev=args.rev, out=args.out, force=args.force, jobs=args.jobs,
                         quiet=args.quiet)
    o = report.origin
    output.info(f"imported {o.path} of {o.repo} at {o.rev or 'HEAD'} (commit {o.commit[:12]}) into {o.out}: "
                f"{report.files} file(s), {output.human_size(report.bytes)}, {report.data_files} stored as data")
    output.info(f"staged {o.out}, .gitattributes and {IMPORTS_FILE}: `git commit` to record the import")
    return 0
