"""Who may use `git datax serve`: HTTP Basic against a file of users with scrypt-hashed passwords,
and short-lived tokens for the object URLs the batch API hands out.

The auth file has one user a line (`#` starts a comment):

    NAME:ROLE:scrypt$N$r$p$SALT$HASH

ROLE is `rw` (download and upload) or `ro` (download only); SALT and HASH are base64. Create
entries with `git datax serve --auth-file FILE --add-user NAME [--read-only]` (password on stdin
or prompted). The file is re-read when it changes, so users can be added to a running server.

Checking a password costs ~50 ms of scrypt on purpose; a successful check is remembered for a few
minutes under an HMAC of the header (never the password itself), so a busy client does not pay
it on every request. Object URLs carry no credential: the batch answer gives each action an
`Authorization: Bearer` header holding a token signed with a key that lives only in this process,
valid for one operation on one object for an hour.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import NamedTuple

from gitdatax.errors import FatalError
from gitdatax.files import write_atomically

NAME_RE = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
CACHE_SECONDS = 300.0
TOKEN_SECONDS = 3600


class User(NamedTuple):
    name: str
    read_only: bool


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        kind, n, r, p, salt, digest = encoded.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt, validate=True),
                             n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=128 << 20)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, expected)


def parse_file(path: Path) -> dict[str, tuple[bool, str]]:
    """name -> (read_only, encoded hash). Raises FatalError naming the line that is wrong."""
    users: dict[str, tuple[bool, str]] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FatalError(f"auth file {path} does not exist (create it with --add-user NAME)") from None
    except OSError as exc:
        raise FatalError(f"auth file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not NAME_RE.fullmatch(parts[0]) or parts[1] not in ("rw", "ro") \
                or not parts[2].startswith("scrypt$"):
            raise FatalError(f"auth file {path}, line {number}: expected NAME:rw|ro:scrypt$... "
                             "(made by `git datax serve --add-user`)")
        users[parts[0]] = (parts[1] == "ro", parts[2])
    return users


def add_user(path: Path, name: str, password: str, read_only: bool) -> bool:
    """Add or replace one user; True when the user was new. Written atomically, mode 0600."""
    if not NAME_RE.fullmatch(name):
        raise FatalError(f"bad user name {name!r}: use letters, digits and . _ @ + - (at most 64)")
    if not password:
        raise FatalError("empty password refused")
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(":", 1)[0] != name]
    kept.append(f"{name}:{'ro' if read_only else 'rw'}:{hash_password(password)}")
    write_atomically(path, "\n".join(kept) + "\n", mode=0o600)
    return len(kept) == len(lines) + 1


class Authenticator:
    """Checks Basic credentials against the auth file, and issues and checks object tokens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key = secrets.token_bytes(32)  # tokens die with the process, by design
        self._lock = threading.Lock()
        self._users: dict[str, tuple[bool, str]] = {}
        self._stamp: tuple[float, int] | None = None
        self._cache: dict[bytes, tuple[User, float]] = {}
        self._reload()

    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except OSError:
            st = None
        stamp = (st.st_mtime, st.st_size) if st else None
        if stamp != self._stamp or st is None:
            users = parse_file(self.path)
            with self._lock:
                self._users, self._stamp, self._cache = users, stamp, {}

    def basic(self, header: str) -> User | None:
        """The user an `Authorization: Basic ...` header proves, or None."""
        try:
            self._reload()
        except FatalError:
            return None  # a broken file while the server runs: nobody gets in until it is fixed
        key = hmac.new(self._key, header.encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[1] > now:
            return cached[0]
        try:
            decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
        except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
            return None
        name, sep, password = decoded.partition(":")
        entry = self._users.get(name)
        if not sep or entry is None or not check_password(password, entry[1]):
            return None
        user = User(name, entry[0])
        with self._lock:
            self._cache[key] = (user, now + CACHE_SECONDS)
        return user

    def token(self, user: User, operation: str, oid: str) -> str:
        expires = int(time.time()) + TOKEN_SECONDS
        body = f"{expires}.{operation}.{oid}.{user.name}"
        sig = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{sig}"

    def check_token(self, token: str, operation: str, oid: str) -> User | None:
        parts = token.split(".")
        if len(parts) < 5:
            return None
        body, sig = ".".join(parts[:-1]), parts[-1]
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, expected):
            return None
        expires, op, token_oid, name = parts[0], parts[1], parts[2], ".".join(parts[3:-1])
        if op != operation or token_oid != oid or not expires.isdigit() or int(expires) < time.time():
            return None
        return User(name, operation == "download")
