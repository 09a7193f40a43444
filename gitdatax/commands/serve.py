from __future__ import annotations

import argparse

HELP = "serve a store: over HTTP with the Git LFS batch API, or over SSH with --stdio PATH"
DESCRIPTION = """`git datax serve [--store URL] [--bind 127.0.0.1:PORT]` serves a store over HTTP
with the Git LFS batch API, so gitdatax and git-lfs clients can push to it and fetch from it.
`git datax serve --stdio PATH` speaks gitdatax's framed protocol on stdin/stdout for the store at
PATH; the SSH remote runs it on the server (`ssh host git-datax serve --stdio PATH`)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", metavar="PATH", help="serve the store at PATH on stdin/stdout (for SSH)")
    parser.add_argument("--store", metavar="URL", help="the store to serve (default: this repository's)")
    parser.add_argument("--bind", metavar="HOST:PORT", default="127.0.0.1:8080",
                        help="address to listen on (default 127.0.0.1:8080; loopback unless told)")


def run(args: argparse.Namespace) -> int:
    if args.stdio:
        from gitdatax.stdio_server import serve_stdio

        return serve_stdio(args.stdio)
    from gitdatax.http_server import serve_http

    return serve_http(args)
