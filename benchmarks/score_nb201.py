"""Time scoring every NAS-Bench-201 cell with the shipped predictor, end to end from arch strings.

    python benchmarks/score_nb201.py [--repeats 5] [--out benchmarks/results/score_nb201.json]

Target (the predictor issue): under 1 s warm on 2 CPU cores. "Cold" is the first call in a fresh
process (tracing, compilation, the size prior's reference sample); "warm" repeats it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.spaces import NB201Space

TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "score_nb201.json")
    args = parser.parse_args()
    space = NB201Space()
    strings = [space.format(arch) for arch in space.enumerate()]
    predictor = load_predictor()
    started = time.perf_counter()
    predictor.score(strings, space)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        predictor.score(strings, space)
        warm.append(time.perf_counter() - started)
    result = {
        "cells": len(strings),
        "members": len(predictor.members),
        "hidden": predictor.model_config.hidden,
        "cold_s": round(cold, 3),
        "warm_median_s": round(float(np.median(warm)), 3),
        "warm_min_s": round(min(warm), 3),
        "target_warm_s": TARGET_S,
        "meets_target": float(np.median(warm)) < TARGET_S,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "jax": jax.__version__,
    }
    print("| cells | members | cold (s) | warm median (s) | warm min (s) | target (s) |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {result['cells']} | {result['members']} | {result['cold_s']} | {result['warm_median_s']} | "
        f"{result['warm_min_s']} | < {TARGET_S} |"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
