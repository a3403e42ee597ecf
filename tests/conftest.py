"""Shared fixtures: the benchmark data directory, skipped cleanly when it is absent."""

from collections.abc import Callable, Iterator
from pathlib import Path

import jax
import numpy as np
import pytest

from tgnas_jax.batching import dense_batch
from tgnas_jax.data import DataError, resolve_data_dir
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor
from tgnas_jax.spaces import SPACES

#: Every op name the spaces use, and the cell ends.
OPS = ("input", "output", *sorted({op for space in SPACES.values() for op in space.ops}))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    try:
        return resolve_data_dir()
    except DataError as err:
        pytest.skip(f"benchmark tables unavailable ({err})")


@pytest.fixture(scope="session")
def make_tiny_predictor() -> Callable[..., Predictor]:
    """A maker of tiny random-init predictors over every space's operators (no training)."""

    def make(members: int = 2, cost_weight: float = 0.5, metadata: dict | None = None) -> Predictor:
        cfg = ModelConfig(hidden=8, layers=1)
        rng = np.random.default_rng(0)
        vectors = {op: rng.normal(size=6).astype(np.float32) for op in OPS}
        example = dense_batch(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
        init = jax.jit(GCN(cfg).init)
        table = np.stack(list(vectors.values()))
        params = tuple(init(jax.random.PRNGKey(m), example, table)["params"] for m in range(members))
        return Predictor(cfg, EmbeddingConfig(dim=6), params, vectors, cost_weight=cost_weight, metadata=metadata or {})

    return make


@pytest.fixture(scope="session")
def flip_each_byte() -> Callable[[Path, int], Iterator[int]]:
    """Rewrite a file with one byte flipped at every ``step``-th offset in turn, yielding each offset."""

    def flips(path: Path, step: int) -> Iterator[int]:
        original = path.read_bytes()
        for at in range(0, len(original), step):
            flipped = bytearray(original)
            flipped[at] ^= 0xFF
            path.write_bytes(bytes(flipped))
            yield at

    return flips
