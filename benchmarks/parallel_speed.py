"""Scoring and search on 1 vs N devices (parallel.py), each device count in fresh processes, interleaved.

A device count is fixed when jax starts, so every run is a new process; on CPU the devices are
forced (``--xla_force_host_platform_device_count``) and share the machine's cores, so this
measures the overhead of splitting there, not a speed-up (that needs real devices: GPUs, TPU cores).
Rows: the shipped predictor scoring ``--cells`` NB201 cells (first call, with compilation; then
the median of warm calls) and warm prune / evolve searches of NB201.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_OUT = RESULTS / "parallel_speed.json"
ROWS = ("score cold", "score warm", "prune warm", "evolve warm")


def child(cells: int, repeats: int) -> dict[str, float]:
    """Seconds of each row in this process (its device count set by the parent)."""
    import jax

    import tgnas_jax
    from tgnas_jax.spaces import NB201Space

    predictor = tgnas_jax.load_predictor()
    space = NB201Space()
    archs = space.samples(cells, seed=0)

    def seconds(run) -> float:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    out = {"devices": len(jax.devices()), "score cold": seconds(lambda: predictor.score(archs, space))}
    out["score warm"] = statistics.median(seconds(lambda: predictor.score(archs, space)) for _ in range(repeats))
    for method in ("prune", "evolve"):
        tgnas_jax.search(space, predictor, method=method)
        out[f"{method} warm"] = statistics.median(
            seconds(lambda m=method: tgnas_jax.search(space, predictor, method=m)) for _ in range(repeats)
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per device count, interleaved")
    parser.add_argument("--cells", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3, help="warm calls per process (their median)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.cells, args.repeats)))
        return
    runs: dict[int, list[dict[str, float]]] = {d: [] for d in args.devices}
    for round_ in range(args.rounds):
        for devices in args.devices:
            # Cold means compiled here: no persistent compilation cache.
            env = {
                **os.environ,
                "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
                "TGNAS_COMPILATION_CACHE": "0",
            }
            argv = [sys.executable, __file__, "--child", str(devices), "--cells", str(args.cells)]
            done = subprocess.run(
                [*argv, "--repeats", str(args.repeats)], env=env, capture_output=True, text=True, check=True
            )
            runs[devices].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {round_ + 1}, {devices} devices: {runs[devices][-1]}", file=sys.stderr)
    medians = {d: {row: statistics.median(r[row] for r in rs) for row in ROWS} for d, rs in runs.items()}
    print(f"{'seconds (median)':<18}" + "".join(f"{f'{d} device(s)':>14}" for d in args.devices))
    for row in ROWS:
        print(f"{row:<18}" + "".join(f"{medians[d][row]:>14.3f}" for d in args.devices))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "what": __doc__.split("\n\n")[0],
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load": os.getloadavg()},
                "cells": args.cells,
                "rounds": args.rounds,
                "repeats": args.repeats,
                "medians_s": {str(d): m for d, m in medians.items()},
                "runs": {str(d): rs for d, rs in runs.items()},
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
