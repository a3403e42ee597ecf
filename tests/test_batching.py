import jax
import numpy as np
import pytest

from tgnas_jax.batching import Budget, pad_batch, unpad_batch, vocabulary
from tgnas_jax.graph import ArchGraph


def _random_graph(rng: np.random.Generator, n: int) -> ArchGraph:
    """A chain input -> ... -> output with random extra forward edges: always valid."""
    adjacency = np.triu(rng.integers(0, 2, (n, n)), 1)
    adjacency[np.arange(n - 1), np.arange(1, n)] = 1
    ops = ("input", *rng.choice(["conv3x3", "maxpool", "brand_new_op"], n - 2), "output")
    return ArchGraph(adjacency, ops)


def test_pad_then_unpad_round_trips_every_node_and_edge():
    rng = np.random.default_rng(0)
    graphs = [_random_graph(rng, int(rng.integers(2, 8))) for _ in range(50)]
    budget = Budget.fitting(graphs, batch_size=64)
    batch, vocab = pad_batch(graphs, budget)
    assert batch.nodes["op"].shape == (budget.max_nodes,)
    assert batch.senders.shape == (budget.max_edges,)
    assert batch.n_node.shape == (budget.max_graphs,)
    assert batch.nodes["mask"].sum() == sum(g.num_nodes for g in graphs)
    assert batch.edges.sum() == sum(g.num_edges for g in graphs)
    assert unpad_batch(batch, vocab, len(graphs)) == graphs


def test_static_shapes_depend_only_on_the_budget():
    rng = np.random.default_rng(1)
    budget = Budget.for_batch(8, 7, 9)
    shapes = {
        jax.tree.map(
            np.shape, pad_batch([_random_graph(rng, int(rng.integers(2, 8))) for _ in range(k)], budget)[0]
        ).__repr__()
        for k in (1, 5, 8)
    }
    assert len(shapes) == 1


def test_over_budget_and_unknown_operator_are_named():
    graphs = [_random_graph(np.random.default_rng(2), 7)] * 3
    with pytest.raises(ValueError, match="do not fit"):
        pad_batch(graphs, Budget.for_batch(2, 7, 21))
    with pytest.raises(ValueError, match="not in the batch vocabulary"):
        pad_batch(graphs, Budget.fitting(graphs), vocab=("input", "output"))
    with pytest.raises(ValueError, match="empty batch"):
        Budget.fitting([])


def test_vocabulary_is_first_seen_order():
    g = ArchGraph(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), ("input", "zeta_op", "output"))
    assert vocabulary([g]) == ("input", "zeta_op", "output")
