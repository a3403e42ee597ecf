"""The size prior's statistics are stored once and read back by later predictors, only under their
exact key; a damaged file is reported and refitted, never used."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import pytest

from tgnas_jax import cachefiles
from tgnas_jax.cachefiles import CacheWarning
from tgnas_jax.predictor import Predictor
from tgnas_jax.spaces import NB201Space
from tgnas_jax.spaces.base import SearchSpace

CELLS = [
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(tmp_path))
    return tmp_path / "size_prior"


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the spaces whose statistics were fitted (not read) from here on."""
    calls: list[str] = []
    fit = Predictor._fit_blend

    def counted(self, space, sample, describe):
        calls.append(space.name)
        return fit(self, space, sample, describe)

    monkeypatch.setattr(Predictor, "_fit_blend", counted)
    return calls


def test_a_fresh_predictor_reads_what_another_stored(cache, fits, make_tiny_predictor):
    first = make_tiny_predictor()
    blend = first.cost_blend(NB201Space())
    assert fits == ["nb201"] and len(list(cache.iterdir())) == 1
    second = make_tiny_predictor()
    assert second.cost_blend(NB201Space()) == blend
    assert fits == ["nb201"]
    np.testing.assert_array_equal(second.score(CELLS, "nb201"), first.score(CELLS, "nb201"))


@pytest.mark.parametrize(
    "change",
    [
        lambda make: (make(members=1), NB201Space(), None),
        lambda make: (_moved_weights(make()), NB201Space(), None),
        lambda make: (make(cost_weight=0.25), NB201Space(), None),
        lambda make: (make(), NB201Space(num_classes=100), None),
        lambda make: (_moved_row(make()), NB201Space(), None),
    ],
    ids=["members", "weights", "prior weight", "space settings", "operator rows"],
)
def test_anything_the_fit_reads_changes_the_key(cache, fits, make_tiny_predictor, change):
    make_tiny_predictor().cost_blend(NB201Space())
    predictor, space, describe = change(make_tiny_predictor)
    predictor.cost_blend(space, describe=describe)
    assert len(fits) == 2 and len(list(cache.iterdir())) == 2


def _moved_weights(predictor: Predictor) -> Predictor:
    """As many members, one weight of the first changed."""
    first = jax.tree.map(lambda x: x, predictor.members[0])
    first["head_out"]["bias"] = first["head_out"]["bias"] + 1
    return dataclasses.replace(predictor, members=(first, *predictor.members[1:]))


def _moved_row(predictor: Predictor) -> Predictor:
    """The same weights with one operator's vector changed (as an edited or re-embedded description)."""
    vectors = dict(predictor.op_vectors, nor_conv_3x3=predictor.op_vectors["nor_conv_3x3"] + 1)
    return dataclasses.replace(predictor, op_vectors=vectors)


def _edit(field: str, value: object) -> Callable[[str], str]:
    def edit(text: str) -> str:
        stored = json.loads(text)
        stored["blend"][field] = value
        return json.dumps(stored)

    return edit


def _drop(field: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        stored = json.loads(text)
        del stored["blend"][field]
        return json.dumps(stored)

    return edit


def _rekey(text: str) -> str:
    stored = json.loads(text)
    stored["key"] = "0" * 64
    return json.dumps(stored)


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda text: text[: len(text) // 2], "unreadable"),
        (lambda text: "\xff\x00 not json", "unreadable"),
        (lambda text: "[]", "not a format-1 file"),
        (_rekey, "not a format-1 file"),
        (_drop("cost_std"), "holds fields"),
        (_edit("score_mean", float("nan")), "unusable score_mean"),
        (_edit("score_mean", "0.5"), "unusable score_mean"),
        (_edit("cost_mean", True), "unusable cost_mean"),
        (_edit("conv_std", 0.0), "unusable conv_std"),
        (_edit("score_std", -1.0), "unusable score_std"),
    ],
    ids=["truncated", "garbage", "no object", "other key", "field missing", "nan", "string", "bool", "zero scale",
         "negative scale"],
)  # fmt: skip
def test_a_damaged_file_is_reported_and_refitted(cache, fits, make_tiny_predictor, damage, says):
    blend = make_tiny_predictor().cost_blend(NB201Space())
    (path,) = cache.iterdir()
    path.write_text(damage(path.read_text()))
    with pytest.warns(CacheWarning, match=says):
        assert make_tiny_predictor().cost_blend(NB201Space()) == blend
    assert len(fits) == 2
    assert make_tiny_predictor().cost_blend(NB201Space()) == blend  # rewritten whole: read silently
    assert len(fits) == 2


def test_an_unwritable_cache_costs_only_the_refit(tmp_path, monkeypatch, fits, make_tiny_predictor):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(blocker))
    with pytest.warns(CacheWarning) as caught:  # the scoring's lowered program cannot be stored either
        blend = make_tiny_predictor().cost_blend(NB201Space())
    assert any("cannot write size-prior statistics under" in str(w.message) for w in caught)
    assert blend is not None and fits == ["nb201"]


class Unencoded(SearchSpace):
    """NB201 behind a space type no search encoding is registered for."""

    name, ops = "nb201-unencoded", NB201Space.ops
    _inner = NB201Space()

    def parse(self, text):
        return self._inner.parse(text)

    def format(self, arch):
        return self._inner.format(arch)

    def to_graphs(self, arch):
        return self._inner.to_graphs(arch)

    def sample(self, rng):
        return self._inner.sample(rng)

    def mutate(self, arch, rng):
        return self._inner.mutate(arch, rng)

    def num_flops(self, arch):
        return self._inner.num_flops(arch)


def test_a_space_of_the_callers_own_code_is_fitted_every_time(cache, fits, make_tiny_predictor):
    """A subclass outside the package: its code (its sampling, say) is not in the key, so nothing is kept."""

    class MyNB201(NB201Space):
        pass

    make_tiny_predictor().cost_blend(MyNB201())
    make_tiny_predictor().cost_blend(MyNB201())
    assert len(fits) == 2 and not cache.exists()


def test_turning_the_compilation_cache_off_fits_every_time(cache, fits, make_tiny_predictor, monkeypatch):
    monkeypatch.setenv("TGNAS_COMPILATION_CACHE", "0")
    make_tiny_predictor().cost_blend(NB201Space())
    make_tiny_predictor().cost_blend(NB201Space())
    assert len(fits) == 2 and not cache.exists()


def test_spaces_without_an_encoding_are_fitted_every_time(cache, fits, make_tiny_predictor):
    """Only the encoded path is keyed: a space without a search encoding fits as before, storing nothing."""
    assert make_tiny_predictor().cost_blend(Unencoded()) is not None
    assert make_tiny_predictor().cost_blend(Unencoded()) is not None
    assert fits == ["nb201-unencoded"] * 2 and not cache.exists()


def test_the_key_hashes_values_not_identities():
    value_key = functools.partial(cachefiles.value_key, "test")
    weights = {"w": np.ones(3, np.float32)}
    assert value_key(weights) == value_key({"w": np.ones(3, np.float32)})
    assert value_key(weights) != value_key({"w": np.ones(3, np.float64)})
    assert value_key(weights) != value_key({"w": np.ones((3, 1), np.float32)})
    assert value_key((1, 2)) != value_key(((1, 2),))
