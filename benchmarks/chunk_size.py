"""Rows per scoring call: cells/s of each space's jitted encoded scoring at several batch shapes.

Why ``tgnas_jax.parallel.NODES_PER_CALL`` is what it is. Each space's choices (sampled, distinct,
not scored before at that shape) are scored through ``Predictor.score``'s program in calls of
``rows`` architectures; the shapes are timed interleaved, round by round, so machine load hits all
alike, and the median round is reported with the graph nodes per call and the shape the library picks.

``python benchmarks/chunk_size.py`` prints a markdown table and writes ``benchmarks/results/chunk_size.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import CHAIN  # noqa: E402  (the chain space of the end-to-end runs)


def measure(space_name: str, rows: list[int], count: int, repeats: int) -> dict:
    from tgnas_jax import load_predictor
    from tgnas_jax.spaces import get_space
    from tgnas_jax.spaces.declarative import space_from_spec

    space = space_from_spec(CHAIN) if space_name == "chain" else get_space(space_name)
    predictor = load_predictor()
    predictor.score([space.format(space.sample(np.random.default_rng(1)))], space)  # the prior, once
    encoded = predictor._encoded_scoring(space, None)
    blend = predictor.cost_blend(space)
    rng = np.random.default_rng(0)
    _, choices = encoded.choices([space.sample(rng) for _ in range(count)])
    choices = np.unique(choices, axis=0)
    rates: dict[int, list[float]] = {r: [] for r in rows}
    programs = {r: dataclasses.replace(encoded, rows=r) for r in rows}  # one jitted program, a shape each
    for r in rows:
        programs[r].scores(choices[:r], blend)  # compile
    for _ in range(repeats):
        for r in rows:
            start = time.perf_counter()
            programs[r].scores(choices, blend)
            rates[r].append(len(choices) / (time.perf_counter() - start))
    return {
        "space": space_name,
        "nodes_per_row": encoded.nodes_per_row,
        "chosen_rows": encoded.rows,
        "archs": len(choices),
        "cells_per_s": {str(r): statistics.median(v) for r, v in rates.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["nb201", "nb101", "darts", "chain"])
    parser.add_argument("--rows", type=int, nargs="+", default=[32, 64, 128, 256, 512, 1024, 2048])
    parser.add_argument("--count", type=int, default=8192, help="architectures sampled per space")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "chunk_size")
    args = parser.parse_args(argv)
    device = jax.devices()[0]
    command = "python benchmarks/chunk_size.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    for space in args.spaces:
        results.append(measure(space, args.rows, args.count, args.repeats))
        print(json.dumps(results[-1]), flush=True)
    lines = [
        f"# Rows per scoring call\n\n`{command.strip()}` on {device.platform} {device.device_kind} "
        f"({jax.device_count()} device(s)); cells/s, median of {args.repeats} interleaved rounds; "
        "**bold**: the fastest, *(picked)*: the library's choice\n",
        "| space | nodes/row | " + " | ".join(f"{r:,} rows" for r in args.rows) + " |",
        "|---|---|" + "---|" * len(args.rows),
    ]
    for res in results:
        rates = res["cells_per_s"]
        best = max(rates, key=rates.get)
        cells = []
        for r in args.rows:
            text = f"{rates[str(r)]:,.0f}"
            text = f"**{text}**" if str(r) == best else text
            cells.append(text + (" *(picked)*" if r == res["chosen_rows"] else ""))
        lines.append(f"| {res['space']} | {res['nodes_per_row']} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": command.strip(), "device": f"{device.platform} {device.device_kind}", "results": results}
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
