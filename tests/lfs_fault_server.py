"""A small Git LFS server (batch API + basic transfers) that misbehaves on request, for tests.

It runs http.server in a thread on 127.0.0.1, keeps objects in memory (tests use small objects),
records every request, and lets a test switch on one fault at a time through `FaultServer.faults`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultServer:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.faults: dict[str, Any] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def do_PUT(self) -> None:
                server._handle(self, "PUT")

            def do_GET(self) -> None:
                server._handle(self, "GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.endpoint = f"{self.base}/team/proj.git/info/lfs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # -- helpers ----------------------------------------------------------------------------

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))

    def _take(self, name: str) -> bool:
        """Consume one occurrence of a counted fault."""
        with self.lock:
            left = self.faults.get(name, 0)
            if left:
                self.faults[name] = left - 1
                return True
            return False

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               content_type: str = "application/vnd.git-lfs+json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        headers = {k: v for k, v in h.headers.items()}
        with self.lock:
            self.requests.append((method, h.path, headers))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        path = h.path
        if path == "/team/proj.git/info/lfs/objects/batch" and method == "POST":
            return self._batch(h, headers, body)
        if path.startswith("/obj/") and method == "GET":
            return self._get(h, path[5:], headers)
        if path.startswith("/obj/") and method == "PUT":
            oid = path[5:]
            if hashlib.sha256(body).hexdigest() != oid:
                return self._reply(h, 422, b'{"message":"hash mismatch"}')
            self.objects[oid] = body
            return self._reply(h, 200)
        if path == "/verify" and method == "POST":
            req = json.loads(body)
            ok = req["oid"] in self.objects and len(self.objects[req["oid"]]) == req["size"]
            return self._reply(h, 200 if ok else 422)
        if path.startswith("/redirect/"):
            target = self.faults["redirect_to"] + "/obj/" + path[len("/redirect/"):]
            return self._reply(h, 302, headers={"Location": target})
        return self._reply(h, 404, b'{"message":"no such path"}')

    def _batch(self, h: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes) -> None:
        if self._take("batch_500"):
            return self._reply(h, 500, b'{"message":"try again"}')
        if self._take("batch_429"):
            return self._reply(h, 429, b'{"message":"slow down"}', {"Retry-After": str(self.faults.get("retry_after", 1))})
        if "batch_redirect" in self.faults:
            return self._reply(h, 307, headers={"Location": self.faults["batch_redirect"]})
        need = self.faults.get("basic_auth")
        if need is not None:
            expected = "Basic " + base64.b64encode(need.encode()).decode()
            if headers.get("Authorization") != expected:
                return self._reply(h, 401, b'{"message":"credentials needed"}',
                                   {"LFS-Authenticate": 'Basic realm="test"'})
        req = json.loads(body)
        answers = []
        for obj in req["objects"]:
            oid, size = obj["oid"], obj["size"]
            answer: dict[str, Any] = {"oid": self.faults.get("answer_oid", oid),
                                      "size": self.faults.get("answer_size", size)}
            href_base = "/redirect/" if "redirect_to" in self.faults else "/obj/"
            action_header = {"Authorization": "Bearer action-token-123"}
            if req["operation"] == "download":
                if oid in self.objects:
                    answer["actions"] = {"download": {"href": self.faults.get("href", self.base + href_base + oid),
                                                      "header": action_header, "expires_in": 3600}}
                else:
                    answer["error"] = {"code": 404, "message": "Object does not exist"}
            elif oid not in self.objects:
                answer["actions"] = {
                    "upload": {"href": self.base + "/obj/" + oid, "header": action_header, "expires_in": 3600},
                    "verify": {"href": self.base + "/verify", "header": action_header},
                }
            answers.append(answer)
        self._reply(h, 200, json.dumps({"transfer": "basic", "objects": answers}).encode())

    def _get(self, h: BaseHTTPRequestHandler, oid: str, headers: dict[str, str]) -> None:
        data = self.objects.get(oid)
        if data is None:
            return self._reply(h, 404, b'{"message":"missing"}')
        if self._take("get_500"):
            return self._reply(h, 500, b"oops")
        if self.faults.get("corrupt"):
            data = bytes([data[0] ^ 1]) + data[1:]
        if self.faults.get("short_bytes"):
            data = data[: -self.faults["short_bytes"]]
        if self.faults.get("extra_bytes"):
            data = data + b"X" * self.faults["extra_bytes"]
        start = 0
        rng = headers.get("Range")
        if rng and not self.faults.get("ignore_range"):
            start = int(rng.split("=")[1].split("-")[0])
        status = 206 if start else 200
        part = data[start:]
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(part)))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if self._take("drop_mid_get"):
            h.wfile.write(part[: len(part) // 2])
            h.wfile.flush()
            h.close_connection = True
            import socket

            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(part)
