"""A passed load keeps the checkpoint's parameters; later loads read them, and damage is never used."""

from __future__ import annotations

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

from tgnas_jax import predictor_cache, predictor_files
from tgnas_jax.cachefiles import CacheWarning
from tgnas_jax.predictor_files import CheckpointError, load_predictor

CELLS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "predictors"


@pytest.fixture
def checkpoint(tmp_path: Path, tiny: Path) -> Path:
    copy = tmp_path / "predictor"
    shutil.copytree(tiny, copy)
    return copy


def _no_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("orbax restore ran on a cached load")

    monkeypatch.setattr(predictor_files, "_restore_members", refuse)
    monkeypatch.setattr(predictor_files, "_probe", refuse)


def _same(a: object, b: object) -> None:
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_a_second_load_reads_the_kept_parameters(cache: Path, checkpoint: Path, monkeypatch) -> None:
    first = load_predictor(checkpoint)
    assert len(list(cache.iterdir())) == 1
    _no_restore(monkeypatch)
    second = load_predictor(checkpoint)
    _same(first.members, second.members)
    np.testing.assert_array_equal(first.score(CELLS, "nb201"), second.score(CELLS, "nb201"))


def test_a_changed_checkpoint_is_refused_though_its_parameters_are_kept(cache: Path, checkpoint: Path) -> None:
    load_predictor(checkpoint)
    params = sorted(p for p in (checkpoint / "params").rglob("*") if p.is_file())
    data = bytearray(params[-1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    params[-1].write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="has changed since it was saved"):
        load_predictor(checkpoint)


def _flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda data: data[: len(data) // 2], "checksum"),
        (_flip, "checksum"),
        (lambda data: b"", "file of this key"),
    ],
    ids=["truncated", "flipped", "empty"],
)
def test_a_damaged_cache_file_is_reported_and_the_checkpoint_read_in_full(cache, checkpoint, damage, says) -> None:
    first = load_predictor(checkpoint)
    (path,) = cache.iterdir()
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(CacheWarning, match=says):
        again = load_predictor(checkpoint)
    _same(first.members, again.members)
    load_predictor(checkpoint)  # rewritten: no warning now (warnings are errors)


def test_a_cache_file_of_other_members_is_not_used(cache: Path, checkpoint: Path) -> None:
    predictor = load_predictor(checkpoint)
    key = predictor_cache.members_key((checkpoint / "MANIFEST.sha256").read_bytes())
    predictor_cache.store_members(key, list(predictor.members[:1]))
    with pytest.warns(CacheWarning, match="does not hold all 2 members"):
        load_predictor(checkpoint)


def test_nothing_is_kept_with_the_caches_off(cache: Path, checkpoint: Path, monkeypatch) -> None:
    monkeypatch.setenv("TGNAS_COMPILATION_CACHE", "0")
    load_predictor(checkpoint)
    assert not cache.exists()
