"""The standard workload (same shape as shared/bench/gen_data.py): a model of incompressible
bytes, a CSV data set, and many small clips; versions differ in every file.

    python3 benchmarks/gen_data.py OUT VERSION     (BIG_MIB=128, N_SMALL=2000 by default)
"""
from __future__ import annotations

import os
import random
import sys


def write_model(path: str, mib: int, seed: int) -> None:
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(rnd.randbytes(1 << 20))  # like float32 weights: barely compressible


def write_csv(path: str, mib: int, seed: int) -> None:
    rnd = random.Random(seed)
    target = mib << 20
    labels = ["yes", "no", "maybe", "wolof", "fr"]
    with open(path, "w") as f:
        f.write("id,timestamp,speaker,duration,label,score\n")
        written = 0
        i = 0
        while written < target:
            line = (f"{i},{1600000000 + i * 7},spk{rnd.randrange(500)},{rnd.random() * 12:.3f},"
                    f"{rnd.choice(labels)},{rnd.random():.6f}\n")
            f.write(line)
            written += len(line)
            i += 1


def write_clips(folder: str, count: int, kib: int, seed: int) -> None:
    rnd = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        with open(os.path.join(folder, f"clip{i:05d}.wav"), "wb") as f:
            f.write(rnd.randbytes(kib << 10))


def generate(out: str, version: int, big_mib: int, n_small: int) -> None:
    os.makedirs(out, exist_ok=True)
    write_model(os.path.join(out, "model.bin"), big_mib, 100 + version)
    write_csv(os.path.join(out, "train.csv"), big_mib, 200 + version)
    write_clips(os.path.join(out, "clips"), n_small, 32, 300 + version)


if __name__ == "__main__":
    generate(sys.argv[1], int(sys.argv[2]), int(os.environ.get("BIG_MIB", "128")),
             int(os.environ.get("N_SMALL", "2000")))
