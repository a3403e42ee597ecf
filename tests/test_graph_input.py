"""ArchGraph on malformed input: always a GraphError naming the fault, never numpy's own errors or warnings."""

import numpy as np
import pytest

from tgnas_jax.graph import MAX_NODES, ArchGraph, GraphError, as_adjacency

OPS = ("input", "conv", "output")
CHAIN = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]


@pytest.mark.parametrize(
    ("adjacency", "message"),
    [
        ([[0, 1, 0], [0, 0, 1], [0, 0]], "row 2 has 2 entries, not 3"),  # ragged: numpy's "inhomogeneous shape"
        ([[0, 1, None], [0, 0, 1], [0, 0, 0]], "got None at \\[0, 2\\]"),  # numpy: object array, then TypeError
        ([[0, 1, 1 + 0j], [0, 0, 1], [0, 0, 0]], "got \\(1\\+0j\\) at \\[0, 2\\]"),  # numpy: ComplexWarning
        (np.array(CHAIN, dtype=complex), "array of complex128"),
        ([["0", "1", "0"], [0, 0, 1], [0, 0, 0]], "got '0' at \\[0, 0\\]"),
        (np.array([["0", "1", "0"], ["0", "0", "1"], ["0", "0", "0"]]), "array of <U1"),
        ([[0, 1, 0], "001", [0, 0, 0]], "row 1 is '001'"),
        ([[[0], [1], [0]], [0, 0, 1], [0, 0, 0]], "got \\[0\\] at \\[0, 0\\]"),
        (None, "square matrix, got shape \\(\\)"),
        (5, "square matrix"),
        ([[0, float("nan"), 0], [0, 0, 1], [0, 0, 0]], "0 or 1"),
        (np.zeros((MAX_NODES + 1, MAX_NODES + 1)), f"{MAX_NODES + 1:,} rows"),
        ([[0] * 5000] * 5000, "5,000 rows"),
    ],
)
def test_malformed_adjacency_is_a_graph_error(adjacency: object, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        ArchGraph(adjacency, OPS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ("ioo", "sequence of operator names, got 'ioo'"),  # was: silently the ops ('i', 'o', 'o')
        (None, "got None"),  # was: TypeError from tuple(None)
        (7, "got 7"),
        (("input", None, "output"), "op 1 must be a non-empty string"),
    ],
)
def test_malformed_ops_are_a_graph_error(ops: object, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        ArchGraph(CHAIN, ops)  # type: ignore[arg-type]


def test_nested_lists_and_object_arrays_of_bits_are_still_graphs() -> None:
    """The checks reject bad entries only: 0/1 in any real numeric form still builds the same graph."""
    expected = ArchGraph(np.array(CHAIN), OPS)
    for adjacency in (
        CHAIN,
        [tuple(row) for row in CHAIN],
        [[False, True, 0.0], [0, 0, np.uint8(1)], np.zeros(3)],
        np.array(CHAIN, dtype=object),
    ):
        assert ArchGraph(adjacency, OPS) == expected  # type: ignore[arg-type]


def test_messages_quote_only_the_start_of_a_huge_op_name() -> None:
    with pytest.raises(GraphError) as caught:
        ArchGraph([[0, 0, 0], [0, 0, 1], [0, 0, 0]], ("input", "x" * 10_000_000, "output"))
    assert "disconnected" in str(caught.value) and len(str(caught.value)) < 400


def test_as_adjacency_refuses_a_huge_matrix_before_reading_it() -> None:
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(10**6, 10**6), strides=(0, 0))
    with pytest.raises(GraphError, match="1,000,000 rows"):
        as_adjacency(huge)


@pytest.mark.parametrize(
    ("adjacency", "ops"),
    [
        ([[0, 1], [0]], ("input", "output")),
        (None, ("input", "output")),
        ([[0, 1 + 0j], [0, 0]], ("input", "output")),
        ([[0, 2], [0, 0]], ("input", "output")),
        (np.zeros((2, 2)), None),
        (np.zeros((3, 3)), ("input", "output")),
    ],
)
def test_prune_answers_bad_input_with_a_graph_error(adjacency: object, ops: object) -> None:
    from tgnas_jax.graph import prune

    with pytest.raises(GraphError):
        prune(adjacency, ops)


def test_nb201_messages_quote_a_huge_bad_arch_briefly() -> None:
    from tgnas_jax.spaces.base import SpaceError
    from tgnas_jax.spaces.nb201 import NB201Space

    with pytest.raises(SpaceError) as caught:
        NB201Space().to_graphs(("x" * 10_000_000,) * 6)
    assert len(str(caught.value)) < 2_000
