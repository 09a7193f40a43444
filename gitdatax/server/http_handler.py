"""The request handler of `git datax serve` (see http_server.py for the URL layout): routing,
authentication, request bodies (Content-Length or chunked, never more than --max-body), and the
four endpoints. Every failure becomes one JSON answer `{"message": ...}` with its status; the
access log gets one line per request."""
from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from gitdatax import __version__
from gitdatax.errors import CorruptObject, environment_problem
from gitdatax.server.http_auth import Authenticator, User
from gitdatax.server.http_errors import ClientGone, HttpError
from gitdatax.store.objectstore import CHUNK, ObjectStore
from gitdatax.stub import Stub, is_valid_oid

LFS_JSON = "application/vnd.git-lfs+json"
JSON_LIMIT = 16 << 20  # a batch of 100 objects is ~10 KB; no API request needs more than this
_ROUTE = re.compile(r"(?P<prefix>(?:/[^/]+)*?)/objects/(?P<name>[^/]+)")
ANONYMOUS = User("-", False)


class Handler(BaseHTTPRequestHandler):
    server: DataxServer
    protocol_version = "HTTP/1.1"
    server_version = f"gitdatax/{__version__}"
    timeout = 120  # seconds a connection may stay silent, mid-request or between requests

    # -- plumbing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_PUT(self) -> None:
        self._dispatch(self._put)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, handler: Any) -> None:
        self._status, self._sent, self._user = 0, 0, "-"
        self._body_state = "unread"  # then "partial" while _body reads it, "done" at its end
        start = time.monotonic()
        with self.server.idle:
            self.server.busy.add(self.connection)
        try:
            handler()
        except HttpError as exc:
            self._send_json(exc.status, {"message": str(exc)}, close=exc.close)
        except ClientGone:
            self.close_connection = True
            self._status = self._status or 499
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug: answer 500 and keep serving the others
            problem = environment_problem(exc)
            if problem is not None:  # a full disk is the administrator's to fix, not a bug
                self._send_json(507, {"message": f"the server cannot store it: {problem}"}, close=True)
                with self.server.log_lock:
                    sys.stderr.write(f"git-datax serve: {problem}\n")
                return
            self._send_json(500, {"message": f"internal error ({type(exc).__name__})"}, close=True)
            self._log_bug()
        finally:
            with self.server.idle:
                self.server.busy.discard(self.connection)
                self.server.idle.notify_all()
            elapsed = (time.monotonic() - start) * 1000
            path = self.path.split("?", 1)[0]
            line = (f'{self.client_address[0]} {self._user} "{self.command} {path}" '
                    f"{self._status} {self._sent} {elapsed:.0f}ms\n")
            with self.server.log_lock:
                sys.stderr.write(line)
                sys.stderr.flush()

    def _log_bug(self) -> None:
        import traceback

        with self.server.log_lock:
            sys.stderr.write(traceback.format_exc())

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # _dispatch writes one line per request, with the user and the time

    def log_error(self, format: str, *args: Any) -> None:
        with self.server.log_lock:  # malformed requests rejected by http.server itself
            sys.stderr.write(f"{self.client_address[0]} - {format % args}\n")

    def _send_json(self, status: int, payload: Any, *, close: bool = False) -> None:
        body = json.dumps(payload).encode()
        self._start(status, len(body), LFS_JSON, close=close,
                    extra=self._challenge() if status == 401 else None)
        self.wfile.write(body)
        self._sent = len(body)

    def _start(self, status: int, length: int | None, content_type: str, *, close: bool = False,
               extra: dict[str, str] | None = None) -> None:
        self._status = status
        close = close or not self._finish_body()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if close:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()

    def _finish_body(self) -> bool:
        """Before answering: make sure the next request on this connection starts where we will
        read. A small unread body (a refused API request) is drained; False when the connection
        must close instead (a big or endless body)."""
        if self._body_state != "unread":
            return self._body_state == "done"
        length = self.headers.get("Content-Length", "0")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or not length.isdigit():
            return False
        if int(length) > 1 << 20:
            return False
        self.rfile.read(int(length))
        self._body_state = "done"
        return True

    def _challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="gitdatax"', "LFS-Authenticate": 'Basic realm="gitdatax"'}

    # -- routing and auth --------------------------------------------------------------------

    def _route(self) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        match = _ROUTE.fullmatch(parts.path)
        if match is None:
            raise HttpError(404, f"no such endpoint {parts.path[:100]!r}: the batch API is at <root>/objects/batch")
        return match["prefix"], match["name"], parse_qs(parts.query)

    def _authenticate(self, operation: str, oid: str | None = None) -> User:
        """The caller, allowed to do `operation` (download, upload) on `oid` (None: the batch)."""
        auth = self.server.auth
        if auth is None:
            return ANONYMOUS
        header = self.headers.get("Authorization", "")
        user = None
        if header.startswith("Bearer ") and oid is not None:
            user = auth.check_token(header[7:].strip(), operation, oid)
        elif header.startswith("Basic "):
            user = auth.basic(header)
        if user is None:
            # The body is left unread: say so, so the client does not send the next request
            # into the middle of it.
            raise HttpError(401, "credentials required" if not header else "wrong user name, password or token",
                            close=self.command == "PUT")
        self._user = user.name
        if operation == "upload" and user.read_only:
            raise HttpError(403, f"user {user.name} may download only", close=self.command == "PUT")
        return user

    def _base_url(self, prefix: str) -> str:
        if self.server.public_url:
            return self.server.public_url + prefix
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return f"http://{host}{prefix}"

    # -- request bodies ----------------------------------------------------------------------

    def _body_length(self) -> int | None:
        """Content-Length, or None for a chunked body; refuses what is over --max-body."""
        length = self.headers.get("Content-Length")
        if length is not None:
            if not length.isdigit():
                raise HttpError(400, "bad Content-Length", close=True)
            if int(length) > self.server.max_body:
                raise HttpError(413, f"request body of {length} bytes is over this server's limit "
                                f"of {self.server.max_body} (--max-body)", close=True)
            return int(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        raise HttpError(411, "Content-Length or chunked Transfer-Encoding required", close=True)

    def _body(self, limit: int) -> Iterator[bytes]:
        """The request body in pieces, never more than `limit` bytes."""
        length = self._body_length()
        self._body_state = "partial"  # until the last byte: an answer now closes the connection
        if length is not None:
            if length > limit:
                raise HttpError(413, f"request body of {length} bytes is over the limit of {limit} bytes", close=True)
            yield from self._exactly(length)
            self._body_state = "done"
            return
        total = 0
        while True:  # chunked: "<hex size>[;ext]\r\n<data>\r\n" ... "0\r\n\r\n"
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise ClientGone()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunked encoding", close=True) from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._body_state = "done"
                return
            total += size
            if total > limit:
                raise HttpError(413, f"request body is over the limit of {limit} bytes", close=True)
            yield from self._exactly(size)
            self.rfile.readline(8)

    def _exactly(self, length: int) -> Iterator[bytes]:
        """The next `length` bytes of the body in pieces; ClientGone if the client stops first."""
        while length:
            chunk = self.rfile.read(min(length, CHUNK))
            if not chunk:
                raise ClientGone()
            length -= len(chunk)
            yield chunk

    def _json_body(self) -> Any:
        data = b"".join(self._body(min(JSON_LIMIT, self.server.max_body)))
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "the request body is not JSON") from None

    # -- the API -----------------------------------------------------------------------------

    def _chunks(self) -> bool:
        """The datax-chunks endpoints (http_chunks.py): gitdatax clients only."""
        from gitdatax.server import http_chunks

        parts = urlsplit(self.path)
        return http_chunks.handle(self, parts.path, parse_qs(parts.query))

    def _post(self) -> None:
        if self._chunks():
            return
        prefix, name, _ = self._route()
        if name == "batch":
            self._batch(prefix)
        elif name == "verify":
            self._verify()
        else:
            raise HttpError(405, "POST goes to <root>/objects/batch or <root>/objects/verify", close=True)

    def _batch(self, prefix: str) -> None:
        from gitdatax.server.http_batch import answer_batch

        user = self._authenticate("download")  # everyone who may do anything may ask
        request = self._json_body()
        operation = request.get("operation") if isinstance(request, dict) else None
        if operation not in ("download", "upload"):
            raise HttpError(422, "operation must be \"download\" or \"upload\"")
        if operation == "upload":
            self._authenticate("upload")
        status, payload = answer_batch(self.server, request, user, self._base_url(prefix))
        self._send_json(status, payload)

    def _verify(self) -> None:
        request = self._json_body()
        oid = request.get("oid") if isinstance(request, dict) else None
        size = request.get("size") if isinstance(request, dict) else None
        if not is_valid_oid(oid) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise HttpError(422, "verify needs {\"oid\": 64 lowercase hex, \"size\": bytes}")
        self._authenticate("upload", oid)
        from gitdatax.server.http_batch import content_size

        stored = content_size(self.server.store, oid)
        if stored is None:
            raise HttpError(404, f"object {oid} is not stored")
        if stored not in (size, -1):
            raise HttpError(422, f"object {oid} is stored with size {stored}, not {size}")
        self._send_json(200, {})

    def _oid(self) -> tuple[str, dict[str, list[str]]]:
        _, name, query = self._route()
        if not is_valid_oid(name):
            raise HttpError(422, f"invalid object id {name[:80]!r}: expected 64 lowercase hex digits",
                            close=self.command == "PUT")
        return name, query

    def _get(self) -> None:
        if self._chunks():
            return
        from gitdatax.server.http_batch import content_size

        oid, _ = self._oid()
        self._authenticate("download", oid)
        size = content_size(self.server.store, oid)
        if size is None:
            raise HttpError(404, f"object {oid} is not stored")
        start = _range_start(self.headers.get("Range"), size)
        if start:
            self._start(206, size - start, "application/octet-stream",
                        extra={"Content-Range": f"bytes {start}-{size - 1}/{size}"})
        else:  # an object cleaned while streaming has no size in its frame: send it chunked
            self._start(200, None if size < 0 else size, "application/octet-stream")
        chunked = size < 0
        skip = start
        try:
            for chunk in self.server.store.stream_content(oid):
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    self._sent += len(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except CorruptObject as exc:
            # The headers are sent: cutting the connection is the only way left to say it (the
            # client's hash check would refuse the bytes anyway).
            self.close_connection = True
            with self.server.log_lock:
                sys.stderr.write(f"git-datax serve: {exc}; connection closed mid-download\n")

    def _put(self) -> None:
        if self._chunks():
            return
        oid, query = self._oid()
        self._authenticate("upload", oid)
        length = self._body_length()
        sizes = query.get("size", [])
        if sizes and not sizes[0].isdigit():
            raise HttpError(422, "size must be a number of bytes", close=True)
        expected = int(sizes[0]) if sizes else length
        if expected is None:
            raise HttpError(411, "a chunked upload needs ?size=BYTES (the batch answer's href has it)", close=True)
        if length is not None and length != expected:
            raise HttpError(422, f"Content-Length {length} does not match the object's size {expected}; "
                            "nothing stored", close=True)
        if expected > self.server.max_body:
            raise HttpError(413, f"object of {expected} bytes is over this server's limit of "
                            f"{self.server.max_body} (--max-body)", close=True)
        # Read up to --max-body: bytes beyond the object's size make import_raw refuse it (422).
        chunks = self._body(self.server.max_body)
        try:
            self.server.store.import_raw(chunks, Stub(oid, expected))
        except CorruptObject:
            raise HttpError(422, f"the bytes sent do not match object {oid} of {expected} bytes; "
                            "nothing stored", close=True) from None
        self._start(200, 0, LFS_JSON)


def _range_start(header: str | None, size: int) -> int:
    """N from `Range: bytes=N-` (the only form resuming clients send); 0 otherwise."""
    match = re.fullmatch(r"bytes=(\d+)-", (header or "").strip())
    if not match or size < 0 or int(match[1]) >= size:
        return 0
    return int(match[1])


class DataxServer(ThreadingHTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not hold up shutdown

    def __init__(self, address: tuple[str, int], store: ObjectStore, auth: Authenticator | None,
                 max_body: int, public_url: str | None) -> None:
        self.address_family = _family(address[0])
        super().__init__(address, Handler)
        self.store = store
        self.auth = auth
        self.max_body = max_body
        self.public_url = public_url.rstrip("/") if public_url else None
        self.log_lock = threading.Lock()
        self.busy: set[Any] = set()  # sockets of the connections with a request in flight
        self.idle = threading.Condition()

    def wait_idle(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: not self.busy, timeout)

    def cut_busy(self) -> None:
        """End the requests still running: their reads see EOF, so an upload stops as a client
        that went away does, and its temporary file is removed."""
        import socket

        with self.idle:
            sockets = list(self.busy)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _family(host: str) -> int:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET
