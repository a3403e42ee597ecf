"""Time the first (parse) and later (cached) loads of each benchmark table.

Each table is loaded once against an empty cache directory, so that load parses and writes the
cache, then ``--repeats`` more times from the cache. Target: a cached NB101 load under 2 s; the
script exits 1 when a table misses it. The source files may already sit in the OS page cache,
so "first" measures parsing more than disk reads.

    python benchmarks/load_tables.py [--data-dir DIR] [--repeats 3] [--out benchmarks/results/load_tables.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np

from tgnas_jax import data

TARGET_S = 2.0
TABLES: dict[str, Callable[[Path], Sized]] = {
    "nb101": data.load_nb101,
    "nb201": data.load_nb201,
    "zc-cifar10": partial(data.load_zc_proxies, dataset="cifar10"),
    "zc-imagenet16": partial(data.load_zc_proxies, dataset="imagenet16"),
}


@contextmanager
def empty_cache() -> Iterator[None]:
    """A fresh cache directory for one table, so its first load really parses."""
    before = os.environ.get(data.CACHE_DIR_ENV)
    with tempfile.TemporaryDirectory(prefix="tgnas-cache-") as directory:
        os.environ[data.CACHE_DIR_ENV] = directory
        try:
            yield
        finally:
            if before is None:
                del os.environ[data.CACHE_DIR_ENV]
            else:
                os.environ[data.CACHE_DIR_ENV] = before


def timed(load: Callable[[Path], Sized], data_dir: Path) -> tuple[float, Sized]:
    start = time.perf_counter()
    table = load(data_dir)
    return time.perf_counter() - start, table


def measure(load: Callable[[Path], Sized], data_dir: Path, repeats: int) -> dict[str, float | int | bool]:
    with empty_cache():
        first, table = timed(load, data_dir)
        cached = [timed(load, data_dir)[0] for _ in range(repeats)]
    return {
        "rows": len(table),
        "first_s": first,
        "second_s": cached[0],
        "cached_median_s": statistics.median(cached),
        "cached_max_s": max(cached),
        "meets_target": max(cached) < TARGET_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help=f"default: ${data.DATA_DIR_ENV}")
    parser.add_argument("--repeats", type=int, default=3, help="cached loads per table")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/load_tables.json"))
    args = parser.parse_args()
    data_dir = data.resolve_data_dir(args.data_dir)

    results = {name: measure(load, data_dir, args.repeats) for name, load in TABLES.items()}
    print(f"{'table':<14} {'rows':>8} {'first s':>8} {'second s':>9} {'cached max s':>13}")
    for name, row in results.items():
        print(
            f"{name:<14} {row['rows']:>8} {row['first_s']:>8.3f} {row['second_s']:>9.3f} {row['cached_max_s']:>13.3f}"
        )

    report = {
        "target_cached_load_s": TARGET_S,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "tables": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(row["meets_target"] for row in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
