"""`git datax serve` under load: 8 client processes upload 200 objects each at the same time,
through gitdatax's own LFS remote and transfer layer (what `git datax push` uses)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from datax_serve import serve  # noqa: F401 - the fixture
from helpers import random_bytes
from gitdatax.store.objectstore import ObjectStore

CLIENTS = 8
OBJECTS = 200

UPLOADER = r"""
import json, sys, time
from gitdatax.sync import transfer
from gitdatax.remotes import open_remote
from gitdatax.store.objectstore import ObjectStore
from gitdatax.stub import Stub

store = ObjectStore(sys.argv[1])
with open(sys.argv[2]) as f:
    stubs = [Stub(oid, size) for oid, size in json.load(f)]
remote = open_remote(sys.argv[3])
start = time.monotonic()
result = transfer.upload_missing(remote, store, stubs, jobs=4, quiet=True)
remote.close()
print(json.dumps({"moved": len(result.moved), "failed": result.failed, "seconds": time.monotonic() - start}))
"""


def test_eight_clients_push_200_objects_each_at_once(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    expected: dict[str, int] = {}
    stores = []
    for client in range(CLIENTS):
        store = ObjectStore(tmp_path / f"client{client}")
        listing = []
        for i in range(OBJECTS):
            # 1-8 KiB each, a few shared between clients so that some uploads race on one oid.
            seed = i if i < 10 else client * 1000 + i
            stub = store.put_bytes(random_bytes(1024 + (seed * 37) % 7168, seed=seed))
            expected[stub.oid] = stub.size
            listing.append(stub)
        (tmp_path / f"client{client}.json").write_text(json.dumps(listing))
        stores.append(store)
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", UPLOADER, str(s.root), str(tmp_path / f"client{n}.json"),
                               server.url + "/info/lfs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n, s in enumerate(stores)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    wall = time.monotonic() - start
    for result in results:
        assert result["failed"] == {}, result["failed"]
    served = ObjectStore(server.store)
    assert set(served.iter_oids()) == set(expected)
    for oid in expected:
        assert served.verify(oid) is None, oid
    puts = server.log.count('"PUT /info/lfs/objects/')
    assert puts >= len(expected) and '" 5' not in server.log.replace('" 5 ', "")
    total = sum(expected.values())
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    server_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    print(f"\nserve load: {CLIENTS} clients x {OBJECTS} objects, {len(expected)} distinct, "
          f"{total / 1024:.0f} KiB, {puts} PUTs in {wall:.2f} s incl. client start-up: "
          f"{puts / wall:.0f} objects/s, {total / wall / 1048576:.2f} MiB/s; "
          f"server CPU {server_cpu:.2f} s ({puts / server_cpu:.0f} uploads per CPU-second)")
