"""Time the server's pre-receive hook on a big history (issue 4's target).

Builds, with one `git fast-import` (seconds, not 10,000 `git commit`s), a bare repository of
--commits commits holding --stubs gitdatax stubs (5 per commit by default, in 100 directories),
runs `git datax install --server` on it, then pushes one new commit adding 5 stubs from a clone:
once with the data in the server's store (accepted) and once with one object missing (refused).
The hook's own time is read from git's trace2 events (`child_exit` of the pre-receive child), so
it excludes the pack transfer. The objects of the old stubs are not in the store: the hook must
never look at them, which is the point being measured.

    python3 benchmarks/pre_receive.py [--commits 10000] [--stubs 50000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitdatax.store.objectstore import ObjectStore  # noqa: E402
from gitdatax.stub import Stub  # noqa: E402


def git(*args: str, cwd: Path | None = None, input: bytes | None = None,
        env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    if check and proc.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc


def fake_stub(n: int) -> bytes:
    return Stub(hashlib.sha256(b"object %d" % n).hexdigest(), 1000 + n).encode()


def history_stream(commits: int, stubs: int) -> bytes:
    """A fast-import stream: each commit adds stubs/commits stubs and rewrites a code file."""
    per_commit = max(1, stubs // commits)
    dirs = 100
    out = []
    n = 0
    for c in range(commits):
        out.append(b"commit refs/heads/main\n")
        out.append(b"committer Bench <bench@example.invalid> %d +0000\n" % (1_600_000_000 + c))
        msg = b"step %d\n" % c
        out.append(b"data %d\n%s" % (len(msg), msg))
        code = b"STEP = %d\n" % c
        out.append(b"M 100644 inline src/train.py\ndata %d\n%s\n" % (len(code), code))
        if c == 0:
            attrs = b"*.bin filter=datax diff=datax merge=datax -text\n"
            out.append(b"M 100644 inline .gitattributes\ndata %d\n%s\n" % (len(attrs), attrs))
        for _ in range(per_commit):
            body = fake_stub(n)
            path = b"data/shard%03d/item%06d.bin" % (n % dirs, n)
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(body), body))
            n += 1
    return b"".join(out)


def new_commit_stream(parent: str, contents: list[bytes]) -> tuple[bytes, list[Stub]]:
    stubs = [Stub(hashlib.sha256(c).hexdigest(), len(c)) for c in contents]
    out = [b"commit refs/heads/main\n", b"committer Bench <bench@example.invalid> 1700000000 +0000\n",
           b"data 11\nnew models\n", b"from %s\n" % parent.encode()]
    for i, s in enumerate(stubs):
        body = s.encode()
        out.append(b"M 100644 inline models/new%d.bin\ndata %d\n%s\n" % (i, len(body), body))
    return b"".join(out), stubs


def hook_seconds(trace: Path) -> float:
    """The pre-receive child's run time, from a trace2 event file."""
    hook_ids = set()
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "child_start" and event.get("hook_name") == "pre-receive":
            hook_ids.add((event["sid"], event["child_id"]))
        elif event.get("event") == "child_exit" and (event["sid"], event["child_id"]) in hook_ids:
            return float(event["t_rel"])
    raise SystemExit(f"no pre-receive child in {trace}: is git >= 2.36 and the hook installed?")


def push(client: Path, server: Path, env: dict[str, str], trace: Path) -> tuple[int, float, float, str]:
    trace.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = git("push", "-q", str(server), "main", cwd=client, env={**env, "GIT_TRACE2_EVENT": str(trace)}, check=False)
    wall = time.perf_counter() - start
    return proc.returncode, wall, hook_seconds(trace), proc.stderr.decode(errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--stubs", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="build in this directory and keep it")
    args = parser.parse_args()
    if shutil.which("git-datax") is None:
        sys.exit("git-datax is not on PATH (pip install -e . first)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="datax-prereceive-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", XDG_CONFIG_HOME=str(home / ".config"))
    try:
        server = work / "server.git"
        client = work / "client.git"
        for repo in (server, client):
            shutil.rmtree(repo, ignore_errors=True)
        start = time.perf_counter()
        git("init", "-q", "--bare", "-b", "main", str(server), env=env)
        git("fast-import", "--quiet", cwd=server, input=history_stream(args.commits, args.stubs), env=env)
        git("clone", "-q", "--bare", str(server), str(client), env=env)
        built = time.perf_counter() - start
        count = git("rev-list", "--count", "main", cwd=server, env=env).stdout.decode().strip()
        print(f"built {count} commits, {args.stubs} stubs in {built:.1f} s ({server})")
        proc = subprocess.run(["git-datax", "install", "--server"], cwd=server, env=env, capture_output=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr.decode())
        store = ObjectStore(server / "datax")

        parent = git("rev-parse", "main", cwd=client, env=env).stdout.decode().strip()
        contents = [os.urandom(4096) for _ in range(5)]
        stream, stubs = new_commit_stream(parent, contents)
        git("fast-import", "--quiet", "--force", cwd=client, input=stream, env=env)
        for data in contents[:-1]:  # all but one object uploaded: the push must be refused
            store.put_bytes(data)
        code, wall, hook, err = push(client, server, env, work / "trace-refused.json")
        if code == 0 or stubs[-1].oid not in err:
            sys.exit(f"the push with a missing object was not refused as expected:\n{err}")
        print(f"refused push (1 of 5 objects missing): hook {hook * 1000:.0f} ms, push {wall * 1000:.0f} ms")
        store.put_bytes(contents[-1])
        code, wall, hook, err = push(client, server, env, work / "trace-accepted.json")
        if code != 0:
            sys.exit(f"the push with all data stored was refused:\n{err}")
        print(f"accepted push (5 new stubs, all stored): hook {hook * 1000:.0f} ms, push {wall * 1000:.0f} ms")
        noop = server / "hooks" / "pre-receive"
        saved = noop.read_bytes()
        noop.write_text("#!/bin/sh\nexec git-datax --version >/dev/null\n")
        git("update-ref", "refs/heads/main", parent, cwd=server, env=env)
        code, wall, base, err = push(client, server, env, work / "trace-baseline.json")
        noop.write_bytes(saved)
        print(f"baseline: a hook that only starts git-datax takes {base * 1000:.0f} ms")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
