"""Parsers on hostile input: a SpaceError, fast and with a short message, never MemoryError or RecursionError."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from tgnas_jax.spaces import DartsSpace, NB101Arch, NB101Space, NB201Space, SpaceError
from tgnas_jax.spaces.darts import PUBLISHED, format_genotype

V2 = format_genotype(PUBLISHED["DARTS_V2"])
#: Longest message a rejection may give: the quoted input is cut to a few hundred characters.
SHORT = 1200


def _rejects(space: object, text: object, fault: str) -> str:
    start = time.perf_counter()
    with pytest.raises(SpaceError) as caught:
        space.parse(text)  # type: ignore[attr-defined]
    message = str(caught.value)
    assert fault in message
    assert len(message) < SHORT
    assert time.perf_counter() - start < 2.0
    return message


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("Genotype(normal=" + "-" * 100_000 + "1)", "over 4,096 characters"),  # was MemoryError
        ("Genotype(normal=" + "-" * 4_000 + "1)", "nested too deeply"),  # was RecursionError
        ("not " * 100_000, "over 4,096 characters"),
        ("lambda: " * 50_000, "over 4,096 characters"),
        ("+".join(["1"] * 100_000), "over 4,096 characters"),  # was RecursionError
        ("Genotype(normal=" + "+".join(["1"] * 1_900) + ")", "missing"),
        (V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 100000000)"), "more than the 4"),
        (V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 10000000000000000000000)"), "more than"),
        (V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[" + "9" * 3_000 + "]"), "magnitude 2**31"),
        (V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[0x" + "f" * 3_400 + "]"), "magnitude 2**31"),
        (V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=a" + "[0]" * 1_200), "must be a literal"),
    ],
)
def test_darts_rejects_hostile_text(text: str, fault: str) -> None:
    _rejects(DartsSpace(), text, fault)


@pytest.mark.parametrize("space", [DartsSpace(), NB101Space(), NB201Space()], ids=lambda s: s.name)
@pytest.mark.parametrize("value", [None, 1, [], b"|none~0|", ("none",) * 6])
def test_non_strings_are_space_errors(space: object, value: object) -> None:
    """DARTS and NB101 used to fail with AttributeError ('NoneType' has no attribute 'strip' / 'partition')."""
    _rejects(space, value, "must be a str")


def test_a_short_bad_genotype_is_still_quoted_whole() -> None:
    text = V2.replace("sep_conv_3x3", "sep_conv_7x7", 1)
    assert repr(text) in _rejects(DartsSpace(), text, "unknown op 'sep_conv_7x7'")


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("x" * 10_000_000, "expected 3 nodes"),
        ("+".join(["1"] * 100_000), "got 100,000"),
        ("|" + "a" * 10_000_000 + "~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'aaaa"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|" + "|none~2|" * 1_000_000, "got 2,000,003"),
    ],
)
def test_nb201_messages_quote_a_bounded_part_of_huge_strings(text: str, fault: str) -> None:
    message = _rejects(NB201Space(), text, fault)
    assert "characters)" in message  # says how long the string was


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("/".join(["0" * 10_000] * 10_000) + "|" + ",".join(["input"] * 10_000), "at most 7 vertices"),
        ("0" * 5_000, "over 4,096 characters"),
    ],
)
def test_nb101_refuses_huge_strings_unread(text: str, fault: str) -> None:
    _rejects(NB101Space(), text, fault)


@pytest.mark.parametrize(
    ("adjacency", "ops", "fault"),
    [
        (np.zeros((10_000, 10_000), np.uint8), ("input", *["conv3x3-bn-relu"] * 9_998, "output"), "10,000 vertices"),
        (np.zeros((10_000, 10_000), np.uint8), ("input", "output"), "10,000 vertices"),
        ([[0, 1], [0]], ("input", "output"), "square"),
        ([[0, 1 + 0j], [0, 0]], ("input", "output"), "0 or 1"),
        ([[0, None], [0, 0]], ("input", "output"), "0 or 1"),
        ([[0, 1], [0, 0]], None, "sequence of operator names"),
        ([[0, 1], [0, 0]], "io", "sequence of operator names"),
    ],
)
def test_nb101_specs_of_the_wrong_shape_or_size_are_space_errors(adjacency: object, ops: object, fault: str) -> None:
    start = time.perf_counter()
    with pytest.raises(SpaceError, match=fault):
        NB101Arch(adjacency, ops)  # type: ignore[arg-type]
    assert time.perf_counter() - start < 0.5


def test_nb101_still_prunes_a_spec_of_more_than_seven_vertices() -> None:
    """The size limit comes after pruning, as in nasbench: a disconnected eighth vertex is dropped."""
    adjacency = np.zeros((8, 8), np.uint8)
    adjacency[0, 1] = adjacency[1, 7] = 1
    arch = NB101Arch(adjacency, ("input", *["conv3x3-bn-relu"] * 6, "output"))
    assert arch.num_vertices == 3


def test_darts_syntax_warnings_are_faults_not_stderr_noise() -> None:
    """ast.parse used to print 'SyntaxWarning: invalid decimal literal' for text like ``1if``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SpaceError, match="invalid decimal literal"):
            DartsSpace().parse("Genotype(normal=1if 2 else 3)")
    assert not caught
