import numpy as np
import pytest

from tgnas_jax.graph import ArchGraph, GraphError, contract, prune, topological_order, wl_hash

CHAIN = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])


def test_valid_graph_keeps_names_and_is_read_only():
    g = ArchGraph(CHAIN, ("input", "some_unseen_op", "output"))
    assert g.ops == ("input", "some_unseen_op", "output")
    assert g.num_edges == 2 and not g.is_broken
    assert g.edges.tolist() == [[0, 1], [1, 2]]
    with pytest.raises(ValueError):
        g.adjacency[0, 2] = 1


def test_equality_and_hash_are_by_value():
    a = ArchGraph(CHAIN, ("input", "conv", "output"))
    b = ArchGraph(CHAIN.copy(), ["input", "conv", "output"])
    assert a == b and hash(a) == hash(b)
    assert a != ArchGraph(CHAIN, ("input", "pool", "output"))


@pytest.mark.parametrize(
    ("adjacency", "ops", "message"),
    [
        (np.zeros((2, 3)), ("input", "output"), "square"),
        (CHAIN, ("input", "output"), "3 ops were given|2 ops were given"),
        (CHAIN * 2, ("input", "conv", "output"), "0 or 1"),
        (np.eye(3, dtype=int), ("input", "conv", "output"), "self-loop"),
        (CHAIN, ("conv", "conv", "output"), "'input'"),
        (CHAIN, ("input", "conv", "conv"), "'output'"),
        (CHAIN, ("input", "", "output"), "non-empty string"),
        (CHAIN, ("input", 3, "output"), "non-empty string"),
        (np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 1], [0, 0, 0, 0]]), ("input", "a", "b", "output"), "cycle"),
        (np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]]), ("input", "conv", "output"), "disconnected.*output"),
        (np.array([[0, 0, 1], [0, 0, 1], [0, 0, 0]]), ("input", "conv", "output"), "disconnected.*input"),
        (np.array([[0, 0, 0], [1, 0, 1], [0, 0, 0]]), ("input", "conv", "output"), "input node 0 has incoming"),
    ],
)
def test_bad_graphs_are_named(adjacency, ops, message):
    with pytest.raises(GraphError, match=message):
        ArchGraph(adjacency, ops)


def test_broken_cell_is_allowed_and_flagged():
    assert ArchGraph(np.zeros((2, 2)), ("input", "output")).is_broken


def test_prune_removes_dangling_nodes_nb101_style():
    # 0 -> 1 -> 3 (output); node 2 hangs off the input and feeds nothing.
    adjacency = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    pruned = prune(adjacency, ("input", "conv", "pool", "output"))
    assert pruned.ops == ("input", "conv", "output")
    assert pruned.edges.tolist() == [[0, 1], [1, 2]]


def test_prune_without_any_path_gives_the_broken_cell():
    adjacency = np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    assert prune(adjacency, ("input", "conv", "output")).is_broken


def test_topological_order_respects_edges():
    adjacency = np.array([[0, 0, 0], [1, 0, 1], [1, 0, 0]])
    order = topological_order(adjacency)
    assert order.index(1) < order.index(2) < order.index(0)


def test_wl_hash_is_isomorphism_invariant_and_label_sensitive():
    a = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    swapped = a[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])]
    assert wl_hash(a, [-1, 0, 1, -2]) == wl_hash(swapped, [-1, 1, 0, -2])
    assert wl_hash(a, [-1, 0, 1, -2]) != wl_hash(a, [-1, 0, 0, -2])
    assert wl_hash(a, np.array([-1, 0, 1, -2], dtype=np.int8)) == wl_hash(a, [-1, 0, 1, -2])


def test_prune_names_a_missing_output():
    with pytest.raises(GraphError, match="'output'"):
        prune(CHAIN, ("input", "conv", "conv"))


def test_contract_wires_an_identitys_predecessors_to_its_successors() -> None:
    # input -> skip -> conv -> output, and input -> conv2 -> skip2 -> output
    adjacency = np.zeros((6, 6), np.uint8)
    for a, b in ((0, 1), (1, 2), (2, 5), (0, 3), (3, 4), (4, 5)):
        adjacency[a, b] = 1
    graph = ArchGraph(adjacency, ("input", "skip", "conv", "conv2", "skip2", "output"))
    contracted = contract(graph, {"skip", "skip2"})
    assert contracted.ops == ("input", "conv", "conv2", "output")
    assert sorted(map(tuple, contracted.edges.tolist())) == [(0, 1), (0, 2), (1, 3), (2, 3)]
    assert contract(graph, {"pool"}) is graph


def test_contract_turns_a_skip_only_path_into_an_input_output_edge() -> None:
    chain = ArchGraph(np.triu(np.ones((4, 4), np.uint8), 1), ("input", "skip", "skip", "output"))
    contracted = contract(chain, {"skip"})
    assert contracted.ops == ("input", "output")
    assert contracted.edges.tolist() == [[0, 1]] and not contracted.is_broken
