"""Clean streams: the memory of `git-datax clean` does not grow with the file."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import object_path

STREAM_MIB = 256  # more than the 200 MiB bound: holding the file would fail the test
LIMIT_KIB = 200 * 1024

# Runs in its own process, so that RUSAGE_CHILDREN sees git-datax only: the wrapper writes the
# stream itself (its own memory is not counted) and reports the child's peak RSS.
WRAPPER = textwrap.dedent(
    """
    import hashlib, os, resource, subprocess, sys
    mib = int(sys.argv[1])
    child = subprocess.Popen(["git-datax", "clean", "--", "big.bin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    block = bytearray(os.urandom(1 << 20))
    digest = hashlib.sha256()
    for i in range(mib):
        block[:8] = i.to_bytes(8, "little")  # every MiB differs: no shortcut for the compressor
        digest.update(block)
        child.stdin.write(block)
    child.stdin.close()
    stub = child.stdout.read()
    code = child.wait()
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(code, peak_kib, digest.hexdigest())
    sys.stdout.buffer.write(stub)
    """
)


def test_clean_of_a_256_mib_stream_stays_under_200_mib(repo: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(STREAM_MIB)], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    first, _, stub = proc.stdout.partition(b"\n")
    code, peak_kib, oid = first.decode().split()
    assert int(code) == 0, proc.stderr.decode()
    assert stub == b"version gitdatax/1\noid sha256:%s\nsize %d\n" % (oid.encode(), STREAM_MIB << 20)
    assert int(peak_kib) < LIMIT_KIB, f"git-datax clean peaked at {int(peak_kib) // 1024} MiB"
    assert object_path(repo, oid).is_file()
    assert os.listdir(repo / ".git/datax/tmp") == []
    # The object holds exactly the stream (checked by streaming it back through smudge).
    smudge = subprocess.Popen(["git-datax", "smudge", "--", "big.bin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert smudge.stdin and smudge.stdout
    smudge.stdin.write(stub)
    smudge.stdin.close()
    digest, size = hashlib.sha256(), 0
    while chunk := smudge.stdout.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    assert smudge.wait() == 0
    assert (digest.hexdigest(), size) == (oid, STREAM_MIB << 20)
