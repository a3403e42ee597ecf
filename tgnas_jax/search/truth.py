"""What a found architecture really scores: its benchmark accuracies, where a table has them.

NB201: seed-averaged test accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120, and the
percentile among all 15,625 cells. NB101: CIFAR-10 test accuracy (108 epochs, run 0) and the
percentile among all 423,624 cells. DARTS: the NB301 CIFAR-10 validation accuracy of the 725
genotypes NAS-Bench-Suite-Zero holds (:func:`accuracy_columns` only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tgnas_jax.data import NB201_DATASETS, PathArg, load_nb101, load_nb201, load_nb301
from tgnas_jax.spaces import DartsSpace, NB101Space, NB201Space, SearchSpace


def percentile(values: np.ndarray, value: float) -> float:
    """Share (%) of the table's cells this one matches or beats."""
    return float(100.0 * (values[np.isfinite(values)] <= value).mean())


def has_truth(space: SearchSpace[Any]) -> bool:
    return isinstance(space, NB201Space | NB101Space)


def accuracy_columns(space: SearchSpace[Any], data_dir: PathArg | None = None) -> Callable[[Sequence[Any]], dict]:
    """``lookup(archs) -> {column: [accuracy % or None, ...]}`` over the space's table (read once, here).

    Columns: NB201 ``cifar10`` / ``cifar100`` / ``imagenet16`` test accuracy; NB101 ``cifar10``
    test accuracy; DARTS ``nb301_cifar10_val``, ``None`` for genotypes outside NB301's 725.
    ``DataError`` when the table is not reachable; ``{}`` lookups for a space without one.
    """
    if isinstance(space, NB201Space):
        table = load_nb201(data_dir)
        columns = {name: getattr(table, name) for name in NB201_DATASETS}

        def nb201(archs: Sequence[Any]) -> dict:
            rows = [table.index_of(space.format(a)) for a in archs]
            return {name: [float(acc[r]) for r in rows] for name, acc in columns.items()}

        return nb201
    if isinstance(space, NB101Space):
        nb101_table = load_nb101(data_dir)
        accuracy = 100.0 * nb101_table.test_accuracy

        def nb101(archs: Sequence[Any]) -> dict:
            digests = np.array([space.hash(a) for a in archs], nb101_table.hashes.dtype)
            rows = np.minimum(np.searchsorted(nb101_table.hashes, digests), len(nb101_table) - 1)
            found = nb101_table.hashes[rows] == digests
            return {"cifar10": [float(accuracy[r]) if f else None for r, f in zip(rows, found, strict=True)]}

        return nb101
    if isinstance(space, DartsSpace):
        nb301 = load_nb301(data_dir)
        by_text = dict(zip(nb301.genotypes.tolist(), nb301.val_accuracy.tolist(), strict=True))

        def darts(archs: Sequence[Any]) -> dict:
            return {"nb301_cifar10_val": [by_text.get(space.format(a)) for a in archs]}

        return darts
    return lambda archs: {}


def accuracy_names(space: SearchSpace[Any]) -> tuple[str, ...]:
    """The columns :func:`accuracy_columns` gives for ``space``."""
    if isinstance(space, NB201Space):
        return tuple(NB201_DATASETS)
    if isinstance(space, NB101Space):
        return ("cifar10",)
    return ("nb301_cifar10_val",) if isinstance(space, DartsSpace) else ()


def check_table(space: SearchSpace[Any], data_dir: PathArg | None = None) -> None:
    """Read (and so verify) the benchmark table of ``space``: ``DataError`` when it is missing or damaged."""
    if isinstance(space, NB201Space):
        load_nb201(data_dir)
    elif isinstance(space, NB101Space):
        load_nb101(data_dir)


def true_accuracies(space: SearchSpace[Any], arch: Any, data_dir: PathArg | None = None) -> dict[str, dict[str, float]]:
    """``{dataset: {"accuracy": %, "percentile": %}}``; ``DataError`` when the table is not reachable."""
    if isinstance(space, NB201Space):
        table = load_nb201(data_dir)
        row = table.index_of(space.format(arch))
        columns = {name: getattr(table, name) for name in NB201_DATASETS}
        return {
            name: {"accuracy": float(acc[row]), "percentile": percentile(acc, acc[row])}
            for name, acc in columns.items()
        }
    if isinstance(space, NB101Space):
        table = load_nb101(data_dir)
        digest = space.hash(arch)
        row = int(np.searchsorted(table.hashes, digest))
        if row == len(table) or table.hashes[row] != digest:
            raise KeyError(f"{space.format(arch)!r} (hash {digest}) is not in the NB101 table")
        accuracy = 100.0 * table.test_accuracy
        return {"cifar10": {"accuracy": float(accuracy[row]), "percentile": percentile(accuracy, accuracy[row])}}
    raise ValueError(f"no benchmark table for the {space.name} space")
