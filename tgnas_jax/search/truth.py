"""What a found architecture really scores: its benchmark accuracies, where a table has them.

NB201: seed-averaged test accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120, and the
percentile among all 15,625 cells. NB101: CIFAR-10 test accuracy (108 epochs, run 0) and the
percentile among all 423,624 cells. DARTS has no table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tgnas_jax.data import NB201_DATASETS, PathArg, load_nb101, load_nb201
from tgnas_jax.spaces import NB101Space, NB201Space, SearchSpace


def percentile(values: np.ndarray, value: float) -> float:
    """Share (%) of the table's cells this one matches or beats."""
    return float(100.0 * (values[np.isfinite(values)] <= value).mean())


def has_truth(space: SearchSpace[Any]) -> bool:
    return isinstance(space, NB201Space | NB101Space)


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
