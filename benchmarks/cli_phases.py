"""Where a warm ``python -m tgnas_jax.search`` (hybrid NB201) spends its time, phase by phase.

``cli_startup.py`` times the whole process; this splits it, so the next cut is aimed at the largest
part. Each round is a fresh process with the compilation cache a first (discarded) run filled. It
runs what the command runs, one phase after another instead of the two methods side by side:
imports, ``load_predictor`` (checksums, orbax restore, probe cells), ``Scorer.of`` (the size
prior's reference sample), then for each method its stored lowered program read (versions that
store them), its jitted program traced, lowered, compiled (a cache hit) and run. Reported: the
median of each phase over ``--repeats`` rounds, beside the same for another checkout (``--base``,
run interleaved; by default this one again, so the ratio shows the machine's noise).

``python benchmarks/cli_phases.py`` prints a markdown table and writes ``benchmarks/results/cli_phases.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from cli_startup import RESULTS, _run, add_base_arguments, checkouts, write_report

#: Run in a fresh process; prints one JSON line of phase -> seconds.
CHILD = r"""
import inspect, json, time
start = time.perf_counter()
import jax
from tgnas_jax.compilation import enable_compilation_cache
import tgnas_jax
from tgnas_jax.search import api
from tgnas_jax.search.encoding import encoding_for
from tgnas_jax.search.problem import Scorer
from tgnas_jax.spaces import get_space
enable_compilation_cache(min_compile_seconds=0)
phases = {"import": time.perf_counter() - start}
mark = time.perf_counter()

def lap(name):
    global mark
    now = time.perf_counter()
    phases[name] = now - mark
    mark = now

predictor = tgnas_jax.load_predictor()
lap("load_predictor")
encoding = encoding_for(get_space("nb201"))
scorer = Scorer.of(predictor, encoding)
lap("size prior (Scorer.of)")
key = jax.random.PRNGKey(0)
# Versions from stored programs on take the arguments, to read or export the lowered program there.
stored = "args" in inspect.signature(api._program).parameters
for method in ("prune", "evolve"):
    sizes = (api.DEFAULT_POPULATION, api.DEFAULT_GENERATIONS, 0)
    extra = {"args": (scorer.weights, None, key)} if stored else {}
    program = api._program(method, encoding, scorer, predictor, False, *sizes, **extra)
    lap(f"{method}: stored program read")
    traced = program.trace(scorer.weights, None, key)
    lap(f"{method}: trace")
    lowered = traced.lower()
    lap(f"{method}: lower")
    compiled = lowered.compile()
    lap(f"{method}: compile (cache hit)")
    jax.device_get(compiled(scorer.weights, None, key))
    lap(f"{method}: run")
phases["total"] = time.perf_counter() - start
print(json.dumps(phases))
"""


def one_round(python: str, root: Path, cache: str) -> dict[str, float]:
    """:data:`CHILD`'s phases in a fresh process of ``python`` importing ``root``, caching in ``cache``."""
    return json.loads(_run(python, root, ["-c", CHILD], cache)[1].splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_base_arguments(parser)
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per version after its warm-up")
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_phases", help="output stem (default: %(default)s)")
    args = parser.parse_args(argv)
    versions = checkouts(parser, args)
    base = versions["base"][1]
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory(prefix="tgnas-phases-") as caches:
        for name, (python, root) in versions.items():
            one_round(python, root, f"{caches}/{name}")  # fills this version's compilation cache
        for i in range(args.repeats):
            for name in list(versions)[:: 1 if i % 2 else -1]:
                rounds[name].append(one_round(*versions[name], f"{caches}/{name}"))
    phases = list(rounds["this"][0])
    medians = {name: {p: statistics.median(r[p] for r in rows) for p in phases} for name, rows in rounds.items()}
    command = "python benchmarks/cli_phases.py " + " ".join(sys.argv[1:] if argv is None else argv)
    this, other = medians["this"], medians["base"]
    lines = [
        "# A warm `python -m tgnas_jax.search` (hybrid NB201), phase by phase",
        "",
        f"`{command.strip()}`; medians of {args.repeats} fresh processes per version with a warm compilation"
        f" cache, the versions interleaved (base: `{base}`), the phases run one after another (the command"
        " runs the two methods side by side).",
        "",
        "| phase | base (s) | this (s) | this / base | share of this |",
        "|---|---|---|---|---|",
        *(
            f"| {p} | {other[p]:.2f} | {this[p]:.2f} | {this[p] / other[p]:.2f} | {this[p] / this['total']:.0%} |"
            for p in phases
            if p != "total"
        ),
        f"| **total** | **{other['total']:.2f}** | **{this['total']:.2f}** | {this['total'] / other['total']:.2f} | |",
    ]
    payload = {
        "command": command,
        "versions": {n: {"python": py, "root": str(r)} for n, (py, r) in versions.items()},
        "rounds": rounds,
        "medians": medians,
    }
    write_report(args.out, payload, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
