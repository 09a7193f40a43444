"""`git datax serve --stdio PATH`: the server end of the SSH remote (docs/ssh-protocol.md).

It serves the directory store at PATH (for a Git repository, its `datax/` store: `<bare>/datax` or
`<work tree>/.git/datax`), moving the compressed object files as they are. Every put is written to
tmp/, decompressed and re-hashed (ObjectStore.import_object) and only then published. Objects are
named by oid alone, and an oid that is not 64 lowercase hex is refused before any path is built, so
nothing a client sends can reach outside the store. Every failure is an E frame; a malformed frame
ends the session with exit status 1, never a traceback on the client's terminal.
"""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import BinaryIO

from gitdatax.remotes import frames
from gitdatax.errors import ConnectionClosed, CorruptObject, FatalError, ObjectMissing, ProtocolError
from gitdatax.remotes.frames import COMMAND, DATA, ERROR
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub, is_valid_oid


def store_root(path: str) -> Path | None:
    """The store directory for PATH, or None when PATH cannot be (or become) a store."""
    root = Path(os.path.expanduser(path))
    if (root / "HEAD").is_file() and (root / "objects").is_dir() and (root / "refs").is_dir():
        return root / "datax"  # a bare repository
    if (root / ".git").is_dir():
        return root / ".git" / "datax"
    if root.is_dir() or root.parent.is_dir():
        return root  # a store directory, created on the first put
    return None


def _length(f: BinaryIO, stub: Stub) -> int:
    """What `get` announces: the file's length, or for a frame made while sending the most it can
    take (the client only checks it against its own bound)."""
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return frames.compressed_bound(stub.size)


def _stub(words: list[str]) -> Stub:
    if len(words) != 3 or not is_valid_oid(words[1]) or not words[2].isdigit() or len(words[2]) > 19:
        raise _Refused("invalid-oid", f"expected `{words[0]} OID SIZE` with a 64-hex oid")
    return Stub(words[1], int(words[2]))


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")


class StdioServer:
    def __init__(self, store: ObjectStore, inp: BinaryIO, out: BinaryIO) -> None:
        self.store = store
        self.inp = inp
        self.out = out

    def send(self, kind: bytes, text: str) -> None:
        frames.write_frame(self.out, kind, text.encode())
        self.out.flush()

    def run(self) -> int:
        self.send(COMMAND, f"{frames.PROTOCOL} {frames.VERSION}")
        while True:
            try:
                kind, payload = frames.read_frame(self.inp)
            except ConnectionClosed:
                return 0
            except ProtocolError as exc:
                self.send(ERROR, f"protocol {exc}")
                return 1
            if kind != COMMAND:
                self.send(ERROR, "protocol expected a command frame")
                return 1
            text = payload.decode("utf-8", "replace")
            words = text.split("\n", 1)[0].split(" ")
            if words[0] == "quit":
                return 0
            try:
                self.dispatch(words, text)
            except _Refused as exc:
                self.send(ERROR, str(exc))
            except ProtocolError as exc:
                self.send(ERROR, f"protocol {exc}")
                return 1
            except (FatalError, OSError) as exc:
                self.send(ERROR, f"failed {' '.join(str(exc).split())}")
            except Exception as exc:  # a bug: tell the client in a frame, then stop (state unknown)
                self.send(ERROR, f"internal {type(exc).__name__}: {' '.join(str(exc).split())}")
                return 2

    def dispatch(self, words: list[str], text: str) -> None:
        command = words[0]
        if command == "version":
            if words[1:] != [str(frames.VERSION)]:
                raise _Refused("version", f"this server speaks {frames.PROTOCOL} {frames.VERSION}")
            self.send(COMMAND, "ok")
        elif command == "has-many":
            oids = text.split("\n")[1:]
            bad = [o for o in oids if not is_valid_oid(o)]
            if bad:
                raise _Refused("invalid-oid", f"{bad[0][:80]!r} is not 64 lowercase hex")
            present = [o for o in oids if self.store.has(o)]
            self.send(COMMAND, "\n".join(["ok", *present]))
        elif command in ("pack-list", "pack-read", "pack-put"):
            self.packs(command, words)
        elif command == "get":
            self.get(_stub(words))
        elif command == "get-object":  # clients that know chunk manifests (ssh_packs.py)
            self.get(_stub(words), as_stored=True)
        elif command == "put":
            self.put(_stub(words))
        else:
            raise _Refused("unknown-command", f"{command[:40]!r}")

    def packs(self, command: str, words: list[str]) -> None:
        """Chunk packs (server/stdio_packs.py): what large objects are made of."""
        from gitdatax.server import stdio_packs

        try:
            if command == "pack-list":
                self.send(COMMAND, stdio_packs.pack_list(self.store))
            elif command == "pack-read":
                stdio_packs.pack_read(self.store, words, self.out, self.send)
            else:
                stdio_packs.pack_put(self.store, self.inp, self.send)
        except stdio_packs.PackRefused as exc:
            raise _Refused(command, str(exc)) from None

    def get(self, stub: Stub, as_stored: bool = False) -> None:
        """The object file; for a client that does not ask `get-object`, a chunked object as one
        zstd frame, compressed as it is sent (such a client reads only whole-file objects)."""
        try:
            f = self.store.open_compressed(stub.oid) if as_stored else self.store.open_as_frame(stub)
        except ObjectMissing:
            raise _Refused("missing", stub.oid) from None
        with f:
            self.send(COMMAND, f"ok {_length(f, stub)}")
            while chunk := f.read(frames.DATA_CHUNK):
                frames.write_frame(self.out, DATA, chunk)
            frames.write_frame(self.out, DATA)
            self.out.flush()

    def put(self, stub: Stub) -> None:
        if self.store.has(stub.oid):
            self.send(COMMAND, "have")
            return
        self.send(COMMAND, "send")
        reader = frames.DataReader(self.inp, frames.compressed_bound(stub.size))
        try:
            self.store.import_object(reader, stub)
        except (CorruptObject, OverflowError) as exc:
            reader.drain()
            why = exc.why if isinstance(exc, CorruptObject) else str(exc)
            raise _Refused("corrupt", f"{stub.oid} {why}") from None
        except frames.Aborted as exc:
            raise _Refused("aborted", f"{stub.oid} {exc}") from None
        except OSError as exc:
            # Say why at once, then read the rest: a client that watches while it sends stops
            # there (remotes/ssh.py), an older one reads the answer after its last frame.
            self.send(ERROR, f"failed {' '.join(str(exc).split())}")
            reader.drain()
            return
        if not reader.done:
            reader.drain()
        self.send(COMMAND, "ok")


def serve_stdio(path: str) -> int:
    # The protocol owns the real stdout; anything printed by accident goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    root = store_root(path)
    if root is None:
        frames.write_frame(out, ERROR, f"not-found no repository or store directory at {path}".encode())
        out.flush()
        return 1
    try:
        return StdioServer(ObjectStore(root), inp, out).run()
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        try:
            out.close()
        except OSError:
            pass
