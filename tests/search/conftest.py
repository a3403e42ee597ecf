"""Tiny random-init predictors: fast to compile, and a landscape whose argmax brute force can find."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
import pytest

from tgnas_jax.batching import DenseCells
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor
from tgnas_jax.prior import convolution_count
from tgnas_jax.search.encoding import encoding_for
from tgnas_jax.search.problem import Problem, Scorer
from tgnas_jax.spaces import SPACES
from tgnas_jax.spaces.base import SearchSpace

#: Every op name the spaces use, and the cell ends.
OPS = ("input", "output", *sorted({op for space in SPACES.values() for op in space.ops}))


def make_predictor(
    seed: int = 0, cost_weight: float = 0.0, members: int = 1, extra_ops: Sequence[str] = (), conv_weight: float = 0.0
) -> Predictor:
    cfg = ModelConfig(hidden=16, layers=2, direction="forward", readout="mean", norm="graph")
    rng = np.random.default_rng(seed)
    vectors = {op: rng.normal(size=8).astype(np.float32) for op in (*OPS, *extra_ops)}
    example = DenseCells(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
    init = jax.jit(GCN(cfg).init)  # one compilation, not one per primitive
    params = tuple(
        init(jax.random.PRNGKey(seed + m), example, np.stack(list(vectors.values())))["params"] for m in range(members)
    )
    return Predictor(cfg, EmbeddingConfig(), params, vectors, cost_weight=cost_weight, conv_weight=conv_weight)


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    """Seed 2 prefers a large NB201 cell (1.29 M params) and large DARTS cells, so budgets bind."""
    return make_predictor(seed=2)


@pytest.fixture(scope="session")
def blended() -> Predictor:
    """With the size prior (log FLOPs and convolutions), as the shipped predictor has."""
    return make_predictor(seed=1, cost_weight=0.5, members=2, conv_weight=0.5)


@pytest.fixture(scope="session")
def jitted_scores() -> Any:
    """``f(space, predictor, archs)``: scores as a search computes them inside jit."""
    return _jitted_scores


def _jitted_scores(
    space: SearchSpace[Any], predictor: Predictor, archs: Sequence[Any], batch: int = 1024
) -> np.ndarray:
    """Scores of ``archs`` as a search computes them inside jit (what it maximises), ``batch`` at a time."""
    encoding = encoding_for(space)
    choices = np.stack([encoding.from_arch(a) for a in archs])
    padded = np.concatenate([choices, np.repeat(choices[:1], -len(choices) % batch, axis=0)])
    scorer = Scorer.of(predictor, encoding)
    program = jax.jit(lambda weights, chunks: jax.lax.map(Problem.bind(encoding, scorer, weights, None).scores, chunks))
    scores = program(scorer.weights, padded.reshape(-1, batch, encoding.num_genes))
    return np.asarray(scores).reshape(-1)[: len(choices)]


@pytest.fixture(scope="session")
def graph_scores() -> Any:
    """``f(space, predictor, archs)``: scores from the archs' graphs, packed, blended as ``Predictor.score``
    blends: the reference, independent of the encodings, that jitted scores must equal."""
    return _graph_scores


def _graph_scores(space: SearchSpace[Any], predictor: Predictor, archs: Sequence[Any]) -> np.ndarray:
    cells = [space.to_graphs(a) for a in archs]
    # Raw graphs: the GCN alone, through packed jraph batches; the cells weighted as the network repeats them.
    per_cell = predictor.score([(g,) for group in cells for g in group]).reshape(len(cells), -1)
    gcn = np.average(per_cell, axis=1, weights=space.cell_counts)
    blend = predictor.cost_blend(space)
    if blend is None:
        return gcn
    convs = np.array([convolution_count(c) for c in cells])
    return blend.apply(gcn, np.log([space.num_flops(a) for a in archs]), convs)


@pytest.fixture(scope="session")
def predictor_factory() -> Any:
    """:func:`make_predictor`, for tests that need op vectors of their own spaces."""
    return make_predictor
