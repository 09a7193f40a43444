"""gitdatax's Python API for deployment code: a file of a repository at a revision, streamed.

    import gitdatax.api

    with gitdatax.api.open("models/asr.bin", repo="ssh://git@host/team/asr.git", rev="asr#prod",
                           mode="rb") as f:
        load_model(f)

`repo=None` is the current repository (found from the current folder): with `rev=None` its work
tree, else that revision of it. Another repository is fetched without a clone (as `git datax
get`), into a temporary folder removed when the file is closed. `rev` is anything git resolves
there, or a model reference of the registry: `NAME@v1.2.0`, `NAME@latest`, `NAME#STAGE`.

Errors are `gitdatax.api.Error` (a path not there, an unknown revision, an unreachable
repository or data remote), with a one-line message that names what failed.
"""
from __future__ import annotations

import contextlib
from typing import IO, Any, ContextManager, Iterator

from gitdatax.errors import FatalError as Error

__all__ = ["Error", "open", "read"]


def open(path: str, repo: str | None = None, rev: str | None = None, mode: str = "r",  # noqa: A001
         encoding: str | None = None, remote: str | None = None) -> ContextManager[IO[Any]]:
    """A context manager giving a read-only file object (text for mode "r", bytes for "rb")
    that streams: memory stays bounded whatever the file's size. `remote` names the data remote
    to download from (one of `repo`'s, else of the current repository when the local store
    lacks an object); None is the default one."""
    from gitdatax.share.reader import check_mode

    check_mode(mode)  # now, not at `with`: a mistake shows where it was made
    return _opened(path, repo, rev, mode, encoding, remote)


@contextlib.contextmanager
def _opened(path: str, repo: str | None, rev: str | None, mode: str, encoding: str | None,
            remote: str | None) -> Iterator[IO[Any]]:
    from gitdatax.share.reader import open_file

    f = open_file(path, repo, rev, mode, encoding, remote)
    try:
        yield f  # type: ignore[misc]
    finally:
        f.close()


def read(path: str, repo: str | None = None, rev: str | None = None, mode: str = "r",
         encoding: str | None = None, remote: str | None = None) -> Any:
    """The whole content: str for mode "r", bytes for "rb"."""
    with open(path, repo=repo, rev=rev, mode=mode, encoding=encoding, remote=remote) as f:
        return f.read()
