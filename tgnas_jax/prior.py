"""The size prior blended into a predictor's scores: data-free counts a NAS user already has.

``score = z(gcn) + weight * z(log FLOPs) + conv_weight * z(convolutions)``, each term
standardised on a fixed sample of the space. The GCN alone ranks NB101-like cells well but knows
little of how much a network computes; the FLOP term says how big it is, the convolution term how
much of it learns spatial features (NB101's pools and identities do not). The weights were chosen
on NB301 and on NB101's operator-transfer hold-out (``benchmarks/prior_selection.py``), never on NB201.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tgnas_jax.embeddings.attributes import ATTRIBUTES, attribute_vector
from tgnas_jax.graph import ArchGraph

_CONV = ATTRIBUTES.index("conv")


@lru_cache(maxsize=4096)
def is_convolution(op: str) -> bool:
    """Whether operator ``op`` is a convolution by its name: dense, separable, dilated, inverted-residual,
    and fully connected layers (a 1x1 convolution of a 1x1 input)."""
    return bool(attribute_vector(op)[_CONV])


def convolution_flags(vocab: Sequence[str]) -> np.ndarray:
    """``float32[len(vocab)]``: 1 for each convolution of ``vocab``, 0 otherwise (a search indexes it with op ids)."""
    return np.array([is_convolution(op) for op in vocab], np.float32)


def convolution_count(cells: Sequence[ArchGraph]) -> int:
    """Convolution nodes over all the cells of one architecture."""
    return sum(is_convolution(op) for graph in cells for op in graph.ops)


@dataclass(frozen=True)
class CostBlend:
    """GCN score plus the size prior, each term standardised on a reference sample of the space.

    Works on numpy and jax arrays alike, so a search applies it inside jit; its fields, in order,
    are the array a search passes through its jit (``search.problem.Scorer``).
    """

    weight: float
    score_mean: float
    score_std: float
    cost_mean: float
    cost_std: float
    conv_weight: float = 0.0
    conv_mean: float = 0.0
    conv_std: float = 1.0

    @classmethod
    def fit(
        cls, weight: float, conv_weight: float, scores: np.ndarray, log_flops: np.ndarray, convs: np.ndarray
    ) -> CostBlend:
        """The blend standardised on a reference sample (broken cells, scored ``-inf``, left out of the GCN term).

        A term that is the same for the whole sample (a space without convolutions) gets unit scale:
        it then adds a constant, never a division by zero.
        """
        live = np.isfinite(scores)
        return cls(
            weight=weight,
            score_mean=float(scores[live].mean()),
            score_std=_scale(scores[live]),
            cost_mean=float(log_flops.mean()),
            cost_std=_scale(log_flops),
            conv_weight=conv_weight,
            conv_mean=float(np.mean(convs)),
            conv_std=_scale(np.asarray(convs, np.float64)),
        )

    def apply(self, scores: Any, log_flops: Any, convs: Any) -> Any:
        z_score = (scores - self.score_mean) / self.score_std
        z_cost = (log_flops - self.cost_mean) / self.cost_std
        return z_score + self.weight * z_cost + self.conv_weight * (convs - self.conv_mean) / self.conv_std


def _scale(x: np.ndarray) -> float:
    std = float(np.std(x))
    return std if std > 0 else 1.0
