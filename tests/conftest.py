"""Shared fixtures: the benchmark data directory, skipped cleanly when it is absent."""

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import jax
import numpy as np
import pytest

from tgnas_jax.batching import DenseCells
from tgnas_jax.data import DataError, resolve_data_dir
from tgnas_jax.embeddings import DIM, MODEL_ID, OperatorEmbeddings
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
        example = DenseCells(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
        init = jax.jit(GCN(cfg).init)
        table = np.stack(list(vectors.values()))
        params = tuple(init(jax.random.PRNGKey(m), example, table)["params"] for m in range(members))
        return Predictor(cfg, EmbeddingConfig(dim=6), params, vectors, cost_weight=cost_weight, metadata=metadata or {})

    return make


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, make_tiny_predictor: Callable[..., Predictor]) -> Path:
    """A saved tiny predictor, for command lines that load one from a folder."""
    path = tmp_path_factory.mktemp("tiny") / "predictor"
    make_tiny_predictor().save(path)
    return path


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


class HashEncoder:
    """A stand-in for MiniLM: deterministic vectors from a hash of each sentence; records what it encoded."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray:
        self.encoded += texts
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.array([np.random.default_rng(s).normal(size=DIM) for s in seeds], np.float32)


@pytest.fixture
def hash_embedded(monkeypatch: pytest.MonkeyPatch) -> tuple[Predictor, HashEncoder]:
    """A tiny predictor over the shipped table's 384-d vectors whose unseen sentences :class:`HashEncoder` embeds.

    Its ``op_vectors`` hold only the cell ends and NB101's operators, like the shipped predictor's.
    """
    encoder = HashEncoder()
    table = OperatorEmbeddings.load(cache_path=None, encoder=encoder)
    monkeypatch.setattr("tgnas_jax.predictor._operator_table", lambda: table)
    known = ("input", "output", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
    vectors = dict(zip(known, table.lookup(known, normalize=False), strict=True))
    cfg = ModelConfig(hidden=8, layers=1)
    example = DenseCells(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
    params = (GCN(cfg).init(jax.random.PRNGKey(0), example, np.stack(list(vectors.values())))["params"],)
    return Predictor(cfg, EmbeddingConfig(), params, vectors, cost_weight=0.5), encoder
