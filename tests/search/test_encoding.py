"""Genomes and jitted cells agree with the spaces' own architectures, graphs and sizes."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tgnas_jax.predictor import Predictor
from tgnas_jax.search import encoding_for
from tgnas_jax.spaces import DartsSpace, NB101Space, NB201Space
from tgnas_jax.spaces.darts import PUBLISHED, Genotype

SPACES = {
    "nb201": NB201Space(),
    "nb201-paper": NB201Space(encoding="paper"),
    "nb201-residual": NB201Space(encoding="residual"),
    "darts": DartsSpace(),
    "darts-imagenet": DartsSpace(setting="imagenet"),
    "darts-residual": DartsSpace(encoding="residual"),
    "nb101": NB101Space(),
}


def _archs(name: str) -> list:
    space = SPACES[name]
    if name.startswith("nb201"):
        return list(space.enumerate())[:2000]
    extra = list(PUBLISHED.values()) if name.startswith("darts") else []
    return extra + space.samples(200, seed=0)


def test_nb201_choices_round_trip_over_the_whole_space() -> None:
    encoding = encoding_for(NB201Space())
    archs = list(NB201Space().enumerate())
    choices = np.stack([encoding.from_arch(a) for a in archs])
    assert [encoding.to_arch(c) for c in choices] == archs
    genes = jnp.asarray(np.stack([encoding.encode(c) for c in choices]))
    np.testing.assert_array_equal(np.asarray(jax.vmap(encoding.decode)(genes)), choices)


@pytest.mark.parametrize("name", ["nb201", "nb101", "darts"])
def test_choices_of_a_batch_are_each_architectures_own(name: str) -> None:
    """NB201 reads its cells' choices from a table, NB101 gathers each cell size's edges at once; DARTS leaves
    out a genotype it cannot express."""
    encoding = encoding_for(SPACES[name])
    archs = _archs(name)
    if name == "nb101":  # the smallest cell, input -> output, has no inner vertex
        archs.append(SPACES[name].parse("01/00|input,output"))
    if name == "darts":
        genotype = PUBLISHED["DARTS_V2"]
        archs.insert(3, Genotype(genotype.normal, (2, 3), genotype.reduce, genotype.reduce_concat))
    rows, choices = encoding.choices_of(archs)
    expressed = [i for i in range(len(archs)) if not (name == "darts" and i == 3)]
    np.testing.assert_array_equal(rows, expressed)
    assert choices.dtype == np.int32
    np.testing.assert_array_equal(choices, np.stack([encoding.from_arch(archs[i]) for i in expressed]))
    empty_rows, empty = encoding.choices_of([])
    assert empty_rows.shape == (0,) and empty.shape == (0, encoding.num_genes)


def test_nb101_choices_round_trip() -> None:
    encoding = encoding_for(SPACES["nb101"])
    for arch in _archs("nb101"):
        assert encoding.to_arch(encoding.from_arch(arch)) == arch


def _node_edges(edges: tuple) -> list[set]:
    return [set(edges[i : i + 2]) for i in range(0, len(edges), 2)]


def test_darts_choices_round_trip_up_to_the_order_of_a_nodes_two_edges() -> None:
    encoding = encoding_for(SPACES["darts"])
    for arch in _archs("darts"):
        again = encoding.to_arch(encoding.from_arch(arch))
        assert _node_edges(again.normal) == _node_edges(arch.normal)
        assert _node_edges(again.reduce) == _node_edges(arch.reduce)


def test_genes_at_the_edges_of_the_interval_decode_to_the_first_and_last_choice() -> None:
    encoding = encoding_for(DartsSpace())
    low = np.asarray(encoding.decode(jnp.zeros(encoding.num_genes)))
    high = np.asarray(encoding.decode(jnp.ones(encoding.num_genes)))
    np.testing.assert_array_equal(low, 0)
    np.testing.assert_array_equal(high, encoding.cardinality - 1)


#: NB201 and DARTS are scored with the model-size prior the shipped predictor has, NB101 (no FLOP count) without.
BLENDED = {
    "nb201": True,
    "nb201-paper": False,
    "nb201-residual": True,
    "darts": True,
    "darts-imagenet": True,
    "darts-residual": False,
    "nb101": False,
}


@pytest.mark.parametrize("name", list(SPACES))
def test_jitted_scores_equal_the_predictors_scores_of_the_space_graphs(
    name: str, predictor: Predictor, blended: Predictor, jitted_scores: Any, graph_scores: Any
) -> None:
    space, scorer = SPACES[name], blended if BLENDED[name] else predictor
    archs = _archs(name)
    mine = jitted_scores(space, scorer, archs, batch=256)
    reference = graph_scores(space, scorer, archs)
    np.testing.assert_allclose(scorer.score(archs, space), mine, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.isfinite(mine), np.isfinite(reference))
    live = np.isfinite(reference)
    np.testing.assert_allclose(mine[live], reference[live], rtol=1e-4, atol=1e-4)
    if name == "nb201":
        assert (~live).sum() > 0  # broken cells (no input -> output path) score -inf on both sides


@pytest.mark.parametrize(
    ("name", "space"),
    [
        ("nb201", NB201Space()),
        ("nb201", NB201Space(num_classes=120, input_size=16)),
        ("darts", DartsSpace()),
        ("darts", DartsSpace(setting="imagenet")),
    ],
)
def test_additive_size_tables_are_exact(name: str, space: NB201Space | DartsSpace) -> None:
    """Budgets and the size prior count, inside jit, exactly the network the space instance measures."""
    encoding = encoding_for(space)
    archs = _archs(name)
    choices = jnp.asarray(np.stack([encoding.from_arch(a) for a in archs]))
    sizes = np.asarray(jax.vmap(encoding.cost)(choices))
    expected = np.array([[space.num_params(a), space.num_flops(a)] for a in archs])
    np.testing.assert_array_equal(sizes, expected)
    np.testing.assert_array_equal(np.asarray(jax.vmap(encoding.prior_flops)(choices)), expected[:, 1])


def test_darts_encoding_refuses_what_darts_cannot_derive() -> None:
    encoding = encoding_for(DartsSpace())
    genotype = PUBLISHED["DARTS_V2"]
    with_none = Genotype(
        (("none", 0), *genotype.normal[1:]), genotype.normal_concat, genotype.reduce, genotype.reduce_concat
    )
    with pytest.raises(ValueError, match="cannot derive"):
        encoding.from_arch(with_none)
    partial = Genotype(genotype.normal, (2, 3), genotype.reduce, genotype.reduce_concat)
    with pytest.raises(ValueError, match="concatenates every intermediate node"):
        encoding.from_arch(partial)


def test_every_darts_choice_vector_is_a_valid_genotype() -> None:
    encoding = encoding_for(DartsSpace())
    rng = np.random.default_rng(0)
    for _ in range(200):
        genotype = encoding.to_arch(rng.integers(0, encoding.cardinality))  # Genotype checks distinct inputs
        assert all(op != "none" for op, _ in genotype.normal + genotype.reduce)
