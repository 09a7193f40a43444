"""Speed against ratio of zstd levels on the standard workload's files: why the store uses level 1.

    python3 benchmarks/compression_levels.py DATA_DIR    (a folder from gen_data.py, e.g. data/v1)
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import zstandard


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data/v1")
    for name in ("model.bin", "train.csv"):
        data = (folder / name).read_bytes()
        start = time.perf_counter()
        hashlib.sha256(data).digest()
        print(f"{name}: {len(data) >> 20} MiB, sha256 {len(data) / (time.perf_counter() - start) / 1e6:.0f} MB/s")
        for level in (-1, 1, 3, 6):
            compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
            start = time.perf_counter()
            out = compressor.compress(data)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            zstandard.ZstdDecompressor().decompress(out)
            back = time.perf_counter() - start
            print(f"  level {level:>2}: ratio {len(out) / len(data):.3f}, compress {len(data) / seconds / 1e6:6.0f} MB/s, "
                  f"decompress {len(data) / back / 1e6:6.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
