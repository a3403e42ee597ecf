"""The shipped embedding table, the user cache, PCA and per-batch embedding matrices."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import pytest

from tgnas_jax.batching import Budget
from tgnas_jax.cachefiles import CacheWarning
from tgnas_jax.embeddings import (
    KNOWN_OPERATORS,
    LENGTHS,
    MODEL_ID,
    PCA,
    SHIPPED_TABLE,
    EmbeddingKey,
    MissingWeightsError,
    OperatorEmbeddings,
    describe,
    embed_batch,
    user_cache_path,
)
from tgnas_jax.embeddings.encoder import shared_encoder
from tgnas_jax.graph import ArchGraph

#: Made-up operators stand for unseen ones; the warning that their sentences are guesses is tested with the grammar.
pytestmark = pytest.mark.filterwarnings("ignore::tgnas_jax.embeddings.DescriptionFallbackWarning")


class FakeEncoder:
    """Deterministic vectors from a hash of the text; records what it was asked to encode."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.array([np.random.default_rng(s).normal(size=384) for s in seeds], np.float32)


class NoEncoder(FakeEncoder):
    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray:
        raise AssertionError(f"the encoder was asked for {list(texts)}")


@pytest.fixture(scope="module")
def shipped() -> OperatorEmbeddings:
    return OperatorEmbeddings.load(cache_path=None, encoder=NoEncoder())


def nb201_cell(ops: Sequence[str]) -> ArchGraph:
    """A small valid cell: four operators on three input -> output paths."""
    adjacency = np.zeros((6, 6), np.uint8)
    for s, r in [(0, 1), (0, 2), (0, 4), (1, 3), (2, 5), (3, 5), (4, 5)]:
        adjacency[s, r] = 1
    return ArchGraph(adjacency, ("input", *ops, "output"))


def test_shipped_table_covers_every_known_operator_at_every_length(shipped):
    assert SHIPPED_TABLE.is_file() and SHIPPED_TABLE.stat().st_size < 2_000_000
    for length in LENGTHS:
        for op in KNOWN_OPERATORS:
            key = EmbeddingKey(op, describe(op, length).text, length, MODEL_ID)
            assert key in shipped, f"stale table: rebuild with benchmarks/build_embedding_table.py ({key})"
    assert len(shipped) == len(KNOWN_OPERATORS) * len(LENGTHS)


@pytest.mark.slow
def test_shipped_table_reproduces_the_encoder(shipped):
    try:
        encoder = shared_encoder()
    except MissingWeightsError as err:
        pytest.skip(str(err))
    keys = shipped.keys()
    texts = sorted({key.description for key in keys})
    fresh = dict(zip(texts, encoder.encode(texts), strict=True))
    worst = max(float(np.abs(shipped.vector(key) - fresh[key.description]).max()) for key in keys)
    assert worst < 1e-5


def test_known_lookups_never_import_transformers():
    code = (
        "import sys\n"
        "from tgnas_jax.embeddings import OperatorEmbeddings\n"
        "t = OperatorEmbeddings.load(cache_path=None)\n"
        "v = t.lookup(['nor_conv_3x3', 'Conv3x3-BN-ReLU', 'none', 'mb6_k5'], 'long')\n"
        "assert v.shape == (4, 384), v.shape\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'torch')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lookup_shapes_normalisation_and_repeats(shipped):
    ops = ["nor_conv_3x3", "none", "nor_conv_3x3", "conv3x3-bn-relu"]
    vectors = shipped.lookup(ops)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])  # one sentence, one vector
    raw = shipped.lookup(["none"], "medium", normalize=False)[0]
    np.testing.assert_array_equal(raw, shipped.vector(EmbeddingKey("none", "Doing nothing", "medium", MODEL_ID)))
    assert shipped.lookup([]).shape == (0, 384)
    with pytest.raises(TypeError, match="not one string"):
        shipped.lookup("none")
    with pytest.raises(ValueError, match="non-empty"):
        shipped.lookup(["none", ""])


def test_unknown_operators_are_embedded_once_and_cached(tmp_path):
    cache = tmp_path / "cache.npz"
    encoder = FakeEncoder()
    table = OperatorEmbeddings.load(cache_path=cache, encoder=encoder)
    vectors = table.lookup(["wavelet_7x7", "nor_conv_3x3", "wavelet_7x7", "Wavelet-7x7"], "short")
    assert encoder.calls == [["Wavelet 7x7"]]
    np.testing.assert_array_equal(vectors[0], vectors[3])
    table.lookup(["wavelet_7x7"])
    assert len(encoder.calls) == 1
    assert cache.is_file()

    reloaded = OperatorEmbeddings.load(cache_path=cache, encoder=NoEncoder())
    np.testing.assert_array_equal(reloaded.lookup(["wavelet_7x7"]), vectors[:1])
    assert EmbeddingKey("wavelet_7x7", "Wavelet 7x7", "short", MODEL_ID) in reloaded

    OperatorEmbeddings.load(cache_path=cache, encoder=encoder).lookup(["gabor_5x5"], "long")
    both = OperatorEmbeddings.load(cache_path=cache, encoder=NoEncoder())
    np.testing.assert_array_equal(both.lookup(["wavelet_7x7"]), vectors[:1])  # kept when the cache grew
    assert both.lookup(["gabor_5x5"], "long").shape == (1, 384)


def test_overridden_sentences_get_their_own_vectors(tmp_path):
    encoder = FakeEncoder()
    table = OperatorEmbeddings.load(cache_path=None, encoder=encoder, overrides={"none": "A zeroed feature map"})
    plain = OperatorEmbeddings.load(cache_path=None, encoder=NoEncoder())
    assert not np.array_equal(table.lookup(["none"]), plain.lookup(["none"]))
    assert encoder.calls == [["A zeroed feature map"]]
    with pytest.raises(TypeError, match="must be a string"):
        OperatorEmbeddings(overrides={"none": None})


def test_user_cache_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(tmp_path))
    assert user_cache_path() == tmp_path / "operator_embeddings.npz"
    monkeypatch.delenv("TGNAS_CACHE_DIR")
    assert "tgnas-jax" in str(user_cache_path())


def test_broken_files_are_named(tmp_path):
    bad = tmp_path / "cache.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cache.npz is not an operator-embedding table"):
        OperatorEmbeddings.load(bad, cache_path=None)  # the table itself: an error
    with pytest.warns(CacheWarning, match="cache.npz is not an operator-embedding table"):
        assert len(OperatorEmbeddings.load(cache_path=bad)) == len(KNOWN_OPERATORS) * len(LENGTHS)  # a cache: ignored
    with pytest.raises(FileNotFoundError, match="build_embedding_table"):
        OperatorEmbeddings.load(tmp_path / "missing.npz")


def test_save_and_reload_round_trip(tmp_path, shipped):
    path = tmp_path / "table.npz"
    shipped.save(path)
    again = OperatorEmbeddings.load(path, cache_path=None, encoder=NoEncoder())
    assert set(again.keys()) == set(shipped.keys())
    np.testing.assert_array_equal(again.lookup(KNOWN_OPERATORS, "long"), shipped.lookup(KNOWN_OPERATORS, "long"))


def test_pca_on_the_full_vocabulary_is_stored_and_reloaded(tmp_path, shipped):
    pca = shipped.fit_pca(64)
    assert pca.dim == 64 and pca.mean.shape == (384,) and pca.components.shape == (64, 384)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(64), atol=1e-5)
    reduced = pca.transform(shipped.lookup(["nor_conv_3x3", "none"]))
    assert reduced.shape == (2, 64) and reduced.dtype == np.float32
    unseen = OperatorEmbeddings.load(cache_path=None, encoder=FakeEncoder()).lookup(["wavelet_7x7"])
    assert pca.transform(unseen).shape == (1, 64)

    path = tmp_path / "pca.npz"
    pca.save(path)
    again = PCA.load(path)
    np.testing.assert_array_equal(again.components, pca.components)
    np.testing.assert_array_equal(again.transform(unseen), pca.transform(unseen))
    arrays = pca.to_arrays("minilm64_")
    assert set(arrays) == {"minilm64_mean", "minilm64_components"}
    np.testing.assert_array_equal(PCA.from_arrays(arrays, "minilm64_").mean, pca.mean)
    np.testing.assert_array_equal(shipped.fit_pca(64).components, pca.components)  # refits agree, signs included


def test_pca_on_a_training_vocabulary_is_refused(shipped):
    with pytest.raises(ValueError, match="full operator vocabulary"):
        shipped.fit_pca(64, ops=["input", "output", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"])
    with pytest.raises(ValueError, match="components"):
        PCA(np.zeros(384), np.zeros(384))


def test_embed_batch_returns_the_batch_vocabulary_matrix(shipped):
    graphs = [
        nb201_cell(["nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3"]),
        nb201_cell(["nor_conv_1x1", "nor_conv_3x3", "none", "none"]),
    ]
    budget = Budget.fitting(graphs, batch_size=4)
    batch, matrix = embed_batch(graphs, budget, shipped, "short")
    vocab = ("input", "nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "output", "nor_conv_1x1")
    assert matrix.shape == (len(vocab), 384)
    real = int(batch.n_node[:2].sum())
    per_node = shipped.lookup([op for g in graphs for op in g.ops])
    np.testing.assert_array_equal(matrix[batch.nodes["op"][:real]], per_node)

    fixed = (*vocab, "mb6_k5", "sep_conv_3x3")  # e.g. the training vocabulary: one matrix shape for all batches
    _, stable = embed_batch(graphs, budget, shipped, vocab=fixed)
    assert stable.shape == (len(fixed), 384)
    _, reduced = embed_batch(graphs, budget, shipped, pca=shipped.fit_pca(64))
    assert reduced.shape == (len(vocab), 64)
