"""The two ways a request of `git datax serve` ends early, shared by the handler and the
endpoints it delegates to (http_chunks.py)."""
from __future__ import annotations


class ClientGone(Exception):
    """The client stopped sending before the body was complete."""


class HttpError(Exception):
    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close
