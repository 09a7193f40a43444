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

# The peak is the VmHWM of git-datax's own memory map, which the child reads from
# /proc/self/status as it exits (the shim below runs git-datax's entry point, as its console
# script does, and writes the figure to the file named by its first argument). Not ru_maxrss nor
# RUSAGE_CHILDREN: Linux carries the forking parent's high-water mark into the exec'd child's
# ru_maxrss (exec_mmap keeps the old map's in signal->maxrss; with vfork, the old map is the
# parent's own), so the child would report at least the size of the process that started it
# (tests/test_share_api.py measured 258 MiB of ru_maxrss for a child whose own peak was 41 MiB).
PEAK_SHIM = textwrap.dedent(
    """
    import atexit, sys
    def _peak(path=sys.argv.pop(1)):
        with open("/proc/self/status") as status:
            kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        with open(path, "w") as out:
            out.write(kib)
    atexit.register(_peak)
    from gitdatax.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)
# The wrapper writes the stream itself and reports the child's peak RSS and its ru_maxrss (shown
# beside it in the message, to tell the two apart).
WRAPPER = textwrap.dedent(
    """
    import hashlib, os, resource, subprocess, sys
    mib, shim, peak_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    child = subprocess.Popen([sys.executable, "-c", shim, peak_file, "clean", "--", "big.bin"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    block = bytearray(os.urandom(1 << 20))
    digest = hashlib.sha256()
    for i in range(mib):
        block[:8] = i.to_bytes(8, "little")  # every MiB differs: no shortcut for the compressor
        digest.update(block)
        child.stdin.write(block)
    child.stdin.close()
    stub = child.stdout.read()
    code = child.wait()
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    with open(peak_file) as f:
        peak_kib = int(f.read())
    print(code, peak_kib, maxrss_kib, digest.hexdigest())
    sys.stdout.buffer.write(stub)
    """
)


def test_clean_of_a_256_mib_stream_stays_under_200_mib(repo: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(STREAM_MIB), PEAK_SHIM, str(tmp_path / "peak")],
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    first, _, stub = proc.stdout.partition(b"\n")
    code, peak_kib, maxrss_kib, oid = first.decode().split()
    assert int(code) == 0, proc.stderr.decode()
    assert stub == b"version gitdatax/1\noid sha256:%s\nsize %d\n" % (oid.encode(), STREAM_MIB << 20)
    assert int(peak_kib) < LIMIT_KIB, (f"git-datax clean peaked at {int(peak_kib) // 1024} MiB (VmHWM; ru_maxrss, "
                                       f"which counts the parent at fork, {int(maxrss_kib) // 1024} MiB)")
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
