"""``python -m tgnas_jax.search``: search a space with the predictor and report what was found.

Defaults to a hybrid NB201 search with the shipped predictor. Prints the architecture, its
predicted score, size and search time and, where the benchmark table is reachable (``--data-dir``
or ``$TGNAS_DATA_DIR``), its true accuracies; ``--json`` writes all of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax

from tgnas_jax.data import NB201_DATASETS, DataError, cache_dir
from tgnas_jax.predictor import CheckpointError, load_predictor
from tgnas_jax.search.api import DEFAULT_GENERATIONS, DEFAULT_POPULATION, METHODS, MIN_POPULATION, SearchResult, search
from tgnas_jax.search.encoding import DARTS_SETTING
from tgnas_jax.search.truth import has_truth, true_accuracies
from tgnas_jax.spaces import SPACES, SearchSpace, get_space


def _at_least(least: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


def _size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1.2e6, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tgnas_jax.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", choices=sorted(SPACES), default="nb201", help="search space (default: nb201)")
    parser.add_argument("--method", choices=METHODS, default="hybrid", help="search method (default: hybrid)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed of the evolutionary searches")
    parser.add_argument(
        "--population",
        type=_at_least(MIN_POPULATION),
        default=DEFAULT_POPULATION,
        help=f"evolution population (default: {DEFAULT_POPULATION})",
    )
    parser.add_argument(
        "--generations",
        type=_at_least(1),
        default=DEFAULT_GENERATIONS,
        help=f"evolution generations (default: {DEFAULT_GENERATIONS})",
    )
    parser.add_argument("--predictor", type=Path, default=None, help="predictor checkpoint (default: the shipped one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="benchmark data (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the results as JSON")
    parser.add_argument(
        "--max-params",
        type=_size,
        default=None,
        metavar="N",
        help=f"parameter budget (a count; DARTS: the {DARTS_SETTING} network)",
    )
    parser.add_argument(
        "--max-flops",
        type=_size,
        default=None,
        metavar="N",
        help=f"FLOP (multiply-add) budget (a count; DARTS: the {DARTS_SETTING} network)",
    )
    return parser


def enable_compilation_cache() -> None:
    """Keep compiled searches on disk, so a second run in a new process skips XLA compilation."""
    jax.config.update("jax_compilation_cache_dir", str(cache_dir() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def _millions(count: int | None) -> str:
    return "n/a" if count is None else f"{count / 1e6:.3f} M"


def report(result: SearchResult, space: SearchSpace[Any], truth: dict[str, dict[str, float]] | None) -> str:
    """The human-readable summary printed to stdout."""
    size_note = f" ({DARTS_SETTING} network)" if space.name == "darts" else ""
    parts = ", ".join(f"{name} {part.score:.4f}" for name, part in result.parts.items())
    lines = [
        f"space           {result.space} ({result.method})",
        f"architecture    {result.arch_text}",
        f"score           {result.score:.4f}" + (f"  ({parts})" if parts else ""),
        f"params          {_millions(result.params)}{size_note}",
        f"FLOPs           {_millions(result.flops)}{size_note}",
        f"time            {result.seconds:.2f} s ({result.evaluations:,} predictor queries)",
    ]
    for dataset, value in (truth or {}).items():
        lines.append(
            f"{NB201_DATASETS.get(dataset, dataset):<16}{value['accuracy']:.2f} %  "
            f"(percentile {value['percentile']:.2f})"
        )
    return "\n".join(lines)


def _progress(line: str) -> None:
    """One write per line: the hybrid's two searches report from two threads."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    space = get_space(args.space)
    try:
        predictor = load_predictor(args.predictor)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        result = search(
            space,
            predictor,
            method=args.method,
            key=jax.random.PRNGKey(args.seed),
            population=args.population,
            generations=args.generations,
            max_params=args.max_params,
            max_flops=args.max_flops,
            progress=_progress,
        )
    except ValueError as err:
        parser.error(str(err))
    truth = None
    if has_truth(space):
        try:
            truth = true_accuracies(space, result.arch, args.data_dir)
        except DataError as err:
            print(f"(no true accuracies: {err})", file=sys.stderr)
    print(report(result, space, truth))
    if args.json is not None:
        payload = {
            **result.to_dict(),
            "seed": args.seed,
            "population": args.population,
            "generations": args.generations,
            "max_params": args.max_params,
            "max_flops": args.max_flops,
            "true_accuracy": truth,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    enable_compilation_cache()
    sys.exit(main())
