"""Hostile input to `git datax serve`: bad bytes, bad oids, big bodies, bad credentials, and
requests aimed outside the store. Raw HTTP through http.client so the tests send exactly the
bytes a hostile client would."""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datax_serve import DataxServe, serve, wait_for  # noqa: F401 - the fixture
from helpers import datax, random_bytes
from gitdatax.remotes import open_remote
from gitdatax.store.objectstore import ObjectStore

LFS_JSON = "application/vnd.git-lfs+json"


def request(server: DataxServe, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def batch(server: DataxServe, operation: str, objects: list[dict[str, Any]], prefix: str = "",
          headers: dict[str, str] | None = None) -> tuple[int, Any]:
    body = json.dumps({"operation": operation, "transfers": ["basic"], "objects": objects}).encode()
    status, _, data = request(server, "POST", f"{prefix}/objects/batch", body,
                              {"Content-Type": LFS_JSON, "Accept": LFS_JSON, **(headers or {})})
    return status, json.loads(data)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def store_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def upload_href(server: DataxServe, data: bytes, headers: dict[str, str] | None = None) -> tuple[str, dict]:
    oid = hashlib.sha256(data).hexdigest()
    status, answer = batch(server, "upload", [{"oid": oid, "size": len(data)}], headers=headers)
    assert status == 200, answer
    action = answer["objects"][0]["actions"]["upload"]
    return action["href"].split(str(server.port), 1)[1], action.get("header", {})


def test_upload_whose_bytes_do_not_match_is_refused_and_leaves_nothing(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    good = random_bytes(50_000, seed=1)
    path, _ = upload_href(server, good)
    assert path.endswith(f"?size={len(good)}")
    # Same size, other bytes.
    status, _, body = request(server, "PUT", path, random_bytes(50_000, seed=2))
    assert status == 422
    assert b"do not match object" in body and b"nothing stored" in body
    # One byte more than the object's size: refused before a byte is read.
    status, _, body = request(server, "PUT", path, good + b"x")
    assert status == 422 and b"does not match the object's size" in body
    # The right bytes, declared with a wrong size.
    wrong_size = path.replace(f"size={len(good)}", f"size={len(good) - 1}")
    status, _, body = request(server, "PUT", wrong_size, good[:-1])
    assert status == 422 and b"do not match object" in body
    # A client that stops half-way.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(good)}\r\n\r\n".encode() + good[:1000])
    assert wait_for(lambda: '" 499 ' in server.log)
    assert store_files(server.store) == []  # nothing published, no temporary file left
    # Then the real bytes go in, and verify agrees.
    status, _, _ = request(server, "PUT", path, good)
    assert status == 200
    oid = hashlib.sha256(good).hexdigest()
    assert ObjectStore(server.store).verify(oid) is None
    verify = json.dumps({"oid": oid, "size": len(good)}).encode()
    assert request(server, "POST", "/objects/verify", verify)[0] == 200
    assert request(server, "POST", "/objects/verify", json.dumps({"oid": oid, "size": 5}).encode())[0] == 422
    assert request(server, "POST", "/objects/verify", json.dumps({"oid": "0" * 64, "size": 5}).encode())[0] == 404


@pytest.mark.parametrize("oid", ["A" * 64, "a" * 63, "a" * 65, "../" * 21 + "a", "g" * 64, 12, None])
def test_an_oid_that_is_not_64_lowercase_hex_is_refused(serve, oid: Any) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    for operation in ("download", "upload"):
        status, answer = batch(server, operation, [{"oid": oid, "size": 10}])
        assert status == 200
        assert answer["objects"][0]["error"]["code"] == 422
        assert "invalid object id" in answer["objects"][0]["error"]["message"]
        assert "actions" not in answer["objects"][0]
    if isinstance(oid, str) and "/" not in oid:
        for method in ("GET", "PUT"):
            status, _, body = request(server, method, f"/objects/{oid}", b"x" * 10 if method == "PUT" else None)
            assert status == 422 and b"invalid object id" in body
    verify = json.dumps({"oid": oid, "size": 10}).encode()
    assert request(server, "POST", "/objects/verify", verify)[0] == 422
    assert store_files(server.store) == []


def test_a_body_over_the_limit_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(None, "--max-body", "64KiB")
    big = random_bytes(100_000, seed=3)
    oid = hashlib.sha256(big).hexdigest()
    status, answer = batch(server, "upload", [{"oid": oid, "size": len(big)}])
    assert answer["objects"][0]["error"]["code"] == 413
    status, _, body = request(server, "PUT", f"/objects/{oid}", big)
    assert status == 413 and b"over this server's limit of 65536" in body
    # A chunked body has no Content-Length to refuse up front: it is cut off past the limit.
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"operation": "download", "objects": ['
        for _ in range(3000):
            yield b'{"oid": "%s", "size": 1},' % (b"a" * 64)
        yield b'{"oid": "%s", "size": 1}]}' % (b"a" * 64)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/objects/batch", body=chunks(), encode_chunked=True,
                     headers={"Content-Type": LFS_JSON})
        response = conn.getresponse()
        assert response.status == 413 and b"over the limit of 65536 bytes" in response.read()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before the client has finished sending: also a refusal
    finally:
        conn.close()
    assert wait_for(lambda: '"POST /objects/batch" 413' in server.log)
    huge_json = json.dumps({"operation": "download", "objects": [{"oid": "a" * 64, "size": 1}] * 2000}).encode()
    assert len(huge_json) > 64 << 10
    status, _, _ = request(server, "POST", "/objects/batch", huge_json, {"Content-Type": LFS_JSON})
    assert status == 413
    assert store_files(server.store) == []


def test_wrong_password_is_401_and_a_read_only_user_gets_403_on_upload(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    auth = tmp_path / "users"
    added = datax("serve", "--auth-file", str(auth), "--add-user", "alice", input=b"alice-secret\n")
    assert added.returncode == 0, added.stderr
    assert "added read-write user alice" in added.stderr
    assert datax("serve", "--auth-file", str(auth), "--add-user", "bob", "--read-only",
                 input=b"bob-secret\n").returncode == 0
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    text = auth.read_text()
    assert "alice-secret" not in text and text.startswith("alice:rw:scrypt$") and "\nbob:ro:scrypt$" in text
    server = serve(None, "--auth-file", str(auth))
    data = random_bytes(20_000, seed=4)
    oid = hashlib.sha256(data).hexdigest()
    objects = [{"oid": oid, "size": len(data)}]

    status, headers, _ = request(server, "POST", "/objects/batch", b"{}")
    assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic")
    assert batch(server, "download", objects, headers=basic("alice", "wrong"))[0] == 401
    assert batch(server, "download", objects, headers=basic("mallory", "alice-secret"))[0] == 401
    assert request(server, "PUT", f"/objects/{oid}", data)[0] == 401
    assert request(server, "PUT", f"/objects/{oid}", data, basic("alice", "nope"))[0] == 401

    status, answer = batch(server, "upload", objects, headers=basic("bob", "bob-secret"))
    assert status == 403 and "bob may download only" in answer["message"]
    assert request(server, "PUT", f"/objects/{oid}", data, basic("bob", "bob-secret"))[0] == 403
    assert store_files(server.store) == []

    # alice uploads through gitdatax's own client (credentials in the URL, tokens for the hrefs).
    local = ObjectStore(tmp_path / "local")
    stub = local.put_bytes(data)
    remote = open_remote(f"http://alice:alice-secret@127.0.0.1:{server.port}/info/lfs")
    try:
        remote.upload(stub, local)
    finally:
        remote.close()
    assert ObjectStore(server.store).verify(oid) is None
    # bob may download; the href's token is for that one object and that one operation.
    status, answer = batch(server, "download", objects, headers=basic("bob", "bob-secret"))
    action = answer["objects"][0]["actions"]["download"]
    path = action["href"].split(str(server.port), 1)[1]
    status, _, body = request(server, "GET", path, headers=action["header"])
    assert status == 200 and body == data
    other = "b" * 64
    assert request(server, "GET", f"/objects/{other}", headers=action["header"])[0] == 401
    assert request(server, "PUT", path, data, headers=action["header"])[0] == 401
    # Credentials never reach the log.
    for secret in ("alice-secret", "bob-secret", action["header"]["Authorization"].split()[1],
                   basic("bob", "bob-secret")["Authorization"].split()[1]):
        assert secret not in server.log
    # gitdatax's client moves the object file as stored (the datax-chunks transfer)
    assert f'alice "PUT /info/lfs/objects/{oid}/stored" 200' in server.log


AUDIT = r"""
import os, sys
log = os.open(sys.argv.pop(1), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
WATCH = {"open", "os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.listdir", "os.scandir",
         "os.chmod", "os.link", "os.symlink", "os.truncate", "os.utime", "shutil.rmtree"}
def hook(event, args):
    if event in WATCH and args and isinstance(args[0], (str, bytes, os.PathLike)):
        paths = [os.fsdecode(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
        # /proc/self/fd/N names one of this process's descriptors: what it is, read now
        # (an unnamed object file linked into place), not what N is in the test's process
        paths = [os.readlink(p) if p.startswith("/proc/self/fd/") else p for p in paths]
        os.write(log, ("%s\t%s\n" % (event, "\t".join(os.path.abspath(p) for p in paths))).encode())
sys.addaudithook(hook)
from gitdatax.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_nothing_outside_the_store_is_read_or_written(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret"
    secret.write_bytes(b"do not serve me")
    events = tmp_path / "events.log"
    store = tmp_path / "jail" / "store"
    server = serve(store, command=[sys.executable, "-c", AUDIT, str(events), "serve"])
    data = random_bytes(10_000, seed=7)
    oid = hashlib.sha256(data).hexdigest()
    path, _ = upload_href(server, data)
    assert request(server, "PUT", path, data)[0] == 200
    assert request(server, "GET", f"/objects/{oid}")[2] == data
    rel = os.path.relpath(secret, store / "objects" / oid[:2] / oid[2:4])
    for target in [rel, rel.replace("/", "%2F"), "..%2f" * 6 + "secret", "%2e%2e/" * 4, "~root", "/etc/passwd"]:
        for method in ("GET", "PUT", "POST"):
            status, _, body = request(server, method, f"/objects/{target}", b"x" if method != "GET" else None)
            assert status in (404, 405, 422), (method, target, status)
            assert b"do not serve me" not in body
        status, answer = batch(server, "download", [{"oid": target, "size": 1}])
        assert answer["objects"][0]["error"]["code"] == 422
        for what in ("stored", "missing-chunks", "chunks", "fetch-chunks"):  # the datax-chunks routes
            for method in ("GET", "PUT", "POST"):
                status, _, body = request(server, method, f"/objects/{target}/{what}?size=1",
                                          b"x" * 32 if method != "GET" else None)
                assert status in (404, 405, 422), (method, target, what, status)
                assert b"do not serve me" not in body
    # A chunked object through the datax-chunks transfer touches only the store too.
    local = ObjectStore(tmp_path / "local")
    chunked = local.put([random_bytes(5 << 20, seed=8)])
    remote = open_remote(server.url + "/info/lfs")
    try:
        remote.upload(chunked, local)
        clone = ObjectStore(tmp_path / "clone")
        remote.download(chunked, clone)
    finally:
        remote.close()
    assert clone.read_manifest(chunked.oid) is not None and clone.verify(chunked.oid) is None
    for bad_prefix in ("/../../..", "/%2e%2e/%2e%2e"):
        status, answer = batch(server, "download", [{"oid": oid, "size": len(data)}], prefix=bad_prefix)
        assert status == 200  # the prefix only shapes the hrefs; it never names a file
    assert server.stop() == 0
    touched = set()
    allowed = [os.path.realpath(p) for p in sys.path if p] + [sys.prefix, sys.base_prefix, "/dev/null", "/dev/urandom"]
    for line in events.read_text().splitlines():
        event, *paths = line.split("\t")
        for p in paths:
            real = os.path.realpath(p)
            if not any(real == a or real.startswith(a.rstrip("/") + "/") for a in allowed):
                touched.add((event, real))
    outside = {(e, p) for e, p in touched if not p.startswith(str(store.resolve()) + "/") and p != str(store.resolve())}
    assert outside == set(), outside
    assert any(p.startswith(str(store.resolve())) for _, p in touched)  # the hook did see the store
