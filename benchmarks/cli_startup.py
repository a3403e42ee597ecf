"""How long ``python -m tgnas_jax.search`` takes as a whole process, cold and warm, against another version.

Issue 11's goal: under 5 s with a fresh compilation cache, under 2 s warm (hybrid NB201 search on 2
CPU cores). A round runs, for each version in turn (alternating which goes first): the search with
an empty ``$TGNAS_CACHE_DIR`` (cold), then again with the cache it left (warm), each a fresh process;
and ``import tgnas_jax`` alone, warm. Reported: medians of the whole-process wall time, of the
search seconds the command reports, and of the import.

A version is a checkout (``--base``, made with ``git worktree add /tmp/base COMMIT``) and the Python
that runs it (``--base-python``: a virtual environment with other package versions):

    python benchmarks/cli_startup.py --base /tmp/base --base-python /tmp/venv-old/bin/python \
        --out benchmarks/results/cli_startup
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
IMPORT = "import time; t = time.perf_counter(); import tgnas_jax; print(time.perf_counter() - t)"


def _run(python: str, root: Path, args: list[str], cache: str) -> tuple[float, str]:
    """Wall seconds and stdout of ``python args`` importing tgnas_jax from ``root``, caching in ``cache``."""
    env = {**os.environ, "PYTHONPATH": str(root), "TGNAS_CACHE_DIR": cache}
    start = time.perf_counter()
    done = subprocess.run([python, *args], capture_output=True, text=True, cwd=root, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{python} {' '.join(args)} in {root} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def add_base_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base`` (another checkout, run interleaved with this one) and ``--base-python``."""
    parser.add_argument("--base", type=Path, help="the other checkout, run interleaved (default: this one)")
    parser.add_argument("--base-python", default=sys.executable, help="the interpreter that runs --base")


def checkouts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, tuple[str, Path]]:
    """``{"base": (python, checkout), "this": ...}`` from :func:`add_base_arguments`' options."""
    base = (args.base or ROOT).resolve()
    if not (base / "tgnas_jax" / "__init__.py").is_file():
        parser.error(f"--base {base} is not a tgnas-jax checkout (no tgnas_jax/__init__.py)")
    return {"base": (args.base_python, base), "this": (sys.executable, ROOT)}


def write_report(out: Path, payload: dict[str, Any], lines: list[str]) -> None:
    """``out``.json (``payload``) and ``out``.md (``lines``), and the table printed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(payload, indent=1) + "\n")
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def one_round(python: str, root: Path) -> dict[str, float]:
    """Cold and warm searches and an import, each in a fresh process."""
    row: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tgnas-startup-") as cache:
        report = Path(cache) / "search.json"
        for phase in ("cold", "warm"):
            wall, _ = _run(python, root, ["-m", "tgnas_jax.search", "--json", str(report)], cache)
            row[f"{phase} process (s)"] = wall
            row[f"{phase} search (s)"] = json.loads(report.read_text())["seconds"]
        row["import tgnas_jax (s)"] = float(_run(python, root, ["-c", IMPORT], cache)[1])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_base_arguments(parser)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of fresh processes")
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_startup")
    args = parser.parse_args(argv)
    versions = checkouts(parser, args)
    base = versions["base"][1]
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
    for i in range(args.repeats):
        for name in list(versions)[:: 1 if i % 2 else -1]:
            rounds[name].append(one_round(*versions[name]))
            print(name, json.dumps({k: round(v, 3) for k, v in rounds[name][-1].items()}), flush=True)
    keys = list(rounds["this"][0])
    medians = {name: {k: statistics.median(r[k] for r in rows) for k in keys} for name, rows in rounds.items()}
    command = "python benchmarks/cli_startup.py " + " ".join(sys.argv[1:] if argv is None else argv)
    payload = {
        "command": command,
        "versions": {n: {"python": p, "root": str(r)} for n, (p, r) in versions.items()},
        "rounds": rounds,
        "medians": medians,
    }
    lines = [
        "# `python -m tgnas_jax.search` as a whole process (hybrid NB201; medians of fresh processes)",
        "",
        f"`{command}`; {args.repeats} interleaved rounds; base: `{base}` run by `{args.base_python}`.",
        "",
        "| measure | base | this | this / base |",
        "|---|---|---|---|",
        *(
            f"| {k} | {b:.2f} | {t:.2f} | {t / b:.2f} |"
            for k in keys
            for b, t in [(medians["base"][k], medians["this"][k])]
        ),
        "",
        "Goal (issue 11): the whole process under 5 s cold and under 2 s warm.",
    ]
    write_report(args.out, payload, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
