"""HTTP for the Git LFS remote: what a retry may cure (connection errors, 5xx, 429 and 503 with
their Retry-After), manual redirects that never carry credentials to another origin, and
credentials from Git's helpers after a 401. The retries themselves are the transfer layer's
(remotes.base.RetryPolicy): a request here is sent once.

Credentials go only to the LFS endpoint's own origin (scheme, host, port), and only on API
requests; action requests carry just the headers the server put in the action, which are dropped
on a redirect to another origin. Error messages never include a URL's query (pre-signed hrefs)
or any header value.
"""
from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urljoin, urlsplit

from gitdatax.remotes import credentials
from gitdatax.remotes.base import DeadEndpoint, RemoteError, RetryPolicy, SilentEndpoint

if TYPE_CHECKING:
    import requests

LFS_JSON = "application/vnd.git-lfs+json"
MAX_REDIRECTS = 5
# Server errors that sending the same request again cannot cure: not implemented, and
# insufficient storage (each retry of an upload would send the whole object again).
FINAL_5XX = (501, 505, 507)
RETRY_AFTER_CAP = 60.0  # seconds; a server asking for longer gets an error instead


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _why(exc: BaseException) -> str:
    """A connection failure in words, without the URL (action hrefs may carry tokens)."""
    text = str(exc)
    for needle, words in (("Connection refused", "connection refused"), ("timed out", "timed out"),
                          ("Name or service not known", "host not found"),
                          ("nodename nor servname", "host not found"),
                          ("IncompleteRead", "connection closed early"),
                          ("Connection reset", "connection reset"),
                          ("RemoteDisconnected", "connection closed by the server")):
        if needle in text:
            return words
    return type(exc).__name__


class HttpSession:
    """One requests.Session shared by the transfer threads, with the remote's credentials."""

    def __init__(self, url: str, endpoint: str, cred: credentials.Credential | None, retry: RetryPolicy) -> None:
        self.url = url  # for messages: already redacted
        self.endpoint = endpoint
        self.retry = retry
        self.timeout = retry.timeout
        self._cred = cred
        self._cred_from_helper = False
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        # Why the server could not be reached once one unit of work spent its tries on it: then
        # every later request fails at its first error, and a clone of thousands of files with
        # the server down costs one round of retries, not one per file.
        self._dead: DeadEndpoint[str] = DeadEndpoint(after=retry.tries)
        # ... and once requests have waited one object's tries in all on a server that accepts
        # connections but answers none (a hung process behind it), the same.
        self._silent = SilentEndpoint(retry.tries * retry.timeout)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def session(self) -> "requests.Session":
        if self._session is None:
            import requests  # lazy: the filter process and hooks start faster without it

            session = requests.Session()
            session.headers["User-Agent"] = "gitdatax"
            self._session = session
        return self._session

    def _retry_after(self, value: str) -> float | None:
        """Seconds the server asks us to wait; a wait over the cap is an error now instead."""
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None  # unreadable: the policy's backoff
        if seconds > RETRY_AFTER_CAP:
            raise RemoteError(f"remote {self.url}: server busy, asks to retry in {seconds:.0f}s")
        return max(0.0, seconds)

    def send(self, method: str, url: str, *, api: bool, headers: dict[str, str] | None = None,
              body: Callable[[], Any] | None = None, json: Any = None, stream: bool = False,
              what: str) -> "requests.Response":
        """One request, with manual redirects and (api requests only) credentials. A failure a
        retry may cure raises a transient RemoteError."""
        import requests

        asked_credentials = False
        redirects = 0
        target = url
        extra = dict(headers or {})
        while True:
            send_headers = dict(extra)
            auth = None
            if api:
                send_headers.setdefault("Accept", LFS_JSON)
                if json is not None:
                    send_headers["Content-Type"] = LFS_JSON
                if self._cred is not None and _origin(target) == _origin(self.endpoint):
                    auth = (self._cred.username, self._cred.password)
            if self._silent.reason is not None:
                raise RemoteError(f"remote {self.url}: {what}: {self._silent.reason}")
            # Only requests without a streamed body are timed: an upload hears nothing while it
            # sends, however alive the server (every upload starts with a timed batch request).
            timed = body is None
            if timed:
                self._silent.begin()
            try:
                response = self.session.request(
                    method, target, headers=send_headers, auth=auth, json=json,
                    data=body() if body is not None else None, stream=stream,
                    allow_redirects=False, timeout=(min(self.timeout, 30), self.timeout),
                )
            except ValueError:  # InvalidURL and kin, also for a redirect's Location (requests parses it
                # even when not following): never shown, it may hold tokens
                raise RemoteError(f"remote {self.url}: {what}: the server gave a malformed URL") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                # A refused or reset connection counts against the server, one slow answer not;
                # once a unit of work has spent its tries on it, no more tries
                refused = isinstance(exc, requests.ConnectionError)
                dead = self._dead.failed(_why(exc)) if refused else self._dead.reason is not None
                why = self._dead.reason if dead else _why(exc)
                if timed and not refused and not dead and \
                        self._silent.timed_out(f"no answer in {self.timeout:g} s") is not None:
                    raise RemoteError(f"remote {self.url}: {what}: {self._silent.reason}") from None
                raise RemoteError(f"remote {self.url}: {what}: cannot connect ({why})", transient=not dead) from None
            finally:
                if timed:
                    self._silent.end()
            self._silent.heard()
            self._dead.succeeded()
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                response.close()
                redirects += 1
                location = urljoin(target, response.headers["Location"])
                if redirects > MAX_REDIRECTS or urlsplit(location).scheme not in ("http", "https"):
                    raise RemoteError(f"remote {self.url}: {what}: too many or bad redirects")
                if _origin(location) != _origin(target):
                    if api:
                        raise RemoteError(
                            f"remote {self.url}: {what}: redirected to another host "
                            f"({credentials.redact(location)}); refusing to send credentials there")
                    extra = {}  # action headers carry the server's tokens: never to another origin
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, json, body = "GET", None, None
                target = location
                continue
            if status == 401 and api and not asked_credentials:
                response.close()
                asked_credentials = True
                self._get_credentials(target)
                continue
            if status == 401 and api and self._cred is not None and self._cred_from_helper:
                credentials.reject(self.endpoint, self._cred)
                self._cred = None
                self._cred_from_helper = False
            if status in (429, 503) or (500 <= status < 600 and status not in FINAL_5XX):
                after = response.headers.get("Retry-After") if status in (429, 503) else None
                response.close()
                raise RemoteError(f"remote {self.url}: {what}: server error (HTTP {status})", transient=True,
                                  retry_after=self._retry_after(after) if after else None)
            if api and 200 <= status < 300 and self._cred is not None and self._cred_from_helper and asked_credentials:
                credentials.approve(self.endpoint, self._cred)
            return response

    def _get_credentials(self, url: str) -> None:
        with self._lock:
            sent = self._cred  # from the URL: the server has just refused them
            cred = credentials.fill(self.endpoint, self._cred.username if self._cred else None)
            if cred is None and sent is not None:
                raise RemoteError(f"remote {self.url}: the server rejected the credentials (HTTP 401) for user "
                                  f"{sent.username!r}, and git's credential helpers have no others")
            if cred is None:
                raise RemoteError(f"remote {self.url}: the server requires authentication and "
                                  "no credentials came from git's credential helpers")
            self._cred = cred
            self._cred_from_helper = True

    def error(self, response: "requests.Response", what: str) -> RemoteError:
        message = ""
        try:
            payload = response.json()
            if isinstance(payload, dict) and isinstance(payload.get("message"), str):
                message = ": " + " ".join(payload["message"].split())[:200]
        except ValueError:
            pass
        finally:
            response.close()
        status = response.status_code
        if status == 401:
            return RemoteError(f"remote {self.url}: {what}: the server rejected the credentials (HTTP 401){message}")
        if status == 403:
            return RemoteError(f"remote {self.url}: {what}: access denied (HTTP 403){message}")
        if status == 404:
            return RemoteError(f"remote {self.url}: {what}: not found (HTTP 404){message}; is the URL right?")
        return RemoteError(f"remote {self.url}: {what}: HTTP {status}{message}")

    # -- batch API -------------------------------------------------------------------------

