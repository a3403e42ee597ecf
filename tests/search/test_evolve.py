"""Evolution finds the predictor's own best NB201 cell, which brute force over 15,625 cells names."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

from tgnas_jax.predictor import Predictor
from tgnas_jax.search import search
from tgnas_jax.spaces import NB201Space


@pytest.fixture(scope="module")
def best_score(predictor: Predictor, jitted_scores: Any) -> float:
    space = NB201Space()
    return float(jitted_scores(space, predictor, list(space.enumerate())).max())


@pytest.mark.parametrize("method", ["evolve", "regularized"])
def test_evolution_finds_the_exhaustive_argmax(method: str, predictor: Predictor, best_score: float) -> None:
    for seed in range(2):
        result = search(NB201Space(), predictor, method=method, key=jax.random.PRNGKey(seed))
        assert result.score == pytest.approx(best_score, abs=1e-5)
        assert float(predictor.score([result.arch], NB201Space())[0]) == pytest.approx(best_score, abs=1e-5)


def test_best_so_far_never_drops_and_ends_at_the_result(predictor: Predictor) -> None:
    for method in ("evolve", "regularized", "random"):
        result = search(NB201Space(), predictor, method=method)
        history = np.array(result.history)
        assert (np.diff(history) >= 0).all()
        assert history[-1] == pytest.approx(result.score)


def test_a_search_is_reproducible_from_its_key(predictor: Predictor) -> None:
    first, again = (search(NB201Space(), predictor, method="evolve", key=jax.random.PRNGKey(3)) for _ in range(2))
    assert first.arch == again.arch and first.score == again.score


def test_evaluation_counts(predictor: Predictor) -> None:
    population, generations = 64, 60
    assert search(NB201Space(), predictor, method="evolve").evaluations == population * (generations + 1)
    assert search(NB201Space(), predictor, method="regularized").evaluations == population * (generations + 1)
    assert search(NB201Space(), predictor, method="random").evaluations == population * (generations + 1)
