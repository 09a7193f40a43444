"""What the reliability benchmarks share: a pinned environment, the scaled-down workload and its
truth (SHA-256 of every file), and checks that trust nothing gitdatax says about itself.

Every check here reads bytes: an object file is decompressed with zstandard and its SHA-256
compared with its name; a work tree file is hashed and compared with the workload's truth.
`git datax fsck` is run too (its exit code is reported), but no figure depends on it alone.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen_data import write_clips, write_csv, write_model  # noqa: E402

STUB_HEAD = b"version gitdatax/1\n"
TRACKED = ("*.bin", "*.csv", "clips/**")


def make_env(home: Path) -> dict[str, str]:
    """A fresh HOME with only `git datax install --global` in it; PYTHONPATH passes through, so
    `PYTHONPATH=CLONE python3 benchmarks/...` measures that clone's code."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b.invalid", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@b.invalid", GIT_TERMINAL_PROMPT="0",
               GIT_DATAX_MANDIR=str(home / "man"))
    for key, value in (("init.defaultBranch", "main"), ("advice.detachedHead", "false")):
        run(["git", "config", "--global", key, value], home, env)
    run(["git-datax", "install", "--global", "--skip-hooks"], home, env)
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str], *, check: bool = True,
        timeout: float = 300, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env={**env, **(extra or {})}, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} (in {cwd}) exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def generate(out: Path, version: int, big_mib: int, n_small: int) -> None:
    """The standard workload's shape (benchmarks/gen_data.py), scaled down."""
    out.mkdir(parents=True, exist_ok=True)
    write_model(str(out / "model.bin"), big_mib, 100 + version)
    write_csv(str(out / "train.csv"), big_mib, 200 + version)
    write_clips(str(out / "clips"), n_small, 32, 300 + version)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def truth_of(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under `folder`."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            full = Path(root) / name
            out[str(full.relative_to(folder))] = sha256_file(full)
    return out


def copy_tree(source: Path, target: Path) -> None:
    """A copy of a trial's template. Files under an `objects/` folder (git's and the stores') are
    hard-linked: both are written once under a new name and never changed in place, and gc and
    fsck only unlink or rename them; everything else is copied, so a trial never reaches into
    its template."""
    def link_or_copy(src: str, dst: str) -> object:
        if f"{os.sep}objects{os.sep}" in src:
            try:
                os.link(src, dst)
                return dst
            except OSError:
                pass
        return shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy)


class StoreCheck(NamedTuple):
    intact: set[str]  # oids whose object file decompresses to bytes with that SHA-256
    corrupt: set[str]
    tmp_files: int  # what interrupted writes left in tmp/ (gc removes them)


def check_store(root: Path) -> StoreCheck:
    """Decompress and re-hash every object under root/objects (a local or a directory store)."""
    import zstandard

    intact, corrupt = set(), set()
    objects = root / "objects"
    for dirpath, _, files in os.walk(objects):
        for name in files:
            h = hashlib.sha256()
            try:
                with open(Path(dirpath) / name, "rb") as f:
                    if f.read(8) == CHUNK_MANIFEST:  # a chunked object: its bytes come from chunks/
                        for chunk in _chunked_content(root, name, f):
                            h.update(chunk)
                    else:
                        f.seek(0)
                        reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=False)
                        while chunk := reader.read(1 << 20):
                            h.update(chunk)
            except Exception:  # noqa: BLE001 - unreadable in any way: corrupt
                corrupt.add(name)
                continue
            (intact if h.hexdigest() == name else corrupt).add(name)
    tmp = root / "tmp"
    tmp_files = len(os.listdir(tmp)) if tmp.is_dir() else 0
    return StoreCheck(intact, corrupt, tmp_files)


CHUNK_MANIFEST = b"GDXCHNK1"  # store/manifest.py: a list of content-defined chunks


def _chunked_content(root: Path, oid: str, f: object) -> Iterator[bytes]:
    """The bytes of a chunked object, read through the store's own reader (the layout of chunks
    and packs is the store's); the SHA-256 is still computed here, by the caller."""
    from gitdatax.store.objectstore import ObjectStore
    from gitdatax.store.manifest import HEAD
    from gitdatax.stub import Stub

    f.seek(8)  # type: ignore[attr-defined]
    size, _ = HEAD.unpack(f.read(HEAD.size))  # type: ignore[attr-defined]
    return ObjectStore(root).iter_content(Stub(oid, size))


class TreeCheck(NamedTuple):
    good: int
    stubs: int  # files that still hold the right stub (data not filled in yet): not corrupt
    corrupt: list[str]  # files whose bytes are neither the truth nor its stub


def check_work_tree(top: Path, truth: dict[str, str]) -> TreeCheck:
    good = stubs = 0
    corrupt = []
    for rel, oid in truth.items():
        path = top / rel
        try:
            if path.stat().st_size < 1024:
                data = path.read_bytes()
                if data.startswith(STUB_HEAD) and f"oid sha256:{oid}\n".encode() in data:
                    stubs += 1
                    continue
            if sha256_file(path) == oid:
                good += 1
                continue
        except OSError:
            pass
        corrupt.append(rel)
    return TreeCheck(good, stubs, corrupt)


def lost_objects(needed: set[str], *stores: Path) -> set[str]:
    """The needed oids held intact by none of the stores."""
    held: set[str] = set()
    for store in stores:
        held |= check_store(store).intact
    return needed - held
