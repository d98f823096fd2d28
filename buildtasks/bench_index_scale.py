"""`build.py bench index_scale`: how the PDQ matching index (server/verify/hash_index.py) grows with its size.

Builds the index at 1M, 2M and 5M random 256-bit hashes, measures its memory (codes + tables), build time and the
p50/p99 latency of one radius search (PDQ_RADIUS; half the queries are stored hashes with up to PDQ_RADIUS bits
flipped, half fresh), fits memory and latency linearly in n and extrapolates to 10M and 100M. Uniform random hashes
are the best case for the candidate count; real PDQ hashes cluster, so real latency is higher (the 1M figures on real
variants are in the "refutation" topic). docs/deploy.md turns these figures into the sharding plan.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from server.verify.hash_index import HashIndex
from server.verify.refutation_index import PDQ_RADIUS

SIZES = [int(x) for x in os.environ.get("VERITY_INDEX_SIZES", "1000000,2000000,5000000").split(",")]
QUERIES = 300


def _rss_mb() -> float:
    for line in open("/proc/self/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(n: int, rng: np.random.Generator) -> dict[str, float]:
    codes = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    started = time.perf_counter()
    index = HashIndex(codes)
    build_s = time.perf_counter() - started
    queries = []
    for i in range(QUERIES):
        if i % 2:
            queries.append(rng.integers(0, 2**64, size=4, dtype=np.uint64))
        else:
            row = codes[rng.integers(0, n)].view(np.uint8).copy()
            bits = np.unpackbits(row)
            bits[rng.choice(256, rng.integers(0, PDQ_RADIUS + 1), replace=False)] ^= 1
            queries.append(np.packbits(bits).view(np.uint64))
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, PDQ_RADIUS)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    return {"n": n, "mb": index.nbytes / 2**20, "build_s": build_s, "p50_ms": lat[len(lat) // 2],
            "p99_ms": lat[int(0.99 * (len(lat) - 1))], "rss_mb": _rss_mb()}


def run(results: dict[str, Any]) -> None:
    from .bench import figure

    rng = np.random.default_rng(11)
    rows = []
    for n in SIZES:
        row = measure(n, rng)
        rows.append(row)
        print(f"{n:>10,} hashes: {row['mb']:8.1f} MB index, build {row['build_s']:6.1f} s, "
              f"search p50 {row['p50_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms (process RSS {row['rss_mb']:.0f} MB)",
              flush=True)
        tag = f"{n // 1_000_000}m"
        figure(results, f"index_scale.{tag}.memory", row["mb"], "MB")
        figure(results, f"index_scale.{tag}.build", row["build_s"], "s")
        figure(results, f"index_scale.{tag}.search_p50", row["p50_ms"], "ms")
        figure(results, f"index_scale.{tag}.search_p99", row["p99_ms"], "ms")
    ns = np.array([r["n"] for r in rows], dtype=float)
    for key, unit in (("mb", "MB"), ("p50_ms", "ms"), ("p99_ms", "ms"), ("build_s", "s")):
        slope, intercept = np.polyfit(ns, [r[key] for r in rows], 1)
        for target_n, tag in ((10_000_000, "10m"), (100_000_000, "100m")):
            value = slope * target_n + intercept
            figure(results, f"index_scale.{tag}_extrapolated.{key.replace('_ms', '').replace('mb', 'memory')}",
                   value, unit)
        print(f"linear fit {key}: {slope * 1e6:.3f} per million + {intercept:.3f} -> 10M {slope * 1e7 + intercept:.2f}, "
              f"100M {slope * 1e8 + intercept:.2f} {unit}")
