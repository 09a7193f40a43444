"""Remote stores. `open_remote(url)` picks the backend from the URL (see base.py)."""
from __future__ import annotations

from gitdatax.remotes.base import Remote, RemoteError, open_remote, register, scheme_of


def _local():  # type: ignore[no-untyped-def]
    from gitdatax.remotes.local import DirectoryRemote

    return DirectoryRemote


register("file", _local)

__all__ = ["Remote", "RemoteError", "open_remote", "register", "scheme_of"]
