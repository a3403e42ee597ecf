"""The user cache of embedded operators under concurrency and damage: no lost entries, no raw errors, no NaN."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from tgnas_jax.cachefiles import CacheWarning
from tgnas_jax.embeddings import MODEL_ID, DescriptionFallbackWarning, EmbeddingKey, OperatorEmbeddings, describe
from tgnas_jax.embeddings.table import read_cache, read_entries

UNSEEN = ("wavelet_7x7", "gabor_5x5")
#: Made-up operators stand for unseen ones; the warning that their sentences are guesses is tested with the grammar.
pytestmark = pytest.mark.filterwarnings("ignore::tgnas_jax.embeddings.DescriptionFallbackWarning")


class HashEncoder:
    """Deterministic vectors from a hash of the text, so a lost or re-embedded entry is comparable."""

    model_id = MODEL_ID

    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray:
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.array([np.random.default_rng(s).normal(size=384) for s in seeds], np.float32)


def fill(cache: Path) -> np.ndarray:
    """A cache holding the two unseen operators; their normalised vectors."""
    return OperatorEmbeddings.load(cache_path=cache, encoder=HashEncoder()).lookup(list(UNSEEN))


def quietly(action: Callable[[], object]) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DescriptionFallbackWarning)
        return action()


# --------------------------------------------------------------------------- the race

WORKER = textwrap.dedent(
    """
    import hashlib, sys, time
    from pathlib import Path
    import numpy as np
    from tgnas_jax.embeddings import MODEL_ID, OperatorEmbeddings

    class HashEncoder:
        model_id = MODEL_ID
        def encode(self, texts, *, normalize=False):
            seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
            return np.array([np.random.default_rng(s).normal(size=384) for s in seeds], np.float32)

    cache, sync, worker, rounds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    (sync / f"ready-{worker}").touch()
    for r in range(rounds):
        while not (sync / f"go-{r}").exists():
            time.sleep(0.0005)
        OperatorEmbeddings.load(cache_path=cache, encoder=HashEncoder()).lookup([f"race{worker}op{r}"])
        (sync / f"done-{worker}-{r}").touch()
    """
)


def wait_for(paths: Sequence[Path], procs: Sequence[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        failed = [proc for proc in procs if proc.poll() not in (None, 0)]
        assert not failed, failed[0].stderr.read().decode() if failed[0].stderr else "a worker failed"
        assert time.monotonic() < deadline, f"workers stalled before {[p.name for p in paths if not p.exists()]}"
        time.sleep(0.001)


@pytest.mark.slow
def test_three_processes_adding_operators_lose_nothing(tmp_path: Path) -> None:
    """Three writers released together, 10 rounds: every operator each one added is in the cache after."""
    cache, sync, workers, rounds = tmp_path / "cache" / "operator_embeddings.npz", tmp_path / "sync", 3, 10
    sync.mkdir()
    ops = [f"race{w}op{r}" for w in range(workers) for r in range(rounds)]
    assert len({describe(op).text for op in ops}) == len(ops)  # one sentence each, so none shares another's vector
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(cache), str(sync), str(w), str(rounds)],
            stderr=subprocess.PIPE,
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
        )
        for w in range(workers)
    ]
    try:
        wait_for([sync / f"ready-{w}" for w in range(workers)], procs)
        lost = []
        for r in range(rounds):
            (sync / f"go-{r}").touch()
            wait_for([sync / f"done-{w}-{r}" for w in range(workers)], procs)
            held = {key.op for key in read_entries(cache)}
            lost += [op for op in (f"race{w}op{r}" for w in range(workers)) if op not in held]
        assert lost == [] and len(read_entries(cache)) == workers * rounds
    finally:
        for proc in procs:
            proc.wait(timeout=60)
            if proc.stderr:
                proc.stderr.close()
    assert [proc.returncode for proc in procs] == [0] * workers


# --------------------------------------------------------------------------- damage


def rewrite(cache: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    with np.load(cache) as archive:
        arrays = dict(archive)
    change(arrays)
    np.savez(cache, **arrays)


def set_vector(value: float) -> Callable[[Path], None]:
    def damage(cache: Path) -> None:
        def change(arrays: dict[str, np.ndarray]) -> None:
            arrays["vectors"][0, 7] = value

        rewrite(cache, change)

    return damage


def flip_a_vector_byte(cache: Path) -> None:
    raw = bytearray(cache.read_bytes())
    raw[raw.find(read_entries(cache)[next(iter(read_entries(cache)))].tobytes()) + 100] ^= 0x10
    cache.write_bytes(bytes(raw))


DAMAGE = {
    "truncated": lambda cache: cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2]),
    "empty": lambda cache: cache.write_bytes(b""),
    "bit-flip": flip_a_vector_byte,
    "wrong-layout": lambda cache: rewrite(cache, lambda a: a.update(vectors=a["vectors"][:, :100])),
    "nan-vector": set_vector(np.nan),
    "inf-vector": set_vector(np.inf),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_cache_is_reported_once_and_rebuilt(tmp_path: Path, damage: Callable[[Path], None]) -> None:
    cache = tmp_path / "operator_embeddings.npz"
    expected = fill(cache)
    damage(cache)
    with pytest.warns(CacheWarning, match="operator_embeddings.npz") as caught:
        table = OperatorEmbeddings.load(cache_path=cache, encoder=HashEncoder())
        vectors = table.lookup(list(UNSEEN))  # what was lost is embedded again and written back
    reports = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(reports) == 1, reports
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)
    rebuilt = quietly(lambda: read_entries(cache))
    assert {key.op for key in rebuilt} == set(UNSEEN)
    assert all(np.isfinite(vector).all() for vector in rebuilt.values())
    quietly(lambda: OperatorEmbeddings.load(cache_path=cache, encoder=HashEncoder()).lookup(list(UNSEEN)))


def test_nan_vectors_are_never_returned(tmp_path: Path) -> None:
    """A NaN vector cached under a shipped operator's key must not replace the shipped vector (NaN scores)."""
    cache = tmp_path / "operator_embeddings.npz"
    shipped = OperatorEmbeddings.load(cache_path=None)
    key = EmbeddingKey("nor_conv_3x3", describe("nor_conv_3x3").text, "short", MODEL_ID)
    fill(cache)
    rewrite(cache, lambda a: a.update(
        ops=np.append(a["ops"], key.op), lengths=np.append(a["lengths"], key.length),
        rows=np.append(a["rows"], len(a["texts"])), texts=np.append(a["texts"], key.description),
        vectors=np.vstack([a["vectors"], np.full((1, 384), np.nan, np.float32)]),
    ))  # fmt: skip
    with pytest.warns(CacheWarning, match=r"non-finite vectors for \['nor_conv_3x3'\]"):
        table = OperatorEmbeddings.load(cache_path=cache, encoder=HashEncoder())
    np.testing.assert_array_equal(table.lookup(["nor_conv_3x3"]), shipped.lookup(["nor_conv_3x3"]))
    assert {k.op for k in read_entries(cache)} == set(UNSEEN)  # dropped from the file too


class NaNEncoder(HashEncoder):
    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray:
        return np.full((len(texts), 384), np.nan, np.float32)


def test_non_finite_encodings_are_refused_and_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "operator_embeddings.npz"
    with pytest.raises(ValueError, match=r"embedding of 'wavelet_7x7' \('Wavelet 7x7'\) is not finite"):
        OperatorEmbeddings.load(cache_path=cache, encoder=NaNEncoder()).lookup(["wavelet_7x7"])
    assert not cache.exists()


def test_cache_bit_flips_never_raise_nor_change_vectors(tmp_path: Path, flip_each_byte) -> None:
    """Every flipped byte of a cache is reported once and ignored, or harmless; never a raw zipfile/EOF error."""
    cache = tmp_path / "operator_embeddings.npz"
    fill(cache)
    original, expected, reported = cache.read_bytes(), read_entries(cache), 0
    for at in flip_each_byte(cache, 7):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            entries = read_cache(cache)
        assert len(caught) <= 1 and all(w.category is CacheWarning for w in caught)
        assert entries == {} if caught else entries.keys() == expected.keys(), at
        assert all(np.array_equal(entries[key], expected[key]) for key in entries), at
        reported += len(caught)
    assert reported > len(original) // 14


@pytest.mark.parametrize("damage", ["truncated", "nan-vector"])
def test_nb201_operators_survive_a_damaged_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """NB201's operators reach the predictor through the user cache: damage to it must not break scoring."""
    from tgnas_jax.predictor import EmbeddingConfig, _operator_table, operator_vectors
    from tgnas_jax.spaces import NB201Space

    monkeypatch.setenv("TGNAS_CACHE_DIR", str(tmp_path))
    cache = tmp_path / "operator_embeddings.npz"
    fill(cache)
    DAMAGE[damage](cache)
    ops = sorted(NB201Space().ops)
    _operator_table.cache_clear()
    try:
        with pytest.warns(CacheWarning, match=str(cache)) as caught:
            vectors = operator_vectors(ops, EmbeddingConfig())
    finally:
        _operator_table.cache_clear()
    assert len(caught) == 1 and vectors.shape == (len(ops), 384) and np.isfinite(vectors).all()
    np.testing.assert_array_equal(vectors, OperatorEmbeddings.load(cache_path=None).lookup(ops, normalize=False))
