"""Tiny random-init predictors: fast to compile, and a landscape whose argmax brute force can find."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from tgnas_jax.batching import dense_batch
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor
from tgnas_jax.spaces import SPACES

#: Every op name the spaces use, and the cell ends.
OPS = ("input", "output", *sorted({op for space in SPACES.values() for op in space.ops}))


def make_predictor(seed: int = 0, cost_weight: float = 0.0, members: int = 1) -> Predictor:
    cfg = ModelConfig(hidden=16, layers=2, direction="forward", readout="mean", norm="graph")
    rng = np.random.default_rng(seed)
    vectors = {op: rng.normal(size=8).astype(np.float32) for op in OPS}
    example = dense_batch(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
    init = jax.jit(GCN(cfg).init)  # one compilation, not one per primitive
    params = tuple(
        init(jax.random.PRNGKey(seed + m), example, np.stack(list(vectors.values())))["params"] for m in range(members)
    )
    return Predictor(cfg, EmbeddingConfig(), params, vectors, cost_weight=cost_weight)


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    """Seed 2 prefers a large NB201 cell (1.29 M params) and large DARTS cells, so budgets bind."""
    return make_predictor(seed=2)


@pytest.fixture(scope="session")
def blended() -> Predictor:
    """With the model-size prior, as the shipped predictor has."""
    return make_predictor(seed=1, cost_weight=0.5, members=2)
