from __future__ import annotations

import argparse

HELP = "download a file or folder at a revision of any repository, without a clone (deployment)"
DESCRIPTION = """`git datax get REPO PATH [--rev REV] [-o OUT]` writes PATH of REPO at REV (default
its HEAD) to OUT (default: PATH's last part, here; inside OUT when OUT is a folder). REPO is
anything `git clone` takes: a path, file://, ssh:// or host:path, https://. Only what PATH needs
is fetched: the commit's trees without history or other files (a shallow, blobless fetch into a
temporary repository beside OUT, removed afterwards), the files under PATH, then the data their
stubs name from REPO's data remote, found as a clone would (the `.datax.toml` at REV, the
server's `datax.serverstore`, `<bare>/datax`, the server's LFS endpoint). Every object is
verified; OUT appears whole or not at all. Plain Git files under PATH come too.

REV is a branch, tag or commit, or a model of the registry (`git datax model --help`):
`asr@v1.2.0`, `asr@latest`, `asr#prod`. With a model, PATH may be left out: it is the model's
path under `artifacts:` in datax.yaml at that revision.

The closing line tells what it cost: git objects and bytes fetched, and the data downloaded."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo", metavar="REPO", help="the repository: a path or any URL git clone takes")
    parser.add_argument("path", metavar="PATH", nargs="?",
                        help="a file or folder of REPO, from its top (optional when --rev names a model)")
    parser.add_argument("--rev", metavar="REV", help="branch, tag, commit or model (asr@v1.2.0, asr#prod); default HEAD")
    parser.add_argument("-o", "--out", metavar="OUT", help="where to write it (default: PATH's last part, here)")
    parser.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--remote", metavar="NAME",
                        help="the data remote of REPO to download from, as its .datax.toml names it (default: its default)")
    parser.add_argument("-j", "--jobs", metavar="N", type=int, help="parallel downloads (default datax.concurrency, 8)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no closing line")


def run(args: argparse.Namespace) -> int:
    from gitdatax import output
    from gitdatax.errors import FatalError
    from gitdatax.share.get import get, summary

    if args.jobs is not None and not 1 <= args.jobs <= 256:
        raise FatalError(f"--jobs {args.jobs}: expected a number from 1 to 256")
    report = get(args.repo, args.path, rev=args.rev, out=args.out, jobs=args.jobs, force=args.force,
                 quiet=args.quiet, remote=args.remote)
    if not args.quiet:
        output.info(summary(report, args.repo, args.rev))
    return 0
