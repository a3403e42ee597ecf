"""Fuzzing the parsers and graph constructors: any input either builds a valid value or raises the
library's own error type (SpaceError / GraphError), never a crash from deeper down.

Inputs are random text, near-valid text (canonical strings with a few edits or recombined tokens),
random nested Python values and numpy arrays. Examples are derandomised and capped so the suite is
the same, and fast, on every run; ``benchmarks/fuzz_parsers.py`` runs the same targets for counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tgnas_jax.graph import ArchGraph, GraphError
from tgnas_jax.spaces import DartsSpace, NB101Arch, NB101Space, NB201Space, SpaceError
from tgnas_jax.spaces.darts import _PUBLISHED_TEXT

NB201, DARTS, NB101 = NB201Space(), DartsSpace(), NB101Space()
#: Messages stay short whatever the input (the inputs here are at most a few thousand characters).
MAX_MESSAGE = 2_000
EXAMPLES = 200


def _edited(valid: list[str], tokens: list[str]) -> st.SearchStrategy[str]:
    """A valid string with one to three edits: a slice replaced by tokens or random characters."""
    piece = st.lists(st.sampled_from(tokens), max_size=3).map("".join) | st.text(max_size=4)
    edit = st.tuples(st.floats(0, 1), st.integers(0, 8), piece)

    def apply(base: str, edits: list[tuple[float, int, str]]) -> str:
        for where, cut, text in edits:
            at = int(where * len(base))
            base = base[:at] + text + base[at + cut :]
        return base

    return st.builds(apply, st.sampled_from(valid), st.lists(edit, min_size=1, max_size=3))


def _texts(valid: list[str], tokens: list[str]) -> st.SearchStrategy[str]:
    recombined = st.lists(st.sampled_from(tokens), max_size=60).map("".join)
    return st.one_of(st.text(max_size=300), recombined, _edited(valid, tokens), st.sampled_from(valid))


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.complex_numbers()
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
#: Arbitrary nested Python values: what a caller might pass where a string or matrix belongs.
OBJECTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=6) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)

_NB201_OPS = [*NB201.ops, "conv_5x5", ""]
NB201_TEXTS = _texts(
    [NB201.format(a) for a in NB201.samples(8, seed=0)], ["|", "+", "~", "0", "1", "2", "3", "02", " ", *_NB201_OPS]
)
DARTS_TEXTS = _texts(
    [*_PUBLISHED_TEXT.values(), *(DARTS.format(g) for g in DARTS.samples(4, seed=0))],
    [
        "Genotype(",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "=",
        "normal=",
        "reduce=",
        "normal_concat=",
        "reduce_concat=",
        "range(",
        "2",
        "6",
        "0",
        "-",
        "*",
        "**",
        "not ",
        "lambda: ",
        "1e999",
        "0x" + "f" * 40,
        "9" * 30,
        "-" * 1_200,  # deeper than ast can build
        "1" + "+1" * 600,  # deeper than ast.unparse can print
        "'",
        '"',
        "\\",
        "\x00",
        "__import__('os')",
        *(repr(op) for op in DARTS.ops),
    ],
)
NB101_TEXTS = _texts(
    [NB101.format(a) for a in NB101.samples(8, seed=0)],
    ["0", "1", "/", "|", ",", "input", "output", "conv3x3", *NB101.ops, " "],
)

_ENTRIES = st.sampled_from([0, 1]) | st.sampled_from(
    [None, 2, -1, 0.5, 1.0, True, 1 + 0j, "1", float("nan"), float("inf"), np.uint8(1), np.float32(0), [0], 10**30]
)
_OP_NAMES = ["input", "output", *NB101.ops, "sep_conv_3x3", "", " ", None, 3, "x" * 300]


@st.composite
def _near_matrices(draw: Any) -> tuple[Any, Any]:
    """Lists of rows around ``n`` x ``n``, mostly 0/1, with op lists around ``n`` long."""
    n = draw(st.integers(0, 8))
    sizes = st.integers(max(n - 1, 0), n + 1)
    rows = draw(
        st.lists(
            st.lists(_ENTRIES, min_size=n, max_size=n)
            | sizes.flatmap(lambda k: st.lists(_ENTRIES, min_size=k, max_size=k)),
            min_size=n,
            max_size=n,
        )
        | sizes.flatmap(lambda k: st.lists(st.lists(_ENTRIES, min_size=k, max_size=k), min_size=k, max_size=k))
    )
    ops = draw(st.lists(st.sampled_from(_OP_NAMES), min_size=max(n - 1, 0), max_size=n + 1) | OBJECTS)
    return rows, ops


@st.composite
def _dags(draw: Any) -> tuple[np.ndarray, list[str]]:
    """Upper-triangular 0/1 matrices from input to output: often valid graphs and NB101 specs."""
    n = draw(st.integers(2, 8))
    bits = draw(hnp.arrays(np.uint8, (n, n), elements=st.integers(0, 1)))
    inner = draw(st.lists(st.sampled_from([*NB101.ops, "sep_conv_3x3"]), min_size=n - 2, max_size=n - 2))
    return np.triu(bits, k=1), ["input", *inner, "output"]


_ARRAYS = hnp.arrays(
    st.sampled_from([np.uint8, np.int64, np.float64, np.bool_, np.complex128, np.dtype("U2")]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
)
GRAPH_ARGS = st.one_of(
    _dags(),
    _near_matrices(),
    st.tuples(_ARRAYS, st.lists(st.sampled_from(_OP_NAMES), max_size=7)),
    st.tuples(OBJECTS, OBJECTS),
)


def _round_trips(space: Any) -> Callable[[Any], None]:
    def check(arch: Any) -> None:
        assert space.parse(space.format(arch)) == arch

    return check


def _is_graph(graph: ArchGraph) -> None:
    assert graph.adjacency.dtype == np.uint8 and graph.adjacency.shape == (graph.num_nodes, graph.num_nodes)
    assert all(isinstance(op, str) for op in graph.ops)


@dataclass(frozen=True)
class Target:
    """One fuzzed entry point: its inputs, the call, the only error it may raise, and what a result must satisfy."""

    inputs: st.SearchStrategy[Any]
    call: Callable[[Any], Any]
    error: type[Exception]
    check: Callable[[Any], None]


TARGETS = {
    "nb201 text": Target(NB201_TEXTS, NB201.parse, SpaceError, _round_trips(NB201)),
    "nb201 objects": Target(OBJECTS, NB201.parse, SpaceError, _round_trips(NB201)),
    "darts text": Target(DARTS_TEXTS, DARTS.parse, SpaceError, _round_trips(DARTS)),
    "darts objects": Target(OBJECTS, DARTS.parse, SpaceError, _round_trips(DARTS)),
    "nb101 text": Target(NB101_TEXTS, NB101.parse, SpaceError, _round_trips(NB101)),
    "nb101 objects": Target(OBJECTS, NB101.parse, SpaceError, _round_trips(NB101)),
    "ArchGraph": Target(GRAPH_ARGS, lambda args: ArchGraph(*args), GraphError, _is_graph),
    "NB101Arch": Target(GRAPH_ARGS, lambda args: NB101Arch(*args), SpaceError, _round_trips(NB101)),
}


def outcome(target: Target, value: Any) -> str:
    """``"accepted"`` (and the result checked) or ``"rejected"`` (the target's error, short); anything else raises."""
    try:
        result = target.call(value)
    except target.error as err:
        assert len(str(err)) <= MAX_MESSAGE, f"a {len(str(err)):,}-character message"
        return "rejected"
    target.check(result)
    return "accepted"


def fuzz(name: str, examples: int = EXAMPLES, seen: Callable[[str], None] = lambda _: None) -> None:
    """Run ``examples`` derandomised inputs through target ``name``, reporting each outcome to ``seen``."""
    target = TARGETS[name]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(target.inputs)
    def run(value: Any) -> None:
        seen(outcome(target, value))

    run()


#: Targets whose generators also reach valid values, so that acceptance is checked (round trips) too.
REACHES_VALID = {"nb201 text", "darts text", "nb101 text", "ArchGraph", "NB101Arch"}


@pytest.mark.parametrize("name", TARGETS)
def test_fuzzed_inputs_parse_or_raise_the_library_error(name: str) -> None:
    outcomes: list[str] = []
    fuzz(name, seen=outcomes.append)
    assert "rejected" in outcomes  # the inputs do probe the error paths
    assert ("accepted" in outcomes) == (name in REACHES_VALID)
