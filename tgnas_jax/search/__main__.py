"""``python -m tgnas_jax.search``: search a space with the predictor and report what was found.

Defaults to a hybrid NB201 search with the shipped predictor. Prints the architecture, its
predicted score, size and search time and, where the benchmark table is reachable (``--data-dir``
or ``$TGNAS_DATA_DIR``), its true accuracies; ``--json`` writes all of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax

from tgnas_jax import strictjson
from tgnas_jax.data import DATA_DIR_ENV, NB201_DATASETS, DataError, cache_dir
from tgnas_jax.predictor import CheckpointError, load_predictor
from tgnas_jax.search.api import DEFAULT_GENERATIONS, DEFAULT_POPULATION, METHODS, MIN_POPULATION, SearchResult, search
from tgnas_jax.search.encoding import DARTS_SETTING
from tgnas_jax.search.limits import MAX_GENERATIONS, MAX_POPULATION, MAX_QUERIES, search_cost
from tgnas_jax.search.truth import check_table, has_truth, true_accuracies
from tgnas_jax.spaces import SPACES, SearchSpace, get_space

MAX_SEED = 2**32


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}") from None
    if not 0 <= value < MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {value}")
    return value


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
    parser.add_argument("--seed", type=_seed, default=0, help="PRNG seed of the evolutionary searches, 0 to 2**32-1")
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


def unwritable(path: Path) -> str | None:
    """Why the JSON cannot be written to ``path``, or ``None``: checked first, so a search is not lost to it."""
    try:
        if path.is_dir():
            return "it is a directory"
        folder = path.parent
        while not folder.exists():  # folders --json will create
            folder = folder.parent
        if not folder.is_dir():
            return f"{str(folder)!r} is not a directory"
        if path.exists() and not os.access(path, os.W_OK):
            return "it is not writable"
        if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
            return f"folder {str(folder)!r} is not writable"
        # Permissions do not tell everything (root, read-only or virtual file systems): try a
        # file in the nearest existing folder, and leave nothing behind.
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        return err.strerror or str(err)
    return None


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bounds that need several arguments, and the output path; a failure is ``parser.error`` (exit 2)."""
    limits = (
        ("--population", args.population, MAX_POPULATION),
        ("--generations", args.generations, MAX_GENERATIONS),
        ("--population x (--generations + 1)", args.population * (args.generations + 1), MAX_QUERIES),
    )
    for name, value, most in limits:
        if value > most:
            cost = search_cost(args.space, args.population, args.generations)
            parser.error(f"argument {name}: must be at most {most:,}, got {value:,}; that search would need {cost}")
    if args.json is not None:
        reason = unwritable(args.json)
        if reason is not None:
            parser.error(f"argument --json: cannot write {str(args.json)!r}: {reason}")


def _progress(line: str) -> None:
    """One write per line: the hybrid's two searches report from two threads."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    space = get_space(args.space)
    try:
        predictor = load_predictor(args.predictor)
        # A data directory that was asked for must be readable: found before the search, not after it.
        if has_truth(space) and (args.data_dir is not None or os.environ.get(DATA_DIR_ENV)):
            check_table(space, args.data_dir)
    except (CheckpointError, DataError) as err:
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
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(strictjson.dumps(payload, indent=2) + "\n")
        except OSError as err:
            print(f"error: could not write {str(args.json)!r}: {err.strerror or err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    enable_compilation_cache()
    sys.exit(main())
