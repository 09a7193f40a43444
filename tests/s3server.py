"""An S3 server for the tests: moto in server mode on 127.0.0.1, reached through boto3 with
endpoint_url, exactly as a user reaches MinIO or Ceph."""
from __future__ import annotations

import socket
from typing import Iterator, NamedTuple

import pytest


class S3Server(NamedTuple):
    endpoint: str
    bucket: str

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def url(self, prefix: str = "team") -> str:
        return f"s3://{self.bucket}/{prefix}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """A fresh moto server with one empty bucket, and test credentials in the environment (they
    reach the git-datax processes the tests start)."""
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # moto keeps its state per Python process, not per server: start from nothing.
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"),
                               timeout=10).close()
        s3 = S3Server(f"http://127.0.0.1:{port}", "datax-test")
        s3.client().create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        server.stop()
