"""Remote stores. `open_remote(url)` picks the backend from the URL (see base.py)."""
from __future__ import annotations

from gitdatax.remotes.base import Remote, RemoteError, RemoteObjectMissing, open_remote, register, scheme_of


def _local():  # type: ignore[no-untyped-def]
    from gitdatax.remotes.local import DirectoryRemote

    return DirectoryRemote


def _s3():  # type: ignore[no-untyped-def]
    from gitdatax.remotes.s3 import S3Remote

    return S3Remote


register("file", _local)
register("s3", _s3)


def _lfs_http():  # type: ignore[no-untyped-def]
    from gitdatax.remotes.lfs_http import LfsHttpRemote

    return LfsHttpRemote


def _ssh():  # type: ignore[no-untyped-def]
    from gitdatax.remotes.ssh import SshRemote

    return SshRemote


register("http", _lfs_http)
register("https", _lfs_http)
register("ssh", _ssh)

__all__ = ["Remote", "RemoteError", "RemoteObjectMissing", "open_remote", "register", "scheme_of"]
