"""Structured operator attributes: what each built-in operator reads as, and names nothing places."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tgnas_jax.embeddings.attributes import ATTRIBUTES, NUM_ATTRIBUTES, attribute_vector, attribute_vectors


def attrs(name: str) -> dict[str, float]:
    return dict(zip(ATTRIBUTES, attribute_vector(name).tolist(), strict=True))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("conv3x3-bn-relu", "conv"),
        ("nor_conv_1x1", "conv"),
        ("sep_conv_5x5", "conv"),
        ("ir_k5_e6", "conv"),
        ("maxpool3x3", "pool"),
        ("avg_pool_3x3", "pool"),
        ("skip_connect", "identity"),
        ("none", "zero"),
        ("input", "cell_end"),
        ("output", "cell_end"),
    ],
)
def test_each_operator_has_exactly_one_kind(name, kind):
    flags = {k: v for k, v in attrs(name).items() if k in ("conv", "pool", "identity", "zero", "cell_end")}
    assert flags == {k: float(k == kind) for k in flags}


def test_the_same_operator_reads_the_same_in_every_space():
    np.testing.assert_array_equal(attribute_vector("conv3x3-bn-relu"), attribute_vector("nor_conv_3x3"))
    np.testing.assert_array_equal(attribute_vector("maxpool3x3"), attribute_vector("max_pool_3x3"))


def test_receptive_field_grows_with_kernel_and_dilation():
    field = {n: attrs(n)["log2_receptive_field"] for n in ("nor_conv_1x1", "sep_conv_3x3", "sep_conv_5x5")}
    assert field == {
        "nor_conv_1x1": 0.0,
        "sep_conv_3x3": pytest.approx(math.log2(3)),
        "sep_conv_5x5": pytest.approx(math.log2(5)),
    }
    # DARTS's dil_conv_3x3 (dilation 2) sees 5 pixels, like a 5x5; an explicit dilation is read as written.
    assert attrs("dil_conv_3x3")["log2_receptive_field"] == pytest.approx(math.log2(5))
    assert attrs("conv_3x3_dil4")["log2_receptive_field"] == pytest.approx(math.log2(9))


def test_cost_orders_dense_separable_and_pointwise_convolutions():
    cost = {n: attrs(n)["log2_cost"] for n in ("nor_conv_1x1", "nor_conv_3x3", "sep_conv_3x3", "sep_conv_5x5")}
    assert cost["nor_conv_1x1"] == 1.0 and cost["nor_conv_3x3"] == pytest.approx(math.log2(10))
    assert cost["nor_conv_1x1"] < cost["sep_conv_3x3"] < cost["sep_conv_5x5"] < cost["nor_conv_3x3"]
    assert attrs("ir_k3_e6")["log2_cost"] > cost["nor_conv_3x3"]
    assert attrs("max_pool_3x3")["log2_cost"] == attrs("skip_connect")["log2_cost"] == 0.0


def test_a_factorised_kernel_costs_its_taps_and_sees_its_longest_side():
    assert attrs("conv_1x7_7x1")["log2_cost"] == pytest.approx(math.log2(1 + 14))
    assert attrs("conv_1x7_7x1")["log2_receptive_field"] == pytest.approx(math.log2(7))


@pytest.mark.parametrize("name", ["conv_0x0", "conv_k0", "max_pool_0x0", "conv3x3_s0", "conv3x3_dil0"])
def test_sizes_below_one_read_as_the_smallest_not_a_math_error(name):
    assert np.isfinite(attribute_vector(name)).all()


def test_stride_is_read_from_the_name():
    assert attrs("conv3x3_s2")["log2_stride"] == 1.0 and attrs("conv3x3")["log2_stride"] == 0.0


@pytest.mark.parametrize("name", ["wavelet", "my_op", "", "卷积"])
def test_a_name_the_grammar_cannot_place_adds_nothing(name):
    np.testing.assert_array_equal(attribute_vector(name), np.zeros(NUM_ATTRIBUTES, np.float32))


def test_rows_stack_in_name_order_and_an_empty_list_keeps_its_width():
    names = ["input", "sep_conv_3x3", "none"]
    rows = attribute_vectors(names)
    assert rows.dtype == np.float32 and rows.shape == (3, NUM_ATTRIBUTES)
    np.testing.assert_array_equal(rows[1], attribute_vector("sep_conv_3x3"))
    assert attribute_vectors([]).shape == (0, NUM_ATTRIBUTES)
