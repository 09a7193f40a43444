"""`git datax serve`: a directory store over HTTP with the Git LFS batch API.

    POST <root>/objects/batch     download or upload: which objects, with action hrefs
    GET  <root>/objects/<oid>     the raw content, decompressed while it streams
    PUT  <root>/objects/<oid>     raw content, hashed while it streams, published only if it
                                  matches the oid and the size (ObjectStore.import_raw)
    POST <root>/objects/verify    200 when the object is stored with that size
    <root>/objects/<oid>/...      the datax-chunks transfer, for gitdatax clients that list it in
                                  a batch request: object files as stored, only missing chunks
                                  (http_chunks.py, docs/http-chunks.md)

<root> is any path prefix, so both `lfs.url = http://HOST:PORT` (git-lfs posts to
`<lfs.url>/objects/batch`) and a gitdatax remote `http://HOST:PORT/info/lfs` work. Object ids are
checked to be 64 lowercase hex before they name a file, so no request reaches outside the store.
The standard library's ThreadingHTTPServer is enough: one thread per connection, HTTP/1.1
keep-alive, and zstd and hashlib release the GIL for the heavy part. This module is the server
and the command; http_handler.py answers requests, http_batch.py builds batch answers and
http_auth.py checks users.
"""
from __future__ import annotations

import ipaddress
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from gitdatax.errors import FatalError
from gitdatax.server.http_auth import Authenticator
from gitdatax.server.http_handler import DataxServer
from gitdatax.store.objectstore import ObjectStore

DEFAULT_MAX_BODY = "50GiB"
DEFAULT_GRACE = 10.0  # seconds requests in flight get to finish after SIGTERM


def parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise FatalError(f"bad --bind {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_store(url: str | None) -> ObjectStore:
    """The store to serve: --store (a directory: a path or file:// URL), else this repository's
    (a bare repository's `datax.serverstore` when that is a directory)."""
    from gitdatax.remotes import scheme_of
    from gitdatax.remotes.local import path_from_url

    if url:
        if scheme_of(url) != "file":
            raise FatalError(f"--store {url}: `git datax serve` serves a directory store (a path or file:// "
                             f"URL); an {scheme_of(url)}:// store is served by its own service")
        path = path_from_url(url).resolve()
        if not path.is_dir():
            raise FatalError(f"--store {url}: no such directory")
        return ObjectStore(path)
    from gitdatax import git
    from gitdatax.remotes import remote_config

    paths = git.repo_paths()
    if paths.toplevel is None:
        configured = remote_config.store_url(paths.common_dir)
        if scheme_of(configured) == "file":
            return ObjectStore(path_from_url(configured))
    return ObjectStore(paths.common_dir / "datax")


def serve_http(*, store_url: str | None = None, bind: str = "127.0.0.1:8080", auth_file: str | None = None,
               max_body: str | None = None, url: str | None = None, grace: float | None = None,
               anonymous: bool = False) -> int:
    """Serve the store over HTTP (the LFS batch API) until SIGTERM or Ctrl-C; the arguments are
    `git datax serve`'s options."""
    from gitdatax import output
    from gitdatax.config import parse_size

    host, port = parse_bind(bind)
    if not auth_file and not is_loopback(host) and not anonymous:
        raise FatalError(f"refusing to serve {host} without --auth-file: anyone who can reach it could "
                         "read and write the store (pass --anonymous if that is what you want)")
    body_limit = parse_size(max_body or DEFAULT_MAX_BODY, setting="--max-body")
    store = resolve_store(store_url)
    auth = Authenticator(Path(auth_file)) if auth_file else None
    try:
        server = DataxServer((host, port), store, auth, body_limit, url)
    except OSError as exc:
        raise FatalError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    output.info(f"git-datax serve: serving {store.root} on http://{shown}:{bound} "
                f"({'users from ' + str(auth_file) if auth else 'no authentication'})")
    output.info(f"git-datax serve: git-lfs: lfs.url = http://{shown}:{bound}; "
                f"gitdatax: git datax remote add NAME http://{shown}:{bound}/info/lfs")
    sys.stderr.flush()

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever() to return, which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    grace = float(grace or DEFAULT_GRACE)
    finished = server.wait_idle(grace)
    if not finished:
        server.cut_busy()
        server.wait_idle(5)
    output.info("git-datax serve: stopped" + ("" if finished else
                f" (requests still running after {grace:g} s were cut)"))
    return 0
