import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tgnas_jax.batching import Budget, DenseCells, pad_batch
from tgnas_jax.graph import ArchGraph
from tgnas_jax.model import GCN, ModelConfig, output_fed

OPS = ("input", "conv", "pool", "output")
TABLE = jax.random.normal(jax.random.PRNGKey(0), (len(OPS), 12))


def _graphs() -> list[ArchGraph]:
    diamond = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    chain = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    return [ArchGraph(diamond, ("input", "conv", "pool", "output")), ArchGraph(chain, ("input", "pool", "output"))]


def _init(cfg: ModelConfig, batch):
    return GCN(cfg).init(jax.random.PRNGKey(1), batch, TABLE)["params"]


def _dense(graphs: list[ArchGraph], slots: int):
    adjacency = np.zeros((len(graphs), slots, slots), np.uint8)
    ops = np.full((len(graphs), slots), -1, np.int32)
    for i, g in enumerate(graphs):
        adjacency[i, : g.num_nodes, : g.num_nodes] = g.adjacency
        ops[i, : g.num_nodes] = [OPS.index(op) for op in g.ops]
    return DenseCells(adjacency, ops, (ops >= 0).astype(np.float32))


@pytest.mark.parametrize(
    ("readout", "norm", "direction"),
    [(r, n, "forward") for r in ("global", "mean") for n in ("graph", "layer", "none")]
    + [("mean", "graph", "both"), ("global", "none", "both")],
)
def test_packed_and_fixed_slot_batches_score_the_same(readout, norm, direction):
    cfg = ModelConfig(hidden=16, layers=3, readout=readout, norm=norm, direction=direction)
    graphs = _graphs()
    packed, _ = pad_batch(graphs, Budget.for_batch(4, 4, 4), vocab=OPS)
    params = _init(cfg, packed)
    packed_scores = GCN(cfg).apply({"params": params}, packed, TABLE)[: len(graphs)]
    dense_scores = GCN(cfg).apply({"params": params}, _dense(graphs, 7), TABLE)
    np.testing.assert_allclose(packed_scores, dense_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("direction", ["forward", "both"])
def test_wide_dense_cells_propagate_as_narrow_ones(direction):
    """Empty slots past a cell's nodes change nothing, however many (here past problem.DENSE_NODES)."""
    cfg = ModelConfig(hidden=16, layers=3, direction=direction)
    graphs = _graphs()
    narrow, wide = _dense(graphs, 5), _dense(graphs, 35)
    params = _init(cfg, narrow)
    np.testing.assert_allclose(
        GCN(cfg).apply({"params": params}, wide, TABLE), GCN(cfg).apply({"params": params}, narrow, TABLE), rtol=1e-5
    )


@pytest.mark.parametrize("direction", ["forward", "both"])
def test_dense_edges_touching_empty_slots_take_no_part(direction):
    cfg = ModelConfig(hidden=16, layers=2, direction=direction)
    cells = _dense(_graphs(), 6)
    params = _init(cfg, cells)
    noisy = np.array(cells.adjacency)
    noisy[:, :, 5] = noisy[:, 5, :] = 1  # slot 5 is empty in both cells
    scores = GCN(cfg).apply({"params": params}, cells, TABLE)
    np.testing.assert_array_equal(GCN(cfg).apply({"params": params}, cells._replace(adjacency=noisy), TABLE), scores)


def test_output_fed_is_the_same_in_both_layouts():
    cut = ArchGraph(np.zeros((2, 2)), ("input", "output"))  # no data reaches the output
    graphs = [*_graphs(), cut]
    packed, _ = pad_batch(graphs, Budget.for_batch(4, 4, 4), vocab=OPS)
    output_id = jnp.asarray(OPS.index("output"))
    assert output_fed(packed, output_id)[: len(graphs)].tolist() == [True, True, False]
    assert output_fed(_dense(graphs, 5), output_id).tolist() == [True, True, False]


def test_forward_propagation_sees_edge_direction_and_symmetric_does_not():
    chain = ArchGraph(
        np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]), ("input", "conv", "pool", "output")
    )
    ops, mask = np.array([[0, 1, 2, 3]]), np.ones((1, 4), np.float32)
    along = DenseCells(chain.adjacency[None], ops, mask)
    against = DenseCells(chain.adjacency.T[None], ops, mask)  # every edge reversed
    for direction, same in (("both", True), ("forward", False)):
        cfg = ModelConfig(hidden=16, layers=2, direction=direction, readout="mean", norm="none")
        params = _init(cfg, along)
        a, b = GCN(cfg).apply({"params": params}, along, TABLE), GCN(cfg).apply({"params": params}, against, TABLE)
        assert bool(jnp.allclose(a, b, atol=1e-6)) == same


def test_padding_graph_does_not_leak_into_real_scores():
    cfg = ModelConfig(hidden=16, layers=2)
    graphs = _graphs()
    small, _ = pad_batch(graphs, Budget.for_batch(2, 4, 4), vocab=OPS)
    large, _ = pad_batch(graphs, Budget.for_batch(16, 8, 8), vocab=OPS)
    params = _init(cfg, small)
    np.testing.assert_allclose(
        GCN(cfg).apply({"params": params}, small, TABLE)[:2],
        GCN(cfg).apply({"params": params}, large, TABLE)[:2],
        rtol=1e-5,
        atol=1e-5,
    )


def test_top_weighted_pairwise_loss_charges_most_for_misordering_the_best():
    import jax.numpy as jnp

    from tgnas_jax.training import pairwise_loss

    labels = jnp.array([2.0, 1.5, -1.5, -2.0])
    top_swapped = jnp.array([1.5, 2.0, -1.5, -2.0])
    bottom_swapped = jnp.array([2.0, 1.5, -2.0, -1.5])
    plain = float(pairwise_loss(top_swapped, labels)), float(pairwise_loss(bottom_swapped, labels))
    assert plain[0] == pytest.approx(plain[1])
    weighted = float(pairwise_loss(top_swapped, labels, 1.0)), float(pairwise_loss(bottom_swapped, labels, 1.0))
    assert weighted[0] > 1.5 * weighted[1]


def test_the_top_weight_reaches_the_training_loss():
    import jax.numpy as jnp

    from tgnas_jax.training import loss_fn, pairwise_loss

    labels, scores = jnp.array([2.0, 1.5, -1.5, -2.0]), jnp.array([1.5, 2.0, -1.5, -2.0])
    mse = float(jnp.mean((scores - labels) ** 2))
    for weight in (1.0, 2.0):
        expected = mse + float(pairwise_loss(scores, labels, weight))
        assert float(loss_fn(scores, labels, "mse+top", weight)) == pytest.approx(expected, rel=1e-6)
    assert float(loss_fn(scores, labels, "mse+top", 2.0)) != pytest.approx(float(loss_fn(scores, labels, "mse+top")))
