"""The size prior: which operators are convolutions, counts per architecture, the standardised blend."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from tgnas_jax.graph import ArchGraph
from tgnas_jax.prior import CostBlend, convolution_count, convolution_flags, is_convolution
from tgnas_jax.spaces import DartsSpace, NB201Space

CONVOLUTIONS = ("nor_conv_3x3", "nor_conv_1x1", "conv3x3-bn-relu", "sep_conv_5x5", "dil_conv_3x3", "mbconv_e6_k5")
OTHERS = ("maxpool3x3", "avg_pool_3x3", "skip_connect", "none", "input", "output", "wavelet_mixer")


def test_convolutions_are_told_by_their_names():
    assert all(is_convolution(op) for op in CONVOLUTIONS)
    assert not any(is_convolution(op) for op in OTHERS)
    np.testing.assert_array_equal(convolution_flags(("input", "sep_conv_3x3", "max_pool_3x3")), [0, 1, 0])


def test_an_architecture_counts_the_convolution_nodes_of_all_its_cells():
    chain = ArchGraph(
        np.eye(5, k=1, dtype=np.uint8), ("input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output")
    )
    assert convolution_count([chain]) == 2 and convolution_count([chain, chain]) == 4
    nb201 = NB201Space()
    arch = nb201.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    assert convolution_count(nb201.to_graphs(arch)) == 3
    darts = DartsSpace()
    genotype = darts.samples(1, seed=0)[0]
    convs = sum("conv" in op for op, _ in genotype.normal + genotype.reduce)
    assert convolution_count(darts.to_graphs(genotype)) == convs  # every DARTS op feeds the cell's output


def test_the_blend_standardises_each_term_on_its_reference_sample():
    rng = np.random.default_rng(0)
    scores, log_flops, convs = rng.normal(3, 2, 500), rng.normal(10, 0.5, 500), rng.integers(0, 7, 500)
    scores[:5] = -np.inf  # broken cells: left out of the GCN term's standardisation, and stay -inf
    blend = CostBlend.fit(0.5, 0.25, scores, log_flops, convs)
    live = np.isfinite(scores)
    z = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    want = np.full(500, -np.inf)
    want[live] = z(scores[live]) + 0.5 * z(log_flops)[live] + 0.25 * z(convs.astype(float))[live]
    np.testing.assert_allclose(blend.apply(scores, log_flops, convs), want, rtol=1e-10)
    on_device = blend.apply(jnp.asarray(scores[live]), jnp.asarray(log_flops[live]), jnp.asarray(convs[live]))
    np.testing.assert_allclose(np.asarray(on_device), want[live], rtol=1e-5, atol=1e-5)


def test_a_term_constant_over_the_sample_adds_a_constant_not_a_division_by_zero():
    blend = CostBlend.fit(0.5, 1.0, np.array([1.0, 2.0, 3.0]), np.full(3, 4.0), np.zeros(3))
    assert blend.cost_std == 1.0 and blend.conv_std == 1.0
    out = blend.apply(np.array([1.0, 3.0]), np.full(2, 4.0), np.zeros(2))
    np.testing.assert_allclose(out, [-np.sqrt(1.5), np.sqrt(1.5)])


def test_the_convolution_term_alone_ranks_by_convolution_count(make_tiny_predictor):
    """A dominant conv weight (and no FLOP weight) orders NB201 cells by their convolutions."""
    predictor = dataclasses.replace(make_tiny_predictor(members=1, cost_weight=0.0), conv_weight=1e4)
    space = NB201Space()
    archs = space.samples(60, seed=3)
    scores = predictor.score(archs, space)
    convs = np.array([convolution_count(space.to_graphs(a)) for a in archs])
    live = np.isfinite(scores)
    assert (np.diff(convs[live][np.argsort(scores[live])]) >= 0).all() and len(set(convs[live])) > 3
    assert not np.allclose(predictor.score(archs, space, prior=False), scores)


@pytest.mark.parametrize("weights", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)])
def test_a_prior_exists_when_either_weight_is_set(make_tiny_predictor, weights):
    cost_weight, conv_weight = weights
    predictor = dataclasses.replace(make_tiny_predictor(members=1), cost_weight=cost_weight, conv_weight=conv_weight)
    blend = predictor.cost_blend(NB201Space())
    assert (blend is None) == (weights == (0.0, 0.0))
    if blend is not None:
        assert (blend.weight, blend.conv_weight) == weights


def test_changing_the_weights_after_scoring_takes_effect(make_tiny_predictor):
    predictor, space = make_tiny_predictor(members=1), NB201Space()
    archs = space.samples(30, seed=6)
    blended = predictor.score(archs, space)
    predictor.cost_weight = predictor.conv_weight = 0.0
    np.testing.assert_allclose(predictor.score(archs, space), predictor.score(archs, space, prior=False))
    assert not np.allclose(predictor.score(archs, space), blended)
