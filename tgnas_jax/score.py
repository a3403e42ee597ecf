"""python -m tgnas_jax.score: score a file of architectures with the predictor, streaming.

Reads one architecture string per line (or a CSV column / JSON-lines field) from a file or from
standard input, and writes a table with each architecture's score and rank (1 = best), plus its
true accuracies where the space's benchmark table is reachable (--data-dir or $TGNAS_DATA_DIR).

Across hosts (--num-processes, --process-id, --coordinator, or --distributed: jax.distributed's own
detection), process I of N scores the I-th of N consecutive blocks of the input and writes
OUT.partI-of-N.SUFFIX; the scores are gathered, so every part carries global indices and ranks.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tgnas_jax import parallel
from tgnas_jax._cli import (
    LOGGER,
    HelpFormatter,
    add_predictor_options,
    add_verbosity,
    configure_logging,
    finish,
    int_at_least,
    shows_progress,
    space_name,
    unwritable,
)
from tgnas_jax.archfiles import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    InputError,
    RowWriter,
    guess_format,
    read_archs,
    short_float,
)
from tgnas_jax.compilation import enable_compilation_cache
from tgnas_jax.data import DATA_DIR_ENV, DataError
from tgnas_jax.embeddings import add_describe_option
from tgnas_jax.predictor import Predictor
from tgnas_jax.predictor_files import CheckpointError, load_predictor
from tgnas_jax.search.truth import accuracy_columns
from tgnas_jax.spaces import SPACES, SearchSpace, SpaceError, SpecError, get_space
from tgnas_jax.streaming import DEFAULT_CHUNK, chunked, prefetched

log = LOGGER.getChild("score")
#: Largest chunk accepted: beyond this, memory grows with no gain in speed.
MAX_CHUNK = 1 << 20
EXAMPLES = """examples:
  python -m tgnas_jax.score cells.txt --space nb201 --out scores.csv
  python -m tgnas_jax.score runs.csv --column genotype --space darts --top 10
  cat cells.txt | python -m tgnas_jax.score --space nb201 --to jsonl > scores.jsonl

Output columns: index (0-based position in the input), arch (as given), score (higher is better;
-inf in CSV and Parquet, null in JSON: no data reaches the cell's output), rank, the true
accuracies (%) where a benchmark table is reachable, and error with --skip-invalid. The rows keep
the input's order; with --top K only the K best are written, best first.

Two processes, one part each (index and rank are global; the parts in process order are the
one-process table, with --top K the global K best, sorted by rank once merged):
  python -m tgnas_jax.score cells.txt --space nb201 --out s.csv --num-processes 2 --process-id 0 --coordinator HOST:1234
  python -m tgnas_jax.score cells.txt --space nb201 --out s.csv --num-processes 2 --process-id 1 --coordinator HOST:1234
  { cat s.part0-of-2.csv; tail -n +2 s.part1-of-2.csv; } > s.csv    # JSONL: cat s.part*-of-2.jsonl"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tgnas_jax.score",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("input", nargs="?", default="-", help="file of architectures (default: - for standard input)")
    parser.add_argument(
        "--space",
        type=space_name,
        required=True,
        metavar="SPACE",
        help=f"the space the architectures belong to: {', '.join(sorted(SPACES))}, or a .json / .toml spec file",
    )
    parser.add_argument(
        "--format", choices=INPUT_FORMATS, default=None, help="input format (default: from the suffix; else lines)"
    )
    parser.add_argument("--column", default="arch", help="CSV column or JSON field holding the arch (default: arch)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE", help="output file (default: stdout)")
    parser.add_argument(
        "--to", choices=OUTPUT_FORMATS, default=None, help="output format (default: from --out's suffix; else csv)"
    )
    parser.add_argument("--top", type=int_at_least(1, 10**9), default=None, metavar="K", help="write only the K best")
    add_predictor_options(parser)
    parser.add_argument("--data-dir", type=Path, default=None, help=f"benchmark tables (default: ${DATA_DIR_ENV})")
    parser.add_argument("--no-prior", action="store_true", help="score with the GCN alone, without the size prior")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write invalid lines with an error and no score (default: stop at the first, writing nothing)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int_at_least(1, MAX_CHUNK),
        default=DEFAULT_CHUNK,
        metavar="N",
        help="architectures per chunk",
    )
    add_describe_option(parser)
    hosts = parser.add_argument_group("across hosts (jax.distributed; needs an input file and --out)")
    hosts.add_argument(
        "--distributed",
        action="store_true",
        help="start jax.distributed, the options below or its cluster detection (TPU pods, SLURM, Open MPI) "
        "filling in the rest; implied by them",
    )
    hosts.add_argument(
        "--num-processes", type=int_at_least(1, 1 << 20), default=None, metavar="N", help="processes in all"
    )
    hosts.add_argument(
        "--process-id", type=int_at_least(0, 1 << 20), default=None, metavar="I", help="this one, 0..N-1"
    )
    hosts.add_argument(
        "--coordinator",
        default=None,
        metavar="HOST:PORT",
        help="process 0's address, the same for all (default: $JAX_COORDINATOR_ADDRESS or detected)",
    )
    add_verbosity(parser)
    return parser


def _check_out(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The output format, after checking the output can be written (before any scoring)."""
    fmt = args.to or guess_format(args.out, OUTPUT_FORMATS, "csv")
    if fmt == "parquet":
        if args.out is None:
            parser.error("Parquet output needs a file: give --out FILE.parquet")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            parser.error("Parquet output needs pyarrow: pip install 'tgnas-jax[parquet]' (or pyarrow)")
    reason = None if args.out is None else unwritable(args.out)
    if reason is not None:
        parser.error(f"argument --out: cannot write {str(args.out)!r}: {reason}")
    return fmt


def _open_input(parser: argparse.ArgumentParser, name: str, spool: Path) -> Path:
    """A file path to read twice: the input itself, or standard input copied to ``spool``."""
    if name != "-":
        path = Path(name)
        if not path.is_file():
            parser.error(f"input {name!r} is not a file")
        try:
            path.open("rb").close()
        except OSError as err:
            parser.error(f"cannot read input {name!r}: {err.strerror or err}")
        return path
    if sys.stdin.isatty():
        parser.error("no input: give a file, or pipe architectures into standard input")
    with spool.open("wb") as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy)
    return spool


class _Scored:
    """Pass one's result: a float32 score per input record (NaN: invalid) and how many were invalid."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.invalid = 0

    @property
    def scores(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


def _records(path: Path, name: str, fmt: str, column: str) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        yield from read_archs(stream, name, fmt, column)


def _parse_chunk(space: SearchSpace[Any], chunk: list[tuple[int, str]]) -> list[tuple[int, str, Any, str | None]]:
    """``(line, text, arch or None, error or None)`` of each record."""
    parsed = []
    for line, text in chunk:
        try:
            parsed.append((line, text, space.parse(text), None))
        except SpaceError as err:
            parsed.append((line, text, None, str(err)))
    return parsed


def _score_all(
    predictor: Predictor, space: SearchSpace[Any], records: Iterator[tuple[int, str]], args: argparse.Namespace,
    name: str,
) -> _Scored:  # fmt: skip
    scored = _Scored()
    bar = tqdm(unit=" archs", desc="scoring", disable=None if shows_progress() else True, file=sys.stderr)
    with bar:
        for chunk in prefetched(chunked(records, args.chunk_size), lambda c: _parse_chunk(space, c)):
            scores = np.full(len(chunk), np.nan, np.float32)
            good = [i for i, (_, _, arch, _) in enumerate(chunk) if arch is not None]
            for line, _, _, error in chunk:
                if error is not None and not args.skip_invalid:
                    raise InputError(f"{name} line {line}: {error} (--skip-invalid writes such lines and goes on)")
            if good:
                archs = [chunk[i][2] for i in good]
                scores[good] = predictor.score(archs, space, describe=args.describe, prior=not args.no_prior)
            scored.invalid += len(chunk) - len(good)
            scored.parts.append(scores)
            bar.update(len(chunk))
    return scored


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1 = best; ties keep input order; invalid records (NaN) get 0."""
    valid = ~np.isnan(scores)
    order = np.flatnonzero(valid)[np.argsort(-scores[valid], kind="stable")]
    ranks = np.zeros(len(scores), np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def _write(
    writer: RowWriter, records: Iterator[tuple[int, str]], scores: np.ndarray, ranks: np.ndarray,
    keep: set[int] | None, space: SearchSpace[Any], lookup: Any, chunk_size: int, block: range | None = None,
) -> None:  # fmt: skip
    """Pass two: the rows of the kept records (all when ``keep`` is ``None``), in input order or by rank.

    ``block``: the indices ``records`` holds (a process's share; default all of ``scores``).
    """
    block = range(len(scores)) if block is None else block
    held: list[dict[str, Any]] = []
    for start, chunk in zip(range(block.start, block.stop, chunk_size), chunked(records, chunk_size), strict=False):
        rows = []
        for index, (_, text) in enumerate(chunk, start=start):
            if keep is not None and index not in keep:
                continue
            valid = not np.isnan(scores[index])
            row = {"index": index, "arch": text, "score": None, "rank": None}
            if valid:
                row.update(score=short_float(scores[index]), rank=int(ranks[index]))
            else:
                row["error"] = _error(space, text)
            rows.append(row)
        if lookup is not None:  # true accuracies: only they need the parsed architectures
            live = [row for row in rows if row["rank"] is not None]
            for column, values in lookup([space.parse(row["arch"]) for row in live]).items():
                for row, value in zip(live, values, strict=True):
                    row[column] = value
        if keep is None:
            writer.write(rows)
        else:
            held.extend(rows)
    if keep is not None:
        writer.write(sorted(held, key=lambda row: row["rank"]))


def _error(space: SearchSpace[Any], text: str) -> str:
    try:
        space.parse(text)
    except SpaceError as err:
        return str(err)
    return ""


def _join(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int, int] | None:
    """``(process index, process count)`` from ``jax.distributed``, started here; ``None``: one process alone."""
    if not (args.distributed or args.coordinator or args.num_processes is not None or args.process_id is not None):
        return None
    if args.input == "-":
        parser.error("scoring across processes reads a file each of them opens: give an input file, not stdin")
    if args.out is None:
        parser.error("scoring across processes writes a part file per process: give --out FILE")
    if (args.num_processes is None) != (args.process_id is None):
        parser.error("--num-processes and --process-id go together")
    if args.process_id is not None and args.process_id >= args.num_processes:
        parser.error(f"--process-id must be below --num-processes ({args.num_processes}), got {args.process_id}")
    import jax

    # Before anything runs on a device: jax.distributed has to know every process first.
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    return jax.process_index(), jax.process_count()


def part_path(out: Path, process: int, count: int) -> Path:
    """Where process ``process`` of ``count`` writes its rows: ``s.csv`` -> ``s.part0-of-2.csv``."""
    return out.with_name(f"{out.stem}.part{process}-of-{count}{out.suffix}")


def _block(records: Iterator[Any], process: int, count: int) -> tuple[range, int]:
    """This process's consecutive share of the records' indices, and how many records there are."""
    total = sum(1 for _ in records)
    return range(process * total // count, (process + 1) * total // count), total


def _gather(local: np.ndarray | None, total: int, count: int) -> np.ndarray | None:
    """Every process's block of scores, in input order; ``None`` when a process failed (``local`` ``None`` here)."""
    from jax.experimental import multihost_utils

    mine = np.full(max(-(-total // count), 1), np.nan, np.float32)  # equal shapes, none empty
    if local is not None:
        mine[: len(local)] = local
    blocks, failed = multihost_utils.process_allgather((mine, np.array([local is None])))
    if failed.any():
        if local is not None:  # a process that failed has said why
            others = ", ".join(str(k) for k in np.flatnonzero(failed))
            log.error("error: process %s failed (its log says why); no part written", others)
        return None
    sizes = [(k + 1) * total // count - k * total // count for k in range(count)]
    return np.concatenate([block[:size] for block, size in zip(blocks, sizes, strict=True)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args)
    try:
        joined = _join(parser, args)
    except (RuntimeError, ValueError) as err:  # jax.distributed: no coordinator, or it did not answer
        log.error("error: cannot start jax.distributed: %s", err)
        return 1
    if joined is not None:
        args.out = part_path(args.out, *joined)
    fmt_out = _check_out(parser, args)
    try:
        space = get_space(args.space)
    except SpecError as err:
        parser.error(f"argument --space: {err}")
    columns = ["index", "arch", "score", "rank"]
    with tempfile.TemporaryDirectory(prefix="tgnas-score-") as scratch:
        path = _open_input(parser, args.input, Path(scratch) / "stdin")
        name = "<stdin>" if args.input == "-" else args.input
        fmt_in = args.format or guess_format(None if args.input == "-" else path, INPUT_FORMATS, "lines")
        try:
            predictor = load_predictor(args.predictor, args.members)
        except (CheckpointError, ValueError) as err:  # ValueError: more --members than the ensemble has
            log.error("error: %s", err)
            return 1
        lookup = None
        if args.data_dir is not None or os.environ.get(DATA_DIR_ENV):
            try:
                names, table_lookup = accuracy_columns(space, args.data_dir)
            except DataError as err:
                log.error("error: %s", err)
                return 1
            columns += list(names)
            lookup = table_lookup if names else None
        if args.skip_invalid:
            columns.append("error")
        start = time.perf_counter()
        try:
            block, total = (None, 0) if joined is None else _block(_records(path, name, fmt_in, args.column), *joined)
        except InputError as err:  # each process reads the whole file, so all of them stop here
            log.error("error: %s", err)
            return 1
        records = _records(path, name, fmt_in, args.column)
        try:
            scored = _score_all(
                predictor, space, records if block is None else itertools.islice(records, block.start, block.stop),
                args, name,
            )  # fmt: skip
        except InputError as err:
            log.error("error: %s", err)
            if block is None:
                return 1
            scored = None
        if block is None:
            scores = scored.scores
        else:
            gathered = _gather(None if scored is None else scored.scores, total, joined[1])
            if gathered is None:
                return 1
            scores = gathered
        seconds = time.perf_counter() - start
        ranks = _ranks(scores)
        # --top K: the K best, by the ranks every row gets (ties keep input order).
        keep = set(np.flatnonzero((ranks >= 1) & (ranks <= args.top)).tolist()) if args.top is not None else None
        types = {"index": "int", "rank": "int", "arch": "str", "error": "str"}
        writer = RowWriter(args.out, fmt_out, columns, {c: types.get(c, "float") for c in columns})
        try:
            records = _records(path, name, fmt_in, args.column)
            if block is not None:
                records = itertools.islice(records, block.start, block.stop)
            _write(writer, records, scores, ranks, keep, space, lookup, args.chunk_size, block)
            writer.close()
        except BaseException:
            writer.discard()
            raise
    mine = len(scores) if block is None else len(block)
    share = (
        ""
        if block is None
        else f" (of {total:,}, from index {block.start:,}; process {joined[0]} of {joined[1]}, "
        f"{parallel.device_count()} local devices)"
    )
    rate = mine / seconds if seconds > 0 else float("inf")
    log.info(
        "scored %s architectures%s in %.2f s (%s/s)%s%s",
        f"{mine:,}",
        share,
        seconds,
        f"{rate:,.0f}",
        f", {scored.invalid:,} invalid" if scored.invalid else "",
        f"; wrote {args.out}" if args.out is not None else "",
    )
    return 0


if __name__ == "__main__":
    enable_compilation_cache(min_compile_seconds=0)
    finish(main())
