"""The grammar of operator names: words, roles and attributes, and what it refuses to guess."""

from __future__ import annotations

import pytest

from tgnas_jax.embeddings.grammar import COMPOUNDS, KINDS, MODIFIERS, PHRASES, STAGES, Stage, parse


def only(name: str) -> Stage:
    (stage,) = parse(name).stages
    return stage


@pytest.mark.parametrize(
    ("name", "kernels"),
    [("conv3x3", [(3, 3)]), ("conv_k3", [(3, 3)]), ("k5_conv", [(5, 5)]), ("conv_kernel_7", [(7, 7)])],
)
def test_kernels_by_form_and_by_prefix(name, kernels):
    assert only(name).kernels == kernels


def test_a_factorised_kernel_keeps_both_sizes_in_order():
    assert only("conv_1x7_7x1").kernels == [(1, 7), (7, 1)]
    assert only("conv_7x1_1x7").kernels == [(7, 1), (1, 7)]


@pytest.mark.parametrize(
    ("name", "attribute", "value"),
    [
        ("conv3x3_s2", "stride", 2),
        ("conv3x3_stride2", "stride", 2),
        ("conv_3x3_stride_2", "stride", 2),
        ("conv3x3_dil2", "dilation", 2),
        ("conv3x3_d2", "dilation", 2),
        ("conv_3x3_dilation_4", "dilation", 4),
        ("mbconv_3x3_e6", "expansion", 6),
        ("ir_5x5_t6", "expansion", 6),
        ("mbconv_k3_expand6", "expansion", 6),
        ("mbconv_k3_x6", "expansion", 6),
        ("mb6_k5", "expansion", 6),
        ("conv3x3_g4", "groups", 4),
        ("conv3x3_groups4", "groups", 4),
        ("conv3x3_c64", "channels", 64),
        ("conv3x3_ch64", "channels", 64),
        ("conv3x3_w64", "channels", 64),
        ("conv1d_k3", "dims", 1),
    ],
)
def test_prefixed_numbers_take_their_attribute(name, attribute, value):
    stage = only(name)
    assert getattr(stage, attribute) == value
    assert not parse(name).problems


@pytest.mark.parametrize(
    ("name", "kind", "modifiers"),
    [
        ("sep_conv_5x5", "conv", ["separable"]),
        ("SepConv5x5", "conv", ["separable"]),
        ("dw_conv_3x3", "conv", ["depthwise"]),
        ("dilated_conv_3x3", "conv", ["dilated"]),
        ("max_pool_3x3", "pool", ["max"]),
        ("global_average_pool", "pool", ["global", "average"]),
        ("multi_head_self_attention", "attention", ["multihead", "self"]),
        ("mhsa", "attention", ["multihead", "self"]),
        ("lstm_cell", "cell", ["lstm"]),
        ("fused_mbconv_3x3", "mbconv", ["fused"]),
        ("inverted_residual_3x3", "mbconv", []),
        ("squeeze_and_excitation", "se", []),
        ("identity", "skip", []),
        ("zero", "none", []),
    ],
)
def test_words_name_a_kind_and_its_modifiers(name, kind, modifiers):
    stage = only(name)
    assert (stage.kind.text, stage.kind.role) == (kind, "kind")
    assert [m.text for m in stage.modifiers] == modifiers


def test_stages_split_the_name_and_attributes_go_to_the_latest_kind():
    convolution, norm, activation = parse("conv-bn-relu_5x5").stages
    assert (convolution.kind.text, norm.kind.text, activation.kind.text) == ("conv", "bn", "relu")
    assert convolution.kernels == [(5, 5)] and not activation.kernels


@pytest.mark.parametrize(("name", "stage"), [("relu6", "relu6"), ("hard_swish", "hswish"), ("silu", "swish")])
def test_activations_and_norms_are_stages(name, stage):
    assert (only(name).kind.text, only(name).kind.role) == (stage, "stage")


def test_a_number_nothing_places_is_kept_as_written_never_as_another_attribute():
    stage = only("conv_3x3_7")
    assert stage.kernels == [(3, 3)] and stage.extras == ["7"] and stage.stride is None
    assert parse("conv_3x3_7").unplaced == ("7",)
    twice = parse("conv3x3_s1_s2")
    assert twice.stages[0].stride == 1 and twice.unplaced == ("s2",)  # the second stride is not read as the first
    assert parse("se0.25").unplaced == ("0.25",)


def test_numbers_too_long_for_a_size_are_kept_as_written():
    huge = "9" * 5000
    parsed = parse(f"conv_{huge}x3_k{huge}")
    assert parsed.unplaced == (f"{huge}x3", huge) and parsed.stages[0].kernels == []


def test_unknown_words_are_kept_as_written():
    parsed = parse("Wavelet_Mixer_7x7")
    assert parsed.unknown == ("Wavelet", "Mixer")
    assert parsed.stages[0].kind.text == "Mixer" and parsed.stages[0].kind.role is None
    assert parse("resnet50").unknown == ("resnet50",)  # a name with its number, not a kernel of 50


@pytest.mark.parametrize(("name", "words"), [("卷积3x3", ("卷积",)), ("свёртка_3x3", ("свёртка",))])
def test_non_latin_words_are_kept_and_reported(name, words):
    parsed = parse(name)
    assert parsed.non_latin == words and parsed.stages[0].kernels == [(3, 3)]
    assert "non-Latin script" in parsed.problems[0] and words[0] in parsed.problems[0]


def test_accented_latin_words_are_not_called_non_latin():
    assert parse("café_conv").non_latin == ()


@pytest.mark.parametrize("name", ["3x3", "@@", "nor"])
def test_a_name_without_a_telling_word_is_a_problem(name):
    assert parse(name).problems == ("no word saying what the operator is",)


def test_tokens_are_what_was_read_as_written():
    assert parse("Conv_3x3_stride_2").tokens == ("Conv", "3x3", "stride_2")


def test_every_word_of_the_grammar_is_understood():
    words = [*KINDS, *MODIFIERS, *STAGES, *COMPOUNDS, *("_".join(p) for p in PHRASES)]
    for word in words:
        assert not parse(word).problems, word
