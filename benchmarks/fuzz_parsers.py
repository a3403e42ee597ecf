"""Count what the parser fuzz suite's inputs do: accepted (and checked), cleanly rejected, or crashed.

    python benchmarks/fuzz_parsers.py [--examples 2000] [--out benchmarks/results/fuzz_parsers.json]

Runs the targets of ``tests/test_fuzz_parsers.py`` (same input generators, derandomised) with more
examples than the test suite, and counts instead of stopping at the first crash. A crash is any
exception other than the target's own error type (SpaceError / GraphError), or a message over the
suite's length limit; the goal is none.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_fuzz_parsers import TARGETS, Target, outcome  # noqa: E402


def count(target: Target, examples: int) -> Counter[str]:
    """Outcomes of ``examples`` inputs; crashes are counted by exception type."""
    counts: Counter[str] = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(target.inputs)
    def run(value: Any) -> None:
        try:
            counts[outcome(target, value)] += 1
        except Exception as err:  # what the suite would report: counted here, so the run goes on
            counts[f"crash: {type(err).__name__}"] += 1

    run()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000, help="inputs per target (default: 2000)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fuzz_parsers.json")
    args = parser.parse_args()
    rows = {}
    print("| target | inputs | accepted (checked) | clean errors | crashes | seconds |")
    print("|---|---|---|---|---|---|")
    for name, target in TARGETS.items():
        started = time.perf_counter()
        counts = count(target, args.examples)
        crashes = {kind: n for kind, n in counts.items() if kind.startswith("crash")}
        rows[name] = {
            "inputs": sum(counts.values()),
            "accepted": counts["accepted"],
            "rejected": counts["rejected"],
            "crashes": crashes,
            "seconds": round(time.perf_counter() - started, 2),
        }
        row = rows[name]
        crashed = f"{sum(crashes.values()):,} {crashes}" if crashes else "none"
        counted = f"{row['inputs']:,} | {row['accepted']:,} | {row['rejected']:,}"
        print(f"| {name} | {counted} | {crashed} | {row['seconds']} |")
    result = {
        "examples_per_target": args.examples,
        "targets": rows,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
