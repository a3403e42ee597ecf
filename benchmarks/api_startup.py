"""A fresh Python process using the API: ``load_predictor()`` and a first ``score`` of NB201 strings.

``cli_startup.py`` times the command line, which keeps every compiled program; a Python process
keeps what ``import tgnas_jax`` has the compilation cache keep. Each round runs, for each version
(``--base``: another checkout, interleaved), a first process on an empty cache folder, then
``--warm`` processes on what it left. Reported: medians of the seconds of each step.

``python benchmarks/api_startup.py --base DIR`` prints a markdown table and writes
``benchmarks/results/api_startup.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from cli_startup import RESULTS, _run, add_base_arguments, checkouts, write_report

#: Run in a fresh process; prints one JSON line of step -> seconds.
CHILD = r"""
import json, time
start = time.perf_counter()
import tgnas_jax
steps = {"import tgnas_jax": time.perf_counter() - start}
mark = time.perf_counter()
predictor = tgnas_jax.load_predictor()
steps["load_predictor"] = time.perf_counter() - mark
mark = time.perf_counter()
predictor.score(["|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"] * 3, "nb201")
steps["first score (NB201)"] = time.perf_counter() - mark
steps["total"] = time.perf_counter() - start
print(json.dumps(steps))
"""


def one_round(python: str, root: Path, warm: int) -> dict[str, list[dict[str, float]]]:
    """A first process on an empty cache, then ``warm`` on what it left."""
    with tempfile.TemporaryDirectory(prefix="tgnas-api-") as cache:
        runs = [json.loads(_run(python, root, ["-c", CHILD], cache)[1].splitlines()[-1]) for _ in range(1 + warm)]
    return {"first": runs[:1], "warm": runs[1:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_base_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3, help="rounds per version")
    parser.add_argument("--warm", type=int, default=2, help="warm processes per round")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_startup")
    args = parser.parse_args(argv)
    versions = checkouts(parser, args)
    base = versions["base"][1]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {name: {"first": [], "warm": []} for name in versions}
    for i in range(args.repeats):
        for name in list(versions)[:: 1 if i % 2 else -1]:
            for kind, rows in one_round(*versions[name], args.warm).items():
                runs[name][kind].extend(rows)
    steps = list(runs["this"]["warm"][0])
    medians = {
        name: {kind: {s: statistics.median(r[s] for r in rows) for s in steps} for kind, rows in kinds.items()}
        for name, kinds in runs.items()
    }
    command = "python benchmarks/api_startup.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# A fresh Python process: `load_predictor()` and a first NB201 `score` (medians, seconds)",
        "",
        f"`{command.strip()}`; {args.repeats} interleaved rounds per version (base: `{base}`), each a first"
        f" process on an empty cache folder and {args.warm} warm ones on what it left.",
        "",
        "| step | base, first | this, first | base, warm | this, warm | this / base, warm |",
        "|---|---|---|---|---|---|",
        *(
            f"| {s} | {medians['base']['first'][s]:.2f} | {medians['this']['first'][s]:.2f} | "
            f"{medians['base']['warm'][s]:.2f} | {medians['this']['warm'][s]:.2f} | "
            f"{medians['this']['warm'][s] / medians['base']['warm'][s]:.2f} |"
            for s in steps
        ),
    ]
    payload = {"command": command, "versions": {n: str(r) for n, (_, r) in versions.items()}, "runs": runs,
               "medians": medians}  # fmt: skip
    write_report(args.out, payload, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
