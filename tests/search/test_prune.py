"""Supernet pruning: batched round scores equal one-by-one scores; results are valid and fit budgets."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph, prune
from tgnas_jax.predictor import Predictor
from tgnas_jax.prior import convolution_count
from tgnas_jax.search import encoding_for, search
from tgnas_jax.search.problem import Problem, Scorer
from tgnas_jax.search.prune import removal_deltas
from tgnas_jax.spaces import DartsSpace, NB101Space, NB201Space
from tgnas_jax.spaces.darts import DERIVABLE_OPS, INTERMEDIATE
from tgnas_jax.spaces.nb101 import MAX_EDGES
from tgnas_jax.spaces.nb201 import EDGES, OPS


def supernet_graph(alive: np.ndarray) -> ArchGraph:
    """NB201 supernet built independently of the search: a node per live (edge, op) pair, ``none`` excluded."""
    nodes = [(e, o) for e in range(len(EDGES)) for o in range(len(OPS)) if alive[e, o] and OPS[o] != "none"]
    size = len(nodes) + 2
    adjacency = np.zeros((size, size), np.uint8)
    for i, (e, _) in enumerate(nodes, start=1):
        adjacency[0, i] = EDGES[e][0] == 0
        adjacency[i, -1] = EDGES[e][1] == 3
        for j, (f, _) in enumerate(nodes, start=1):
            adjacency[i, j] = EDGES[e][1] == EDGES[f][0]
    return prune(adjacency, (INPUT, *(OPS[o] for _, o in nodes), OUTPUT))


def _deltas(predictor: Predictor, alive: np.ndarray) -> tuple[np.ndarray, float]:
    encoding = encoding_for(NB201Space())
    scorer = Scorer.of(predictor, encoding)
    run = jax.jit(lambda weights, alive: removal_deltas(Problem.bind(encoding, scorer, weights, None), alive))
    delta, supernet = run(scorer.weights, alive[None])
    return np.asarray(delta)[0], float(supernet)


def _random_supernet(rng: np.random.Generator) -> np.ndarray:
    alive = rng.random((len(EDGES), len(OPS))) < 0.6
    alive[np.arange(len(EDGES)), rng.integers(len(OPS), size=len(EDGES))] = True
    return alive


def test_a_rounds_batched_deltas_equal_scores_of_independently_built_supernets(predictor: Predictor) -> None:
    alive = _random_supernet(np.random.default_rng(0))
    alive[0] = [True, False, False, False, False]  # only none on edge 0 -> 1: node 1 gets no data
    delta, supernet = _deltas(predictor, alive)
    removals = list(zip(*np.nonzero(alive), strict=True))
    graphs = [supernet_graph(alive)]
    for e, o in removals:
        without = alive.copy()
        without[e, o] = False
        graphs.append(supernet_graph(without))
    base, *alone = predictor.score_graphs(graphs)
    assert supernet == pytest.approx(base, abs=1e-5)
    for (e, o), score in zip(removals, alone, strict=True):
        assert delta[e, o] == pytest.approx(np.inf if score == -np.inf else base - score, abs=1e-5), (e, OPS[o])
    assert np.isinf(delta[~alive]).all()


def test_none_carries_no_data_so_removing_it_changes_nothing(predictor: Predictor) -> None:
    alive = np.ones((len(EDGES), len(OPS)), bool)
    delta, _ = _deltas(predictor, alive)
    np.testing.assert_allclose(delta[:, OPS.index("none")], 0.0, atol=1e-6)


def test_the_model_size_prior_counts_every_op_of_the_supernet(blended: Predictor) -> None:
    """With the prior, dP adds the changes in z(log FLOPs) and z(convolutions) of the supernet (all its ops)."""
    space = NB201Space()
    encoding = encoding_for(space)
    blend = blended.cost_blend(space)
    const, table = encoding.prior_table
    alive = _random_supernet(np.random.default_rng(1))
    delta, supernet = _deltas(blended, alive)

    def score(alive: np.ndarray) -> float:
        flops, graph = const + (table[0] * alive).sum(), supernet_graph(alive)
        return float(blend.apply(blended.score_graphs([graph])[0], np.log(flops), convolution_count([graph])))

    assert supernet == pytest.approx(score(alive), abs=1e-4)
    e, o = np.argwhere(alive & (np.arange(len(OPS)) != OPS.index("none")))[0]
    without = alive.copy()
    without[e, o] = False
    assert delta[e, o] == pytest.approx(score(alive) - score(without), abs=1e-4)


#: DARTS is pruned under a parameter budget (the CIFAR-10 network; the smallest genotype has 1.37 M).
BUDGETS = {"nb201": None, "darts": 3_000_000, "nb101": None}


@pytest.mark.parametrize("name", list(BUDGETS))
def test_pruning_returns_a_valid_architecture_scored_as_the_predictor_does(
    name: str, predictor: Predictor, graph_scores: Any
) -> None:
    space = {"nb201": NB201Space(), "darts": DartsSpace(), "nb101": NB101Space()}[name]
    result = search(space, predictor, method="prune", max_params=BUDGETS[name])
    assert result.score == pytest.approx(float(graph_scores(space, predictor, [result.arch])[0]), abs=1e-4)
    assert np.isfinite(result.score)
    if isinstance(space, DartsSpace):
        for edges in (result.arch.normal, result.arch.reduce):
            assert all(op in DERIVABLE_OPS for op, _ in edges)
            assert all(edges[i][1] != edges[i + 1][1] for i in range(0, 2 * len(INTERMEDIATE), 2))
        assert result.params <= BUDGETS[name]
    if isinstance(space, NB101Space):
        assert result.arch.num_edges <= MAX_EDGES


def test_nb201_pruning_takes_four_rounds_and_scores_the_single_path_last(predictor: Predictor) -> None:
    result = search(NB201Space(), predictor, method="prune")
    assert len(result.history) == len(OPS)  # 4 rounds of 5 -> 1 op per edge, then the single path itself
    assert result.history[-1] == pytest.approx(result.score)
    assert result.evaluations == 5 * (1 + len(EDGES) * len(OPS))


def test_darts_deltas_weigh_the_cells_as_the_network_repeats_them(predictor: Predictor) -> None:
    """A candidate's score is 18 : 2 of its normal and reduction cells' GCN scores (``cell_counts``)."""
    from tgnas_jax.search.prune import supernet_scores

    encoding = encoding_for(DartsSpace())
    scorer = Scorer.of(predictor, encoding)
    alive = np.asarray(encoding.initial_alive())  # [2 cells, slots, ops]
    rng = np.random.default_rng(0)
    alive = alive & (rng.random(alive.shape) < 0.7)
    alive[..., 0] = True  # every slot keeps an op

    def run(weights: Any, alive: Any) -> Any:
        problem = Problem.bind(encoding, scorer, weights, None)
        delta, supernet = removal_deltas(problem, alive)
        return delta, supernet, supernet_scores(problem, alive)[0]

    delta, supernet, cells = (np.asarray(x) for x in jax.jit(run)(scorer.weights, alive))
    assert supernet == pytest.approx(0.9 * cells[0] + 0.1 * cells[1], abs=1e-5)
    single = jax.jit(lambda w, a: supernet_scores(Problem.bind(encoding, scorer, w, None), a)[0])
    for cell, slot, op in zip(*np.nonzero(alive), strict=True):
        if rng.random() > 0.1:
            continue
        without = alive.copy()
        without[cell, slot, op] = False
        score = np.asarray(single(scorer.weights, without[cell : cell + 1]))[0]
        others = cells.copy()
        others[cell] = score
        assert delta[cell, slot, op] == pytest.approx(supernet - (0.9 * others[0] + 0.1 * others[1]), abs=1e-4)
