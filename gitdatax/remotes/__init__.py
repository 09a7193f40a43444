"""Remote stores. `open_remote(url)` picks the backend from the URL (see base.py)."""
from __future__ import annotations

from gitdatax.remotes.base import (Remote, RemoteError, RemoteObjectMissing, open_remote, register, register_fallback,
                                   scheme_of)


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


def _fsspec():  # type: ignore[no-untyped-def]
    from gitdatax.remotes.fsspec_remote import FsspecRemote

    return FsspecRemote


def _fsspec_takes(scheme: str) -> bool:
    from gitdatax.remotes.fsspec_remote import fsspec_protocols

    return scheme in fsspec_protocols()


# The stores DVC reaches, by name (so that a missing package is named, not "unsupported
# scheme"); any other fsspec protocol whose package is installed through the fallback.
for _scheme in ("gs", "gcs", "az", "abfs", "abfss", "webdav", "webdavs", "hdfs", "webhdfs", "memory", "local"):
    register(_scheme, _fsspec)
del _scheme
register_fallback(_fsspec_takes, _fsspec)

__all__ = ["Remote", "RemoteError", "RemoteObjectMissing", "open_remote", "register", "scheme_of"]
