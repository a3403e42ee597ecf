"""Operator sentences: the paper's Table 1, shared wording across spaces, derived names, bad input."""

from __future__ import annotations

import re
import warnings

import pytest

from tgnas_jax.embeddings import (
    KNOWN_OPERATORS,
    LENGTHS,
    SHIPPED_TABLE,
    DescriptionFallbackWarning,
    derive_description,
    describe,
)
from tgnas_jax.embeddings.descriptions import overridden
from tgnas_jax.embeddings.grammar import COMPOUNDS, KINDS, MODIFIERS, PHRASES, STAGES
from tgnas_jax.embeddings.table import read_entries

NB101 = ["input", "output", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]
NB201 = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
DARTS = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
]
COMMON = [
    "conv3x3",
    "conv5x5",
    "conv7x7",
    "dw_conv_3x3",
    "sep_conv_7x7",
    "dilated_conv_3x3",
    "mb6_k5",
    "mbconv_e3_k7",
    "se",
    "max_pool_5x5",
    "avg_pool_7x7",
    "identity",
    "zero",
    "bn",
    "relu",
    "relu6",
    "gelu",
    "swish",
    "silu",
    "sigmoid",
    "hswish",
]

TABLE_1 = {
    "none": ("None", "Doing nothing", "A none operator that does nothing"),
    "skip_connect": (
        "Residual connection",
        "Identity mapping to the next layer",
        "A residual connection operator that adds identity mapping to the next layer",
    ),
    "nor_conv_3x3": (
        "Convolution 3x3",
        "Convolution 3 by 3 kernel, Batchnorm, ReLU",
        "A two-dimensional convolutional operator with a kernel size of 3 by 3 is applied, succeeded by a batch "
        "normalization layer, and followed by a rectified linear layer",
    ),
    "nor_conv_1x1": (
        "Convolution 1x1",
        "Convolution 1 by 1 kernel, Batchnorm, ReLU",
        "A two-dimensional convolutional operator with a kernel size of 1 by 1 is applied, succeeded by a batch "
        "normalization layer, and followed by a rectified linear layer",
    ),
    "avg_pool_3x3": (
        "Average pooling 3x3",
        "Average pooling 3 by 3 kernel",
        "A average pooling operator with a kernel size 3 by 3",
    ),
}


@pytest.mark.parametrize("op", sorted(TABLE_1))
def test_nb201_sentences_are_table_1_verbatim(op):
    assert tuple(describe(op, length).text for length in LENGTHS) == TABLE_1[op]


@pytest.mark.parametrize("op", sorted(set(NB101 + NB201 + DARTS + COMMON)))
def test_every_space_operator_has_three_table_sentences(op):
    assert op in KNOWN_OPERATORS
    texts = [describe(op, length) for length in LENGTHS]
    assert all(d.source == "table" and d.text.strip() and not d.derived for d in texts)
    assert len(texts[0].text) <= len(texts[1].text) <= len(texts[2].text)


@pytest.mark.parametrize(
    ("alias", "op"),
    [
        ("conv3x3-bn-relu", "nor_conv_3x3"),
        ("conv1x1-bn-relu", "nor_conv_1x1"),
        ("maxpool3x3", "max_pool_3x3"),
        ("identity", "skip_connect"),
        ("zero", "none"),
        ("mbconv_e6_k5", "mb6_k5"),
    ],
)
def test_one_operator_reads_the_same_in_every_space(alias, op):
    for length in LENGTHS:
        assert describe(alias, length).text == describe(op, length).text


def test_short_sentences_of_cell_nodes_and_nb101_ops():
    assert [describe(op).text for op in NB101] == [
        "Input",
        "Output",
        "Convolution 3x3",
        "Convolution 1x1",
        "Max pooling 3x3",
    ]


def test_lookup_ignores_case_and_separators():
    found = describe("Conv3x3_BN ReLU")
    assert (found.op, found.text, found.source) == ("Conv3x3_BN ReLU", "Convolution 3x3", "table")


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("sep_conv_5x5", "Separable convolution 5x5"),
        ("mb6_k5", "Inverted residual block 5x5, expansion 6"),
        ("mbconv_e3_k7", "Inverted residual block 7x7, expansion 3"),
        ("conv3x3-bn-relu", "Convolution 3x3, batch norm, ReLU"),
        ("dil_conv_3x3", "Dilated convolution 3x3"),
        ("conv 7x7", "Convolution 7x7"),
        ("k3_dw_conv", "Depthwise convolution 3x3"),
        ("maxpool3x3", "Max pooling 3x3"),
        ("relu-conv-bn_5x5", "ReLU, convolution 5x5, batch norm"),
        ("dil2_conv_3x3", "Dilated convolution 3x3, dilation 2"),
        ("global_avg_pool", "Global average pooling"),
    ],
)
def test_derived_short_sentences(name, sentence):
    assert derive_description(name) == sentence


def test_shipped_sentences_are_the_ones_the_predictor_was_trained_on():
    """Every sentence the shipped table stores is still the sentence of its operator, byte for byte."""
    entries = read_entries(SHIPPED_TABLE)
    assert {(key.op, key.length) for key in entries} == {(op, n) for op in KNOWN_OPERATORS for n in LENGTHS}
    for key in entries:
        found = describe(key.op, key.length)
        assert (found.text.encode(), found.source) == (key.description.encode(), "table"), key


@pytest.mark.parametrize(
    ("name", "short", "medium", "long"),
    [
        (
            "conv_3x3_stride_2",
            "Convolution 3x3, stride 2",
            "Convolution 3 by 3 kernel, stride 2",
            "A two-dimensional convolutional operator with a kernel size of 3 by 3 and a stride of 2",
        ),
        (
            "ir_5x5_t6",
            "Inverted residual block 5x5, expansion 6",
            "Inverted residual block 5 by 5 kernel, expansion 6",
            "A mobile inverted residual bottleneck block with a kernel size of 5 by 5 and an expansion ratio of 6",
        ),
        ("lstm_cell", "LSTM cell", "LSTM cell", "An LSTM recurrent cell"),
        (
            "multi_head_self_attention",
            "Multi-head self-attention",
            "Multi-head self-attention",
            "A multi-head self-attention operator",
        ),
        (
            "conv_1x7_7x1",
            "Convolution 1x7 and 7x1",
            "Convolution 1 by 7 and 7 by 1 kernels",
            "A two-dimensional convolutional operator with kernel sizes of 1 by 7 and 7 by 1",
        ),
        (
            "g4_dw_conv5x5_s2_c64_relu",
            "Depthwise convolution 5x5, stride 2, 4 groups, 64 channels, ReLU",
            "Depthwise convolution 5 by 5 kernel, stride 2, 4 groups, 64 channels, ReLU",
            "A depthwise two-dimensional convolutional operator with a kernel size of 5 by 5 and a stride of 2 and "
            "4 groups and 64 channels, followed by a rectified linear layer",
        ),
        (
            "conv1d_k3",
            "1D convolution 3x3",
            "1D convolution 3 by 3 kernel",
            "A one-dimensional convolutional operator with a kernel size of 3 by 3",
        ),
        ("gru", "GRU", "GRU", "A GRU operator"),
    ],
)
def test_names_the_grammar_reads_get_sentences_saying_every_attribute(name, short, medium, long):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read in full: no fallback warning
        assert [derive_description(name, length) for length in LENGTHS] == [short, medium, long]


@pytest.mark.parametrize(
    "name", ["multi_head_self_attention", "multihead_attention_self", "sep_sepconv_3x3", "dil_dilated_conv_d2"]
)
def test_no_word_is_doubled(name):
    for length in LENGTHS:
        words = derive_description(name, length).lower().replace("-", " ").split()
        assert all(a != b for a, b in zip(words, words[1:], strict=False)), derive_description(name, length)


@pytest.mark.parametrize(
    ("name", "sentence", "problem"),
    [
        ("wavelet_7x7", "Wavelet 7x7", "words the grammar does not know ('wavelet')"),
        ("卷积3x3", "卷积 3x3", "words in a non-Latin script ('卷积')"),
        ("свёртка_3x3", "Свёртка 3x3", "words in a non-Latin script ('свёртка')"),
        ("conv_3x3_7", "Convolution 3x3 7", "numbers it cannot place ('7')"),
        ("3x3", "Operator 3x3", "no word saying what the operator is"),
    ],
)
def test_guessed_sentences_keep_the_name_and_warn_how_to_give_one(name, sentence, problem):
    with pytest.warns(DescriptionFallbackWarning) as caught:
        found = describe(name)
    assert (found.text, found.source) == (sentence, "derived")
    message = str(caught[0].message)
    assert f"operator {name!r}" in message and problem in message
    assert f"describe={{{name!r}: " in message and f"--describe '{name}=" in message


def test_the_fallback_warning_comes_once_per_operator_name():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            for length in LENGTHS:
                describe("wavelet_7x7", length)
                describe("gabor_5x5", length)
    assert sorted(re.findall(r"operator '(\w+)'", " ".join(str(w.message) for w in caught))) == [
        "gabor_5x5",
        "wavelet_7x7",
    ]


@pytest.mark.parametrize("name", ["nor_conv_3x3", "conv3x3-bn-relu", "sep_conv_9x9", "conv_3x3_stride_2"])
def test_table_and_fully_read_names_do_not_warn(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for length in LENGTHS:
            describe(name, length)


def test_an_override_silences_the_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert describe("卷积3x3", overrides={"卷积3x3": "Convolution 3x3"}).source == "override"


def test_every_grammar_word_has_a_phrase_at_every_length():
    for word in [*KINDS, *MODIFIERS, *STAGES, *COMPOUNDS, *("_".join(p) for p in PHRASES)]:
        for length in LENGTHS:
            assert derive_description(word, length).strip(), word


def test_overridden_finds_every_spelling():
    found = overridden(["Nor-Conv-3x3", "none", "mine"], {"nor_conv_3x3": "Convolution", "MINE": "Mine"})
    assert found == {"Nor-Conv-3x3": "Convolution", "mine": "Mine"}
    assert overridden(["none"], None) == {}


def test_derived_medium_and_long_follow_the_table_style():
    assert derive_description("conv3x3-bn-relu", "medium") == describe("conv3x3-bn-relu", "medium").text
    assert derive_description("mb6_k5", "long") == (
        "A mobile inverted residual bottleneck block with a kernel size of 5 by 5 and an expansion ratio of 6"
    )
    assert derive_description("sep_conv_5x5_relu", "long").endswith(", followed by a rectified linear layer")


def test_unknown_operator_gets_a_derived_sentence():
    found = describe("sep_conv_9x9", "short")
    assert (found.text, found.source, found.derived) == ("Separable convolution 9x9", "derived", True)


@pytest.mark.parametrize("name", ["@@", "nor", "3x3", "x", "resnet50"])
def test_odd_names_still_get_a_sentence(name):
    for length in LENGTHS:
        with pytest.warns(DescriptionFallbackWarning, match=re.escape(repr(name))):
            assert derive_description(name, length).strip()


def test_overrides_win_at_every_length():
    overrides = {"My-Op": "A learned wavelet filter", "nor_conv_3x3": "Convolution three by three"}
    for length in LENGTHS:
        assert describe("my_op", length, overrides).text == "A learned wavelet filter"
        found = describe("nor_conv_3x3", length, overrides)
        assert (found.text, found.source) == ("Convolution three by three", "override")


@pytest.mark.parametrize("bad", [None, 3, b"conv", ["conv"]])
def test_non_string_names_raise_type_error(bad):
    with pytest.raises(TypeError, match="must be a string") as err:
        describe(bad)
    assert repr(bad) in str(err.value)
    with pytest.raises(TypeError):
        derive_description(bad)


@pytest.mark.parametrize("bad", ["", "   ", "\t"])
def test_empty_names_raise_value_error(bad):
    with pytest.raises(ValueError, match="non-empty"):
        describe(bad)


def test_bad_lengths_and_overrides():
    with pytest.raises(ValueError, match="'tiny'"):
        describe("none", "tiny")
    with pytest.raises(TypeError, match="must be a string, got 7"):
        describe("none", overrides={"none": 7})
    with pytest.raises(ValueError, match="description of 'none' is empty"):
        describe("none", overrides={"none": "  "})
    with pytest.raises(ValueError, match="non-empty"):
        describe("none", overrides={"": "Nothing"})
    with pytest.raises(TypeError, match="must map operator names"):
        describe("none", overrides=["none=Nothing"])
