"""The body of an S3 GET, read to its announced length, resumed with Range when it is cut.

botocore's StreamingBody checks the length only when a read returns nothing, and from botocore
1.44 urllib3's own check is off (`enforce_content_length=False`): a connection cut mid-body then
reads as a clean end of the object, and the short file fails verification as "corrupt" (issue 11,
item 8). So the length is counted here, against the response's ContentLength: a short end, or an
error from the stream, asks S3 for the rest (`Range: bytes=N-`, `If-Match` the first answer's
ETag, so a replaced object is never spliced onto the old one's start) and goes on reading.
"""
from __future__ import annotations

import http.client
from typing import Any, Callable

from gitdatax.remotes.base import RemoteError, Tries

READ_SIZE = 1 << 20


def _stream_errors() -> tuple[type[BaseException], ...]:
    """What a cut connection raises from inside a body read (botocore wraps some, not all)."""
    import botocore.exceptions as bx
    import urllib3.exceptions

    return (bx.IncompleteReadError, bx.ResponseStreamingError, bx.ReadTimeoutError, bx.ConnectionError,
            urllib3.exceptions.HTTPError, http.client.HTTPException, ConnectionError, TimeoutError)


class ResumingBody:
    """A read-only stream over S3's answer to get_object that yields exactly ContentLength bytes.

    `get_range(start, etag)` makes the follow-up request (get_object with Range and IfMatch);
    `describe(exc)` turns a botocore error of that request into a RemoteError. Each resume
    spends a try of `tries`, the budget of the download (RetryPolicy)."""

    def __init__(self, response: dict[str, Any], get_range: Callable[[int, str | None], dict[str, Any]],
                 describe: Callable[[Exception], Exception], what: str, tries: Tries) -> None:
        self.body = response["Body"]
        self.expected = int(response.get("ContentLength") or 0)
        self.etag = response.get("ETag")
        self.get_range = get_range
        self.describe = describe
        self.what = what
        self.tries = tries
        self.received = 0
        self.resumes = 0
        self._errors = _stream_errors()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:  # the whole rest, as io's read(-1)
            parts = []
            while chunk := self.read(READ_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        while True:
            if self.received >= self.expected:
                return b""
            want = min(n, self.expected - self.received)
            try:
                data = self.body.read(want)
            except self._errors:
                data = b""  # cut: resume below
            if data:
                self.received += len(data)
                return data
            self._resume()

    def _resume(self) -> None:
        """Ask for the bytes not yet received, after the policy's pause."""
        self.resumes += 1
        self._close_body()
        if not self.tries.spend():
            raise RemoteError(f"{self.what}: the connection was cut {self.resumes} times "
                              f"({self.received} of {self.expected} bytes received); nothing was stored")
        try:
            response = self.get_range(self.received, self.etag)
        except Exception as exc:  # noqa: BLE001 - mapped to one line
            error = self.describe(exc)
            if isinstance(error, RemoteError) and error.transient:
                return self._resume()  # the follow-up request itself failed: one more cut
            raise error from None
        content_range = str(response.get("ContentRange") or "")
        if not (content_range.startswith(f"bytes {self.received}-") and content_range.endswith(f"/{self.expected}")):
            response["Body"].close()
            raise RemoteError(f"{self.what}: S3 answered a resumed request with Content-Range "
                              f"{content_range[:60]!r}, not bytes {self.received}-.../{self.expected}")
        self.body = response["Body"]

    def _close_body(self) -> None:
        try:
            self.body.close()
        except Exception:  # noqa: BLE001 - the connection is already gone
            pass

    def close(self) -> None:
        self._close_body()

    def __enter__(self) -> ResumingBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
