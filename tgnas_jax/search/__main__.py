"""``python -m tgnas_jax.search``: the command line of :func:`tgnas_jax.search.search`.

Everything it checks is checked before the predictor is loaded or the search runs, so a bad
option or an unwritable output costs no search; ``DESCRIPTION`` is its plain-text help.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from tgnas_jax import strictjson
from tgnas_jax._cli import (
    LOGGER,
    HelpFormatter,
    add_predictor_options,
    add_verbosity,
    configure_logging,
    finish,
    int_at_least,
    space_name,
    unwritable,
)
from tgnas_jax.compilation import enable_compilation_cache
from tgnas_jax.data import DATA_DIR_ENV, NB201_DATASETS, DataError
from tgnas_jax.embeddings import add_describe_option
from tgnas_jax.predictor_files import CheckpointError, load_predictor
from tgnas_jax.search.api import DEFAULT_GENERATIONS, DEFAULT_POPULATION, METHODS, MIN_POPULATION, SearchResult, search
from tgnas_jax.search.limits import MAX_GENERATIONS, MAX_POPULATION, MAX_QUERIES, search_cost
from tgnas_jax.search.truth import check_table, has_truth, true_accuracies
from tgnas_jax.spaces import SPACES, DartsSpace, NB201Space, SearchSpace, SpecError, get_space
from tgnas_jax.spaces.darts import SETTINGS
from tgnas_jax.spaces.nb201 import DATASETS

DESCRIPTION = """\
Search a space (NAS-Bench-201, NAS-Bench-101 or DARTS) with the predictor and report the
architecture found: its predicted score, its size, the search time and, where the benchmark
table is reachable (--data-dir or $TGNAS_DATA_DIR), its true accuracies. Progress goes to
stderr, the report to stdout."""
EPILOG = """\
example:
  python -m tgnas_jax.search --space darts --setting cifar10 --max-params 3.3e6 --json darts.json --plot darts.png"""
MAX_SEED = 2**32


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}") from None
    if not 0 <= value < MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {value}")
    return value


def _size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1.2e6, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tgnas_jax.search", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--space",
        type=space_name,
        default="nb201",
        metavar="SPACE",
        help=f"search space: {', '.join(sorted(SPACES))}, or a .json / .toml space spec file (see the README)",
    )
    parser.add_argument(
        "--setting",
        choices=list(SETTINGS),
        default=None,
        help="darts only: the network sizes count, budgets bound and the size prior reads (default: cifar10)",
    )
    parser.add_argument(
        "--dataset",
        choices=list(DATASETS),
        default=None,
        help="nb201 only: the dataset whose network (classifier head, image size) sizes count (default: cifar10)",
    )
    parser.add_argument("--method", choices=METHODS, default="hybrid", help="search method")
    parser.add_argument("--seed", type=_seed, default=0, help="PRNG seed of the evolutionary searches, 0 to 2**32-1")
    parser.add_argument(
        "--population", type=int_at_least(MIN_POPULATION), default=DEFAULT_POPULATION, help="evolution population"
    )
    parser.add_argument(
        "--generations", type=int_at_least(1), default=DEFAULT_GENERATIONS, help="evolution generations"
    )
    add_predictor_options(parser)
    parser.add_argument("--data-dir", type=Path, default=None, help="benchmark data (default: $TGNAS_DATA_DIR)")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="also write the results as JSON (default: no file)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="also plot the score of each generation / round, per method (needs matplotlib; default: no plot)",
    )
    parser.add_argument(
        "--max-params",
        type=_size,
        default=None,
        metavar="N",
        help="parameter budget, a count, of the network --setting / --dataset names (default: none)",
    )
    parser.add_argument(
        "--max-flops",
        type=_size,
        default=None,
        metavar="N",
        help="FLOP (multiply-add) budget, a count, of that network (default: none)",
    )
    add_describe_option(parser)
    add_verbosity(parser)
    return parser


def make_space(args: argparse.Namespace) -> SearchSpace[Any]:
    """The space ``--space`` names, measuring the network ``--setting`` (DARTS) or ``--dataset`` (NB201) names."""
    if args.space == "darts":
        return DartsSpace(setting=args.setting or "cifar10")
    if args.space == "nb201":
        classes, side = DATASETS[args.dataset or "cifar10"]
        return NB201Space(num_classes=classes, input_size=side)
    return get_space(args.space)


def _millions(count: int | None) -> str:
    return "n/a" if count is None else f"{count / 1e6:.3f} M"


def report(result: SearchResult, space: SearchSpace[Any], truth: dict[str, dict[str, float]] | None) -> str:
    """The human-readable summary printed to stdout."""
    size_note = f"  ({space.network})" if space.network else ""
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


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bounds that need several arguments, and the output paths; a failure is ``parser.error`` (exit 2)."""
    for option, space in (("--setting", "darts"), ("--dataset", "nb201")):
        value = getattr(args, option[2:])
        if value is not None and args.space != space:
            parser.error(f"argument {option}: only the {space} space has one; --space is {args.space}")
    limits = (
        ("--population", args.population, MAX_POPULATION),
        ("--generations", args.generations, MAX_GENERATIONS),
        ("--population x (--generations + 1)", args.population * (args.generations + 1), MAX_QUERIES),
    )
    for name, value, most in limits:
        if value > most:
            cost = search_cost(args.space, args.population, args.generations)
            parser.error(f"argument {name}: must be at most {most:,}, got {value:,}; that search would need {cost}")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        reason = None if path is None else unwritable(path)
        if reason is not None:
            parser.error(f"argument {option}: cannot write {str(path)!r}: {reason}")
    if args.plot is not None:
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError:
            parser.error("argument --plot: needs matplotlib (pip install 'tgnas-jax[plots]')")
        suffix = args.plot.suffix.lower()
        if suffix[1:] not in FigureCanvasBase.get_supported_filetypes():
            reason = f"matplotlib writes no {suffix} files" if suffix else "no suffix tells matplotlib the format"
            parser.error(f"argument --plot: cannot write {str(args.plot)!r}: {reason}; use .png, .pdf or .svg, say")


def plot_history(result: SearchResult, path: Path) -> None:
    """The score of each generation (evolution: the best so far; pruning: the supernet's, per round), per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for name, part in (result.parts or {result.method: result}).items():
        history = np.asarray(part.history, np.float64)
        # Non-finite scores (a broken cell, a supernet over the budget) are left as gaps.
        scores = np.where(np.isfinite(history), history, np.nan)
        ax.plot(scores, marker=".", label=f"{name} (final {part.score:.4f})")
    ax.set(
        title=f"{result.space} search ({result.method})",
        xlabel="generation (evolution) / round (pruning)",
        ylabel="predicted score",
    )
    ax.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    configure_logging(args)
    try:
        space = make_space(args)
    except SpecError as err:
        parser.error(f"argument --space: {err}")
    LOGGER.debug("predictor: %s", args.predictor or "the shipped one")
    try:
        predictor = load_predictor(args.predictor, args.members)
        # A data directory that was asked for must be readable: found before the search, not after it.
        if has_truth(space) and (args.data_dir is not None or os.environ.get(DATA_DIR_ENV)):
            check_table(space, args.data_dir)
    except (CheckpointError, DataError, ValueError) as err:  # ValueError: more --members than the ensemble has
        LOGGER.error("error: %s", err)
        return 1
    if space.network:
        LOGGER.debug("sizes and budgets count the %s", space.network)
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
            progress=LOGGER.info,
            describe=args.describe,
        )
    except ValueError as err:
        parser.error(str(err))
    truth = None
    if has_truth(space):
        try:
            truth = true_accuracies(space, result.arch, args.data_dir)
        except DataError as err:
            LOGGER.warning("(no true accuracies: %s)", err)
    print(report(result, space, truth))
    payload = {
        **result.to_dict(),
        "network": space.network,
        "seed": args.seed,
        "population": args.population,
        "generations": args.generations,
        "max_params": args.max_params,
        "max_flops": args.max_flops,
        "true_accuracy": truth,
    }
    outputs = (
        (args.json, lambda path: path.write_text(strictjson.dumps(payload, indent=2) + "\n")),
        (args.plot, lambda path: plot_history(result, path)),
    )
    for path, write in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        except OSError as err:
            LOGGER.error("error: could not write %r: %s", str(path), err.strerror or err)
            return 1
        LOGGER.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    enable_compilation_cache(min_compile_seconds=0)
    finish(main())
