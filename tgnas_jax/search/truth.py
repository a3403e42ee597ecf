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

#: ``rows(archs)``: each architecture's row in a table, -1 where it is not there.
Rows = Callable[[Sequence[Any]], np.ndarray]


def percentile(values: np.ndarray, value: float) -> float:
    """Share (%) of the table's cells this one matches or beats."""
    return float(100.0 * (values[np.isfinite(values)] <= value).mean())


def has_truth(space: SearchSpace[Any]) -> bool:
    return isinstance(space, NB201Space | NB101Space)


def _table(space: SearchSpace[Any], data_dir: PathArg | None) -> tuple[dict[str, np.ndarray], Rows] | None:
    """The space's accuracy columns (%) and ``rows(archs)``, each arch's row (-1: not in the table); ``None``: no table.

    NB201: test accuracy on its three datasets; NB101: CIFAR-10 test accuracy (by nasbench hash);
    DARTS: NB301's CIFAR-10 validation accuracy of its 725 genotypes.
    """
    if isinstance(space, NB201Space):
        nb201 = load_nb201(data_dir)
        columns = {name: getattr(nb201, name) for name in NB201_DATASETS}
        return columns, lambda archs: np.array([nb201.index_of(space.format(a)) for a in archs], np.int64)
    if isinstance(space, NB101Space):
        nb101 = load_nb101(data_dir)

        def nb101_rows(archs: Sequence[Any]) -> np.ndarray:
            digests = np.array([space.hash(a) for a in archs], nb101.hashes.dtype)
            at = np.minimum(np.searchsorted(nb101.hashes, digests), len(nb101) - 1)
            return np.where(nb101.hashes[at] == digests, at, -1)

        return {"cifar10": 100.0 * nb101.test_accuracy}, nb101_rows
    if isinstance(space, DartsSpace):
        nb301 = load_nb301(data_dir)
        index = {text: i for i, text in enumerate(nb301.genotypes.tolist())}
        columns = {"nb301_cifar10_val": nb301.val_accuracy}
        return columns, lambda archs: np.array([index.get(space.format(a), -1) for a in archs], np.int64)
    return None


def accuracy_columns(
    space: SearchSpace[Any], data_dir: PathArg | None = None
) -> tuple[tuple[str, ...], Callable[[Sequence[Any]], dict[str, list[float | None]]]]:
    """``(names, lookup)``: the columns of the space's table (read once, here) and ``lookup(archs) ->
    {name: [accuracy % or None, ...]}``, ``None`` where the table lacks an arch (see :func:`_table`).

    ``DataError`` when the table is not reachable; no columns for a space without one.
    """
    found = _table(space, data_dir)
    if found is None:
        return (), lambda archs: {}
    columns, rows = found

    def lookup(archs: Sequence[Any]) -> dict[str, list[float | None]]:
        at = rows(archs)
        return {name: [float(values[r]) if r >= 0 else None for r in at] for name, values in columns.items()}

    return tuple(columns), lookup


def check_table(space: SearchSpace[Any], data_dir: PathArg | None = None) -> None:
    """Read (and so verify) the benchmark table of ``space``: ``DataError`` when it is missing or damaged."""
    if isinstance(space, NB201Space):
        load_nb201(data_dir)
    elif isinstance(space, NB101Space):
        load_nb101(data_dir)


def true_accuracies(space: SearchSpace[Any], arch: Any, data_dir: PathArg | None = None) -> dict[str, dict[str, float]]:
    """``{dataset: {"accuracy": %, "percentile": %}}``; ``DataError`` when the table is not reachable."""
    if not has_truth(space):
        raise ValueError(f"no benchmark table for the {space.name} space")
    columns, rows = _table(space, data_dir)  # type: ignore[misc]
    (row,) = rows([arch])
    if row < 0:
        raise KeyError(f"{space.format(arch)!r} is not in the {space.name} table")
    return {
        name: {"accuracy": float(acc[row]), "percentile": percentile(acc, acc[row])} for name, acc in columns.items()
    }
