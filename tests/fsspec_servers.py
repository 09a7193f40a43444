"""Real servers for the fsspec backend, each on 127.0.0.1 with a fresh, empty store:
WebDAV (wsgidav, a WSGI WebDAV server, under cheroot), Google Cloud Storage (gcp-storage-emulator,
the JSON API) and Azure Blob Storage (Azurite, Microsoft's emulator, from npm). `./install.sh
--dev` installs all three. Each fixture yields a StoreServer: the remote URL to add, the
environment a user of that store would have (it reaches the git-datax processes the tests
start), the per-user git config options, and a way to list the keys the store holds."""
from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import pytest

from s3server import free_port

AZURITE_VERSION = "3.35.0"  # the last one that runs on Node 20 (3.36 needs Node 22)


class StoreServer(NamedTuple):
    url: str  # the remote URL, with the prefix "team"
    env: dict[str, str]  # what a user of this store has in the environment
    options: dict[str, str]  # per-user options (git config datax.remote.NAME.KEY)
    keys: Callable[[], set[str]]  # the object keys under the prefix, "team/objects/ab/cd/<oid>"


def wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds} s")


def _start(cmd: list[str], port: int, what: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        wait_for_port(port, proc, what)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _files_under(root: Path, prefix: str = "team") -> set[str]:
    base = root / prefix / "objects"
    return {f"{prefix}/objects/{p.relative_to(base).as_posix()}" for p in base.rglob("*") if p.is_file()} \
        if base.is_dir() else set()


@pytest.fixture
def webdav_server(tmp_path: Path) -> Iterator[StoreServer]:
    root = tmp_path / "dav-root"
    root.mkdir()
    port = free_port()
    proc = _start(["wsgidav", "--host", "127.0.0.1", "--port", str(port), "--root", str(root),
                   "--auth", "anonymous", "--server", "cheroot", "-q"], port, "wsgidav")
    try:
        yield StoreServer(f"webdav://127.0.0.1:{port}/team", {}, {}, lambda: _files_under(root))
    finally:
        _stop(proc)


@pytest.fixture
def gcs_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StoreServer]:
    import requests

    port = free_port()
    proc = _start(["gcp-storage-emulator", "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
                  port, "gcp-storage-emulator")
    endpoint = f"http://127.0.0.1:{port}"
    # gcsfs's default class asks for the bucket's type over gRPC, which no emulator speaks
    # (a minute's timeout per bucket); its plain JSON-API class is what the emulator serves.
    env = {"STORAGE_EMULATOR_HOST": endpoint, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        requests.post(f"{endpoint}/storage/v1/b?project=test", json={"name": "datax-test"}, timeout=10).raise_for_status()

        def keys() -> set[str]:
            listing = requests.get(f"{endpoint}/storage/v1/b/datax-test/o", params={"prefix": "team/objects/"},
                                   timeout=10).json()
            return {item["name"] for item in listing.get("items", [])}

        # token=anon: no Google credentials are looked for (nor the metadata server asked).
        yield StoreServer("gs://datax-test/team", env, {"token": "anon", "project": "test"}, keys)
    finally:
        _stop(proc)


# Where `./install.sh --dev` puts Azurite (read at import, before the tests' own HOME is set).
_AZURITE_DIRS = (Path("/opt/gitdatax-tests/azurite"),
                 Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitdatax-tests" / "azurite")


def azurite_program() -> str:
    """azurite-blob as `./install.sh --dev` installs it (or one on PATH)."""
    for candidate in (d / "node_modules" / ".bin" / "azurite-blob" for d in _AZURITE_DIRS):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("azurite-blob")
    if found is None:
        raise RuntimeError("azurite-blob is not installed: run ./install.sh --dev (npm install azurite)")
    return found


@pytest.fixture
def azure_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StoreServer]:
    port = free_port()
    account, key = "gitdatax", base64.b64encode(os.urandom(32)).decode()
    proc = _start([azurite_program(), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
                   "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"],
                  port, "azurite", env={"AZURITE_ACCOUNTS": f"{account}:{key}"}, cwd=tmp_path)
    connection = (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
                  f"BlobEndpoint=http://127.0.0.1:{port}/{account};")
    env = {"AZURE_STORAGE_CONNECTION_STRING": connection}
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    try:
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(connection)
        service.create_container("datax-test")
        container = service.get_container_client("datax-test")

        def keys() -> set[str]:
            return {b.name for b in container.list_blobs(name_starts_with="team/objects/")}

        yield StoreServer("az://datax-test/team", env, {}, keys)
    finally:
        _stop(proc)
