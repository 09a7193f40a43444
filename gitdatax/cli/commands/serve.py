from __future__ import annotations

import argparse

HELP = "serve a store: over HTTP with the Git LFS batch API, or over SSH with --stdio PATH"
DESCRIPTION = """`git datax serve [--store DIR] [--bind 127.0.0.1:PORT]` serves a directory store over
HTTP with the Git LFS batch API, so gitdatax and git-lfs clients can push to it and fetch from it:
git-lfs with `lfs.url = http://HOST:PORT`, gitdatax with `git datax remote add NAME
http://HOST:PORT/info/lfs`. The store is --store (a path or file:// URL; S3 is not served, it
speaks HTTP itself), else the current repository's: a bare repository's `datax.serverstore` when
it is a directory, or <git dir>/datax. It runs in the foreground, logs one line per request on
stderr (never credentials) and stops cleanly on SIGTERM or Ctrl-C.

Authentication: none by default, and then only a loopback address may be bound. With
--auth-file FILE, every request needs HTTP Basic credentials of a user in FILE; read-only users
get 403 on upload. Add users with
    git datax serve --auth-file FILE --add-user NAME [--read-only]
(the password is prompted for, or read from the first line of standard input).

`git datax serve --stdio PATH` speaks gitdatax's framed protocol on stdin/stdout for the store at
PATH; the SSH remote runs it on the server (`ssh host git-datax serve --stdio PATH`)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", metavar="PATH", help="serve the store at PATH on stdin/stdout (for SSH)")
    parser.add_argument("--store", metavar="URL", help="the store to serve (default: this repository's)")
    parser.add_argument("--bind", metavar="HOST:PORT", default="127.0.0.1:8080",
                        help="address to listen on (default 127.0.0.1:8080; loopback unless told; "
                        "port 0 picks a free one)")
    parser.add_argument("--auth-file", metavar="FILE", help="require HTTP Basic auth of the users in FILE")
    parser.add_argument("--max-body", metavar="SIZE", default=None,
                        help="largest request body, so largest object, accepted (default 50GiB)")
    parser.add_argument("--url", metavar="URL",
                        help="the server's address as clients see it (behind a reverse proxy), for the "
                        "hrefs in batch answers (default: from the request's Host header)")
    parser.add_argument("--grace", metavar="SECONDS", type=float, default=None,
                        help="on SIGTERM, how long requests in flight may take to finish (default 10)")
    parser.add_argument("--anonymous", action="store_true",
                        help="allow serving a non-loopback address without --auth-file")
    parser.add_argument("--add-user", metavar="NAME",
                        help="add (or reset) user NAME in --auth-file, then exit")
    parser.add_argument("--read-only", action="store_true", help="with --add-user: download only")


def run(args: argparse.Namespace) -> int:
    if args.stdio:
        from gitdatax.server.stdio import serve_stdio

        return serve_stdio(args.stdio)
    if args.add_user:
        return add_user(args.auth_file, args.add_user, read_only=args.read_only)
    from gitdatax.server.http_server import serve_http

    return serve_http(store_url=args.store, bind=args.bind, auth_file=args.auth_file, max_body=args.max_body,
                      url=args.url, grace=args.grace, anonymous=args.anonymous)


def add_user(auth_file: str | None, name: str, *, read_only: bool) -> int:
    """`--add-user NAME`: the password from the terminal (twice) or stdin's first line."""
    import getpass
    import sys
    from pathlib import Path

    from gitdatax import output
    from gitdatax.errors import FatalError
    from gitdatax.server import http_auth

    if not auth_file:
        raise FatalError("--add-user needs --auth-file FILE (the file to add the user to)")
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise FatalError("the two passwords differ; nothing written")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    new = http_auth.add_user(Path(auth_file), name, password, read_only)
    role = "read-only" if read_only else "read-write"
    output.info(f"{'added' if new else 'updated'} {role} user {name} in {auth_file}")
    return 0
