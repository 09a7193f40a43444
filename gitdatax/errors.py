"""The two kinds of failure: ones the user can fix (one line, exit 1) and bugs (exit 2, logged)."""
from __future__ import annotations

import errno

# An OSError with one of these says the machine, not gitdatax, is at fault: a full or read-only
# disk, a file size limit, a permission, a failing device. It is reported like a FatalError.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                                errno.EPERM, errno.EIO})

import os


class FatalError(Exception):
    """A problem the user can fix. The message is one line, printed as is; exit status 1."""


class ProtocolError(Exception):
    """The other end of a pipe broke its protocol (git's pkt-lines to the filter, the frames
    between the ssh client and `serve --stdio`): the stream cannot be trusted any more."""


class ConnectionClosed(ProtocolError):
    """The other end closed the pipe (at a frame's boundary, or inside one)."""

    def __init__(self) -> None:
        super().__init__("connection closed")


class NoRemoteConfigured(FatalError):
    """No remote store is configured and none can be derived: nothing to fetch from, which is no
    news to report once per file (each file's own message says it)."""


class GitError(FatalError):
    """A git command failed. Carries the command, its exit code and its output."""

    def __init__(self, cmd: list[str], returncode: int, stderr: str) -> None:
        self.cmd = cmd
        self.returncode = returncode
        self.stderr = stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"`{' '.join(cmd)}` exited {returncode}: {detail}")


class NotARepository(FatalError):
    def __init__(self) -> None:
        super().__init__("not in a git repository (run this inside a work tree)")


class NotAWorkTree(FatalError):
    """In a repository, but in a bare one or inside its git directory."""

    def __init__(self, git_dir: object, bare: bool) -> None:
        if bare:
            super().__init__(f"{git_dir} is a bare repository: this command needs a work tree (run it in a clone)")
        else:
            super().__init__(f"not in the work tree: run this in {os.path.dirname(str(git_dir))}, "
                             "not inside its git directory")


class InvalidOid(FatalError):
    def __init__(self, oid: str) -> None:
        shown = oid if len(oid) <= 80 else oid[:77] + "..."
        super().__init__(f"invalid object id {shown!r}: expected 64 lowercase hex digits")


class ObjectMissing(FatalError):
    def __init__(self, oid: str) -> None:
        self.oid = oid
        super().__init__(f"object {oid} is not in the local store")


class CorruptObject(FatalError):
    def __init__(self, oid: str, why: str) -> None:
        self.oid = oid
        self.why = why
        super().__init__(f"object {oid} is corrupt in the store ({why})")


def environment_problem(exc: BaseException) -> str | None:
    """The one line for an OSError the user must fix (see ENVIRONMENT_ERRNOS); None otherwise."""
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"the file system refused: {exc.strerror}{where}"
    return None


class MissingGitObject(FatalError):
    """An object git was asked for is not in the repository (a corrupt or shallow clone)."""

    def __init__(self, rev: str) -> None:
        self.rev = rev
        super().__init__(f"object {rev} is missing from the repository (run `git fsck`)")
