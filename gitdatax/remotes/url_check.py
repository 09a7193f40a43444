"""What `git datax remote add` checks in a URL before it is written (issue 16 item 2): a typo
is one line now, not a puzzling failure at the first push. Nothing is contacted here: a NAS or
a server may well be offline while the remote is added.

Caught: a scheme missing its `//` (`s3:/bucket` and `gs:bucket` parse as an ssh host named
`s3`), an unknown scheme (with the nearest known one), a bucket, container or host left out,
and a backend whose package is not installed (a warning: a teammate may have it).
"""
from __future__ import annotations

import difflib
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from gitdatax.errors import FatalError

# Schemes that name a bucket or container right after `//`.
BUCKET_SCHEMES = {"s3": "bucket", "gs": "bucket", "gcs": "bucket", "az": "container", "abfs": "container",
                  "abfss": "container", "oss": "bucket", "oci": "bucket"}
HOST_SCHEMES = ("http", "https", "webdav", "webdavs", "webhdfs", "ftp", "smb", "sftp")
_SCP_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(/?)([^/].*)?$")
SHOWN = "a path, s3://, gs://, az://, webdav(s)://, hdfs://, http(s):// (Git LFS), ssh://"


class UrlCheck(NamedTuple):
    scheme: str
    warning: str | None  # a reason the URL may not work on this machine, not a mistake


def known_schemes() -> set[str]:
    from gitdatax.remotes import base
    from gitdatax.remotes.fsspec_remote import fsspec_protocols

    return set(base._REGISTRY) | fsspec_protocols()


def check_url(url: str) -> UrlCheck:
    from gitdatax.remotes import scheme_of
    from gitdatax.remotes.base import backend_loader

    if not url.strip() or "\n" in url:
        raise FatalError(f"invalid URL {url!r}")
    scheme = scheme_of(url)
    typo = _SCP_LIKE.match(url)
    from gitdatax.remotes import base

    if scheme == "ssh" and typo and "@" not in url and typo.group(1).lower() in set(base._REGISTRY) - {"ssh", "file"}:
        name, rest = typo.group(1).lower(), (typo.group(3) or "")
        raise FatalError(f"remote {url}: this would be read as ssh host {typo.group(1)!r}; did you mean {name}://{rest}?")
    if backend_loader(scheme) is None:
        near = difflib.get_close_matches(scheme, sorted(known_schemes()), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}://? " if near else ""
        raise FatalError(f"remote {url}: unsupported URL scheme {scheme!r} ({hint}use {SHOWN})")
    parts = urlsplit(url)
    if scheme in BUCKET_SCHEMES and not parts.netloc:
        what = BUCKET_SCHEMES[scheme]
        raise FatalError(f"remote {url}: no {what} in the URL ({scheme}://{what.upper()}/PREFIX)")
    if scheme in HOST_SCHEMES and not parts.hostname:
        raise FatalError(f"remote {url}: no host in the URL")
    if scheme == "file":
        from gitdatax.remotes.local import path_from_url

        path_from_url(url)
    elif scheme == "ssh":
        from gitdatax.remotes.ssh import parse_ssh_url

        parse_ssh_url(url)
    return UrlCheck(scheme, _missing_package(scheme))


def _missing_package(scheme: str) -> str | None:
    """Why this machine cannot open the URL yet (the backend's package), else None."""
    if scheme == "s3":
        try:
            import boto3  # noqa: F401
        except ImportError:
            return "s3:// needs boto3 here (pip install 'gitdatax[s3]')"
        return None
    from gitdatax.remotes.fsspec_remote import fsspec_protocols, needs_package

    if scheme not in fsspec_protocols() - {"file", "http", "https", "s3", "ssh"} and scheme != "webdavs":
        return None
    try:
        import fsspec

        fsspec.get_filesystem_class("webdav" if scheme == "webdavs" else scheme)
    except ImportError:
        return f"{scheme}:// needs a package that is not installed here ({needs_package(scheme)})"
    except ValueError:
        return None
    return None
