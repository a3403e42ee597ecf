"""Declarative spaces are searched by every method, on the same scores and sizes the space gives."""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import jax
import numpy as np
import pytest

from tgnas_jax.predictor import Predictor
from tgnas_jax.search import METHODS, encoding_for, register_encoding, search
from tgnas_jax.search.declared import DeclaredEncoding
from tgnas_jax.spaces.declarative import CellSpace, ChainSpace, Layer

CHAIN = ChainSpace(
    "mobile",
    [
        Layer(("identity", "ir_k3_e3", "ir_k5_e6"), 1, 16),
        Layer(("ir_k3_e3", "ir_k5_e6"), 2, 24),
        Layer(("identity", "ir_k3_e3", "ir_k5_e6"), 1, 24),
        Layer(("identity", "ir_k3_e3", "ir_k5_e6"), 1, 24),
        Layer(("ir_k3_e3", "ir_k5_e6", "sep_conv_3x3"), 2, 40),
        Layer(("identity", "ir_k3_e3", "ir_k5_e6"), 1, 40),
    ],
)
#: Per-edge choices of different lengths, two inputs, an output reading two nodes.
CELL = CellSpace(
    "cell",
    [(0, 2), (1, 2), (0, 3), (2, 3), (1, 4), (3, 4)],
    [
        ["none", "conv_3x3", "max_pool_3x3"],
        ["conv_1x1", "skip_connect"],
        ["none", "sep_conv_3x3", "conv_3x3", "skip_connect"],
        ["conv_3x3", "avg_pool_3x3"],
        ["none", "conv_1x1"],
        ["sep_conv_5x5", "skip_connect", "none"],
    ],
    inputs=2,
    outputs=[3, 4],
)
SPACES = {"chain": CHAIN, "cell": CELL}


@pytest.fixture(scope="module")
def scorer(predictor_factory: Any) -> Predictor:
    """With the size prior, as the shipped predictor has (the jitted-score test also checks without)."""
    extra = sorted({op for space in SPACES.values() for op in space.ops})
    return predictor_factory(seed=3, cost_weight=0.5, extra_ops=extra, conv_weight=0.5)


@pytest.mark.parametrize("name", list(SPACES))
@pytest.mark.parametrize("prior", [True, False])
def test_jitted_scores_equal_the_predictors(
    name: str, prior: bool, scorer: Predictor, jitted_scores: Any, graph_scores: Any
) -> None:
    space, scorer = SPACES[name], scorer if prior else dataclasses.replace(scorer, cost_weight=0.0, conv_weight=0.0)
    archs = list(space.enumerate())
    mine, reference = jitted_scores(space, scorer, archs, batch=128), graph_scores(space, scorer, archs)
    np.testing.assert_allclose(scorer.score(archs, space), mine, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.isfinite(mine), np.isfinite(reference))
    live = np.isfinite(reference)
    np.testing.assert_allclose(mine[live], reference[live], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(SPACES))
def test_size_tables_are_exact(name: str) -> None:
    space, encoding = SPACES[name], encoding_for(SPACES[name])
    archs = list(space.enumerate())
    choices = jax.numpy.asarray(np.stack([encoding.from_arch(a) for a in archs]))
    sizes = np.asarray(jax.vmap(encoding.cost)(choices))
    np.testing.assert_array_equal(sizes[:, 0], [space.num_params(a) for a in archs])
    np.testing.assert_array_equal(sizes[:, 1], [space.num_flops(a) for a in archs])
    assert [encoding.to_arch(np.asarray(c)) for c in choices] == archs


#: Every method once, each space by several (the hybrid is prune and evolve): compiling is the cost.
RUNS = [("chain", "hybrid"), ("chain", "regularized"), ("cell", "prune"), ("cell", "evolve"), ("cell", "random")]


def test_the_runs_cover_every_method() -> None:
    assert {method for _, method in RUNS} == set(METHODS)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "method"), RUNS)
def test_every_method_returns_a_valid_arch_scored_as_the_predictor_scores_it(
    name: str, method: str, scorer: Predictor, graph_scores: Any
) -> None:
    space = SPACES[name]
    result = search(space, scorer, method=method, population=16, generations=20, key=jax.random.PRNGKey(1))
    assert space.check(result.arch) == result.arch and result.arch_text == space.format(result.arch)
    assert result.score == pytest.approx(float(graph_scores(space, scorer, [result.arch])[0]), abs=1e-4)
    assert (result.params, result.flops) == (space.num_params(result.arch), space.num_flops(result.arch))
    if method in ("evolve", "hybrid"):  # small spaces: evolution finds the exhaustive best
        best = graph_scores(space, scorer, list(space.enumerate())).max()
        assert result.score == pytest.approx(float(best), abs=1e-4)


def test_a_zero_op_gets_no_node_in_a_cells_jitted_scores(
    predictor_factory: Any, jitted_scores: Any, graph_scores: Any
) -> None:
    """``zero``, like ``none``, passes no data: CellSpace.to_graphs gives it no node, nor may the encoding."""
    space = CellSpace("zeros", [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)], ["zero", "conv_3x3", "skip_connect"])
    scorer = predictor_factory(seed=4, extra_ops=space.ops)
    archs = list(space.enumerate())
    reference = graph_scores(space, scorer, archs)
    assert (~np.isfinite(reference)).sum() > 0  # cells whose every path crosses a zero
    for mine in (jitted_scores(space, scorer, archs, batch=128), scorer.score(archs, space)):
        np.testing.assert_array_equal(np.isfinite(mine), np.isfinite(reference))
        live = np.isfinite(reference)
        np.testing.assert_allclose(mine[live], reference[live], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "method"), [("chain", "prune"), ("cell", "evolve")])
def test_budgets_hold(name: str, method: str, scorer: Predictor) -> None:
    space = SPACES[name]
    budget = float(np.percentile([space.num_params(a) for a in space.enumerate()], 20))
    result = search(space, scorer, method=method, max_params=budget, population=16, generations=20)
    assert space.num_params(result.arch) <= budget


def test_a_space_without_sizes_is_searched_but_takes_no_budget(predictor_factory: Any) -> None:
    space = ChainSpace("rnn", [Layer(("lstm_cell", "gru_cell"), 1, 16)] * 3)
    predictor = predictor_factory(seed=1, extra_ops=space.ops)
    result = search(space, predictor, method="evolve", population=8, generations=5)
    assert result.params is None and result.flops is None
    with pytest.raises(ValueError, match="defines no params / flops budget"):
        search(space, predictor, method="prune", max_params=1e6)


def test_subclasses_share_the_encoding_and_unknown_spaces_say_how_to_register() -> None:
    class MyCells(CellSpace):
        pass

    mine = MyCells("mine", [(0, 1)], ["conv_3x3", "conv_1x1"])
    assert isinstance(encoding_for(mine), DeclaredEncoding)

    with pytest.raises(ValueError, match="no search encoding for the foreign space.*register_encoding"):
        encoding_for(types.SimpleNamespace(name="foreign"))
    with pytest.raises(TypeError, match="SearchSpace subclass"):
        register_encoding(int, DeclaredEncoding)
