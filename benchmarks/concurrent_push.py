"""8 pushers of overlapping data at once, to each kind of remote of our own layout: a directory
store, S3 (moto's server on 127.0.0.1) and `git datax serve` (HTTP, Git LFS batch API). Every
pusher has the same shared files (the same objects, uploaded by all at once) and files of its
own; then each object is checked on the remote: downloaded into an empty store (re-hashed on
the way) and, for the directory store and S3, also read there and re-hashed here.

    PYTHONPATH=. python3 benchmarks/concurrent_push.py [--pushers 8] [--work DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reliability_common import check_store, make_env, run  # noqa: E402

SHARED = {"shared/model.bin": 6 << 20, **{f"shared/clip{i:02d}.bin": 32 << 10 for i in range(20)}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_pusher(root: Path, n: int, env: dict[str, str], toml: str) -> tuple[Path, set[str]]:
    repo = root / f"pusher{n}"
    root.mkdir(parents=True, exist_ok=True)
    run(["git", "init", "-q", str(repo)], root, env)
    run(["git", "datax", "install", "--local"], repo, env)
    run(["git", "datax", "track", "*.bin"], repo, env)
    (repo / ".datax.toml").write_text(toml)
    oids = set()
    own = {f"own/p{n}-{i}.bin": 64 << 10 for i in range(5)} | {f"own/p{n}-big.bin": 5 << 20}
    for path, size in {**SHARED, **own}.items():
        seed = sum(map(ord, path)) + (7919 * n if path.startswith("own/") else 0)
        data = random.Random(seed).randbytes(size)
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
        oids.add(hashlib.sha256(data).hexdigest())
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", f"pusher {n}"], repo, env, extra={"GIT_DATAX_SKIP_PUSH": "1"})
    return repo, oids


class KindResult(NamedTuple):
    kind: str
    pushers: int
    pushes_ok: int
    objects: int  # distinct objects the pushers hold
    intact: int  # verified on the remote (downloaded and re-hashed; read in place too where possible)
    seconds: float


def push_all(repos: list[Path], env: dict[str, str]) -> tuple[int, float]:
    start = time.monotonic()
    procs = [subprocess.Popen(["git", "datax", "push", "-q"], cwd=r, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for r in repos]
    ok = 0
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        ok += proc.returncode == 0
        if proc.returncode:
            print(f"  a push failed: {err.strip()[-300:]}", file=sys.stderr)
    return ok, time.monotonic() - start


def verify_by_download(repos: list[Path], env: dict[str, str]) -> set[str]:
    """Each pusher's objects fetched back into an empty store (every download is re-hashed)."""
    intact: set[str] = set()
    for repo in repos:
        store = repo / ".git" / "datax"
        shutil.rmtree(store / "objects")
        run(["git", "datax", "fetch", "-q"], repo, env, check=False)
        intact |= check_store(store).intact
    return intact


def s3_objects(endpoint: str, bucket: str, prefix: str, mirror: Path) -> set[str]:
    """Every key under the prefix read from the bucket with boto3 into `mirror` (S3 keeps the
    directory store's layout: objects/, and chunks/ with the packs of chunked objects), then each
    object re-hashed here, whole-file ones from their zstd frame, chunked ones from their chunks."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", ()):
            target = mirror / item["Key"][len(prefix) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(target))
    return check_store(mirror).intact


def run_kind(kind: str, root: Path, env: dict[str, str], pushers: int, toml: str,
             direct: object = None) -> KindResult:
    repos, oids = [], set()
    for n in range(pushers):
        repo, own = make_pusher(root / kind, n, env, toml)
        repos.append(repo)
        oids |= own
    ok, seconds = push_all(repos, env)
    intact = oids & verify_by_download(repos, env)
    if callable(direct):
        intact &= direct()
    return KindResult(kind, pushers, ok, len(oids), len(intact), seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushers", type=int, default=8)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="datax-pushers-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    serve = moto = None
    try:
        env = make_env(work / "home")
        store = work / "dir-store"
        (store / "objects").mkdir(parents=True)
        results.append(run_kind("directory", work, env, args.pushers,
                                f'[remote.team]\nurl = "{store}"\ndefault = true\n',
                                lambda: check_store(store).intact))

        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log

        port = _free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        s3_env = {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
        os.environ.update({k: v for k, v in s3_env.items() if k.startswith("AWS_")})
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="pushers")
        results.append(run_kind("S3 (moto)", work, s3_env, args.pushers,
                                f'[remote.team]\nurl = "s3://pushers/team"\nendpoint_url = "{endpoint}"\n'
                                f'default = true\nmultipart_threshold = "5MiB"\n',
                                lambda: s3_objects(endpoint, "pushers", "team", work / "s3-mirror")))

        served = work / "served-store"
        (served / "objects").mkdir(parents=True)
        serve = subprocess.Popen(["git-datax", "serve", "--store", str(served), "--bind", "127.0.0.1:0"],
                                 cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        assert serve.stderr is not None
        line = serve.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            raise SystemExit(f"git datax serve did not start: {line}")
        url = f"http://127.0.0.1:{match[1]}/info/lfs"
        import threading

        threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()  # drain the log
        results.append(run_kind("git datax serve", work, env, args.pushers,
                                f'[remote.team]\nurl = "{url}"\ndefault = true\n',
                                lambda: check_store(served).intact))
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(20)
        if moto is not None:
            moto.stop()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"concurrent pushers: {args.pushers} at once per remote, each with {len(SHARED)} shared files "
          "(a 6 MiB model, 32 KiB clips) and 6 of its own (one of 5 MiB)")
    print("| remote | pushers | pushes that succeeded | distinct objects | intact on the remote | "
          "lost or corrupt | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r.kind} | {r.pushers} | {r.pushes_ok} | {r.objects} | {r.intact} | {r.objects - r.intact} | "
              f"{r.seconds:.1f} |")
    return 0 if all(r.pushes_ok == r.pushers and r.intact == r.objects for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
