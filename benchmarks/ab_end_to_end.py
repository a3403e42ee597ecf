"""End to end from text, this checkout against another version of tgnas-jax, interleaved.

The machine is shared and noisy, so a figure from an earlier session's ``scale.py`` run is no baseline:
this runs ``scale.py``'s fresh-process child (load the shipped predictor, warm up on 256 other
architectures, score N strings through ``score_stream``) for each space, alternating between the two
checkouts round by round, and reports medians and their ratio. Make the other checkout with
``git worktree add /tmp/base COMMIT``.

``python benchmarks/ab_end_to_end.py --base /tmp/base`` prints a markdown table and writes
``benchmarks/results/ab_end_to_end.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from scale import end_to_end

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CASES = [("nb201", 100_000), ("nb101", 100_000), ("darts", 10_000), ("chain", 100_000)]


def _span(rates: list[float]) -> str:
    return f"{min(rates):,.0f}-{max(rates):,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (a git worktree)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of fresh processes")
    parser.add_argument("--members", type=int, default=0, help="ensemble members (0: all)")
    parser.add_argument(
        "--spaces",
        type=lambda text: text.split(","),
        default=[space for space, _ in CASES],
        help=f"comma-separated subset of {', '.join(space for space, _ in CASES)} (default: all)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "ab_end_to_end")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.spaces) - {space for space, _ in CASES})
    if unknown:
        parser.error(f"--spaces: unknown {', '.join(unknown)}")
    cases = [(space, count) for space, count in CASES if space in args.spaces]
    if not (args.base / "tgnas_jax" / "__init__.py").is_file():
        parser.error(f"--base {args.base} is not a tgnas-jax checkout (no tgnas_jax/__init__.py)")
    versions = {"base": args.base.resolve(), "this": ROOT}
    rates: dict[tuple[str, str], list[float]] = {(v, s): [] for v in versions for s, _ in cases}
    for seed in range(args.repeats):
        for space, count in cases:
            order = list(versions.items())  # alternated, so neither side always runs first
            for name, root in order if seed % 2 == 0 else order[::-1]:
                result = end_to_end(space, count, seed, args.members, root)
                rates[(name, space)].append(result["n"] / result["seconds"])
    base_commit = subprocess.run(
        ["git", "-C", str(args.base), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows = []
    for space, count in cases:
        base, this = (statistics.median(rates[(v, space)]) for v in versions)
        rows.append(
            {
                "space": space,
                "n": count,
                "base_cells_per_s": base,
                "cells_per_s": this,
                "ratio": this / base,
                "base_rounds": rates[("base", space)],
                "rounds": rates[("this", space)],
            }
        )
    command = "python benchmarks/ab_end_to_end.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        f"# End to end, this checkout against {base_commit or args.base}\n",
        f"`{command.strip()}`; cells/s from text, medians of {args.repeats} interleaved fresh processes\n",
        "| space | N | base cells/s | this cells/s | ratio | base rounds (min-max) | this rounds (min-max) |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['space']} | {r['n']:,} | {r['base_cells_per_s']:,.0f} | {r['cells_per_s']:,.0f} | {r['ratio']:.2f} "
            f"| {_span(r['base_rounds'])} | {_span(r['rounds'])} |"
            for r in rows
        ),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    payload = {"command": command, "base": base_commit, "members": args.members or "all", "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
