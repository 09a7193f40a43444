"""Replacing a file all at once: a reader, a crash or a second writer never sees half of it.

The one way gitdatax writes a file it replaces (.gitattributes, .datax.toml, hooks, locks,
caches, restored outputs): the bytes go to a temporary file of a unique name beside the target
(two writers never share one, as a fixed `NAME.datax-tmp` did), are flushed to the disk, then
renamed over the target (os.replace, atomic on POSIX). On any failure the temporary file goes
and the target is as it was.
"""
from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path
from typing import Callable, Iterable

_COUNTER = itertools.count()


def write_atomically(path: str | os.PathLike[str], data: bytes | str | Iterable[bytes], *, mode: int | None = None,
                     durable: bool = True, verify: Callable[[], None] | None = None) -> None:
    """Replace `path` with `data` (bytes, text as UTF-8, or chunks streamed as they come).
    `mode`: exactly these permissions (0o600 for a secret, 0o755 for a hook); by default a new
    file's, 0o666 less the umask.
    `durable`: fsync before the rename, so a power cut leaves the old file or the new one
    (caches that are rebuilt anyway may skip it). `verify` is called once everything is written
    and may raise to keep the old file (a download whose hash turned out wrong)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}-{next(_COUNTER)}.datax-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            if isinstance(data, str):
                data = data.encode("utf-8")
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if verify is not None:
            verify()
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

