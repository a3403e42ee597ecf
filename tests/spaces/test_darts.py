"""The DARTS space: genotype text, cell graphs, sampling / mutation and network size."""

from __future__ import annotations

import numpy as np
import pytest

from tgnas_jax.graph import ArchGraph
from tgnas_jax.spaces.base import SpaceError
from tgnas_jax.spaces.darts import (
    DERIVABLE_OPS,
    PUBLISHED,
    SETTINGS,
    DartsSpace,
    Genotype,
    _call_arguments,
    _canonical_arguments,
    network_size,
)

SPACE = DartsSpace()
STANDARD = (2, 3, 4, 5)
DARTS_V2_NORMAL = (
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 1),
    ("skip_connect", 0),
    ("skip_connect", 0),
    ("dil_conv_3x3", 2),
)
DARTS_V2_REDUCE = (
    ("max_pool_3x3", 0),
    ("max_pool_3x3", 1),
    ("skip_connect", 2),
    ("max_pool_3x3", 1),
    ("max_pool_3x3", 0),
    ("skip_connect", 2),
    ("skip_connect", 2),
    ("max_pool_3x3", 1),
)
V2_TEXT = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def edges_of(graph: ArchGraph) -> set[tuple[int, int]]:
    return {(int(s), int(r)) for s, r in graph.edges}


# --- text -------------------------------------------------------------------------------------


def test_ops_are_darts_primitives_in_order() -> None:
    assert SPACE.name == "darts"
    assert SPACE.ops == (
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )


def test_published_darts_v2_is_the_paper_genotype() -> None:
    assert PUBLISHED["DARTS_V2"] == Genotype(DARTS_V2_NORMAL, STANDARD, DARTS_V2_REDUCE, STANDARD)
    assert set(PUBLISHED) >= {"DARTS_V1", "DARTS_V2", "PC_DARTS", "PDARTS"}


def test_canonical_text_is_darts_repr() -> None:
    assert SPACE.format(PUBLISHED["DARTS_V2"]) == V2_TEXT


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_round_trip(name: str) -> None:
    genotype = PUBLISHED[name]
    text = SPACE.format(genotype)
    assert SPACE.parse(text) == genotype
    assert SPACE.format(SPACE.parse(text)) == text
    assert "range" not in text


def test_random_round_trip() -> None:
    for genotype in SPACE.samples(200, seed=3):
        assert SPACE.parse(SPACE.format(genotype)) == genotype


@pytest.mark.parametrize(
    "variant",
    [
        V2_TEXT.replace("'", '"'),
        V2_TEXT.replace("[2, 3, 4, 5]", "range(2, 6)"),
        V2_TEXT.replace("[2, 3, 4, 5]", "(2, 3, 4, 5)"),
        V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[5, 4, 3, 2]"),
        V2_TEXT.removeprefix("Genotype"),
        "  \n" + V2_TEXT.replace(", ", ",\n    ").replace("(", "( ") + "\n\t",
        V2_TEXT.replace("normal=", "")
        .replace("normal_concat=", "")
        .replace("reduce=", "")
        .replace("reduce_concat=", ""),
        V2_TEXT.replace("[('", "(('").replace(")]", "))"),
        V2_TEXT.replace("), ", "),") + "  # DARTS_V2",
    ],
)
def test_parse_tolerates_layout(variant: str) -> None:
    genotype = SPACE.parse(variant)
    assert genotype == PUBLISHED["DARTS_V2"]
    assert SPACE.format(genotype) == V2_TEXT


def test_parse_keyword_order_is_free() -> None:
    reduce, normal = list(DARTS_V2_REDUCE), list(DARTS_V2_NORMAL)
    text = f"Genotype(reduce_concat=range(2, 6), reduce={reduce}, normal_concat=[2, 3, 4, 5], normal={normal})"
    assert SPACE.parse(text) == PUBLISHED["DARTS_V2"]


def with_edge(cell: str, k: int, edge: object) -> str:
    """``V2_TEXT`` with edge ``k`` of ``cell`` replaced by ``edge``."""
    edges: list[object] = list(DARTS_V2_NORMAL if cell == "normal" else DARTS_V2_REDUCE)
    old = f"{cell}={edges}"
    edges[k] = edge
    return V2_TEXT.replace(old, f"{cell}={edges}")


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (with_edge("normal", 3, ("conv_7x1_1x7", 1)), "unknown op 'conv_7x1_1x7'"),
        (with_edge("normal", 3, ("sep_conv_3x3", 3)), "edge 3 enters node 3 from node 3"),
        (with_edge("reduce", 7, ("max_pool_3x3", 6)), "edge 7 enters node 5 from node 6"),
        (with_edge("normal", 0, ("sep_conv_3x3", -1)), "edge 0 enters node 2 from node -1"),
        (with_edge("normal", 0, ("sep_conv_3x3", 1)), "node 2 reads node 1 on both"),
        (with_edge("reduce", 6, ("max_pool_3x3", 1)), "reduce node 5 reads node 1 on both"),
        (with_edge("normal", 2, ("sep_conv_3x3",)), "edge 2 must be an (op, input) pair"),
        (with_edge("normal", 2, ("sep_conv_3x3", 1.0)), "edge 2 must be an (op, input) pair"),
        (with_edge("normal", 2, ("sep_conv_3x3", True)), "edge 2 must be an (op, input) pair"),
        (with_edge("normal", 2, (4, 0)), "edge 2 must be an (op, input) pair"),
        (V2_TEXT.replace("('dil_conv_3x3', 2)]", "('dil_conv_3x3', 2), ('sep_conv_3x3', 0)]"), "normal has 9 edges"),
        (V2_TEXT.replace(", ('dil_conv_3x3', 2)]", "]"), "normal has 7 edges"),
        (V2_TEXT.replace("normal=[", "normal=7 or [", 1), "normal must be a literal"),
        (V2_TEXT.replace("reduce=[", "reduce={'a': 1}, x=[", 1), "unknown Genotype field 'x'"),
        (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[1, 2]"), "outside the intermediate"),
        (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[6]"), "outside the intermediate"),
        (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[]"), "non-empty list of node ids"),
        (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 2, 3]"), "repeats a node"),
        (V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=2"), "non-empty list of node ids"),
        (V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(2, n)"), "must be range() of"),
        (V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(2, 6, 0)"), "step not 0"),
        (V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range()"), "must be range() of"),
        (V2_TEXT.replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing ['reduce_concat']"),
        (V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 5]"), "'normal_concat' is given twice"),
        (V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]", "**{'reduce_concat': [2, 3, 4, 5]}"), "unknown Genotype field"),
        (V2_TEXT.replace("Genotype(", "Genotype(*[1], "), "plain positional"),
        (V2_TEXT.replace("Genotype(", "Genotype([], [], [], [], [], "), "at most 4"),
        (V2_TEXT.replace("Genotype(", "Genotype([], "), "'normal' is given twice"),
        (V2_TEXT.replace("Genotype", "Genome"), "expected Genotype("),
        (V2_TEXT.replace("Genotype", "darts.Genotype"), "expected Genotype("),
        (V2_TEXT[:-1], "not a Python call expression"),
        ("", "not a Python call expression"),
        ("[('sep_conv_3x3', 0)]", "expected Genotype("),
        (
            "Genotype(normal=__import__('os').system('false'), normal_concat=[2], reduce=[], reduce_concat=[2])",
            "literal",
        ),
    ],
)
def test_parse_rejects(text: str, fault: str) -> None:
    with pytest.raises(SpaceError) as caught:
        SPACE.parse(text)
    message = str(caught.value)
    assert fault in message
    assert repr(text) in message


def test_parse_accepts_none_edges() -> None:
    text = V2_TEXT.replace("('dil_conv_3x3', 2)", "('none', 2)")
    assert SPACE.parse(text).normal[7] == ("none", 2)


def test_genotype_validates_on_construction() -> None:
    with pytest.raises(SpaceError, match="reduce has 0 edges"):
        Genotype(DARTS_V2_NORMAL, STANDARD, (), STANDARD)
    with pytest.raises(SpaceError, match="normal must be a list"):
        Genotype("sep_conv_3x3", STANDARD, DARTS_V2_REDUCE, STANDARD)  # type: ignore[arg-type]
    lists = Genotype([list(e) for e in DARTS_V2_NORMAL], [5, 4, 3, 2], list(DARTS_V2_REDUCE), range(2, 6))  # type: ignore[arg-type]
    assert lists == PUBLISHED["DARTS_V2"]
    assert hash(lists) == hash(PUBLISHED["DARTS_V2"])


# --- graphs -----------------------------------------------------------------------------------

HAND_NORMAL = (
    ("sep_conv_3x3", 0),  # node 2
    ("skip_connect", 1),
    ("none", 0),  # node 3: only the max pool carries data
    ("max_pool_3x3", 2),
    ("none", 0),  # node 4: no data at all
    ("none", 1),
    ("dil_conv_3x3", 4),  # node 5: reads the empty node 4, so it is pruned
    ("avg_pool_3x3", 3),
)
HAND_REDUCE = (
    ("sep_conv_3x3", 0),
    ("sep_conv_5x5", 1),
    ("skip_connect", 2),
    ("max_pool_3x3", 0),
    ("dil_conv_3x3", 1),  # nodes 4 and 5 are outside the concat and read by nobody
    ("dil_conv_5x5", 0),
    ("avg_pool_3x3", 1),
    ("sep_conv_3x3", 0),
)


def test_hand_checked_graphs() -> None:
    normal, reduce = SPACE.to_graphs(Genotype(HAND_NORMAL, STANDARD, HAND_REDUCE, (3,)))
    assert normal.ops == ("input", "input", "sep_conv_3x3", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "output")
    assert edges_of(normal) == {(0, 2), (1, 3), (2, 4), (3, 4), (4, 5), (2, 6), (3, 6), (4, 6), (5, 6)}
    assert reduce.ops == ("input", "input", "sep_conv_3x3", "sep_conv_5x5", "skip_connect", "max_pool_3x3", "output")
    assert edges_of(reduce) == {(0, 2), (1, 3), (2, 4), (3, 4), (0, 5), (4, 6), (5, 6)}


def test_darts_v2_graphs() -> None:
    normal, reduce = SPACE.to_graphs(PUBLISHED["DARTS_V2"])
    assert normal.ops == ("input", "input", *(op for op, _ in DARTS_V2_NORMAL), "output")
    assert reduce.ops == ("input", "input", *(op for op, _ in DARTS_V2_REDUCE), "output")
    # dil_conv_3x3 (node 9) reads node 2, i.e. both sep convs on edges 0 and 1; skips read node 2 in reduce.
    assert {(2, 9), (3, 9), (0, 9)} & edges_of(normal) == {(2, 9), (3, 9)}
    assert {s for s, r in edges_of(reduce) if r == 4} == {2, 3}
    assert all((n, 10) in edges_of(normal) for n in range(2, 10))
    assert normal.num_edges == 7 + 2 + 8  # one edge per input read, two per node-2 read, eight to the output
    assert reduce.num_edges == 5 + 3 * 2 + 8


def test_cell_of_none_is_broken() -> None:
    nothing = tuple(("none", j) for j in (0, 1, 0, 1, 0, 1, 0, 1))
    normal, reduce = SPACE.to_graphs(Genotype(nothing, STANDARD, DARTS_V2_REDUCE, STANDARD))
    assert normal.is_broken
    assert not reduce.is_broken


def test_sampled_graphs_keep_every_op() -> None:
    for genotype in SPACE.samples(100, seed=4):
        for graph, edges in zip(SPACE.to_graphs(genotype), (genotype.normal, genotype.reduce), strict=True):
            assert graph.ops == ("input", "input", *(op for op, _ in edges), "output")
            assert graph.num_edges == 8 + sum(1 if j < 2 else 2 for _, j in edges)


# --- sampling and mutation --------------------------------------------------------------------


def test_sample_is_valid_and_reproducible() -> None:
    draws = SPACE.samples(300, seed=0)
    assert draws == SPACE.samples(300, seed=0)
    assert draws != SPACE.samples(300, seed=1)
    assert len(set(draws)) == len(draws)
    seen = set()
    for genotype in draws:
        assert genotype.normal_concat == genotype.reduce_concat == STANDARD
        for edges in (genotype.normal, genotype.reduce):
            assert all(op in DERIVABLE_OPS for op, _ in edges)
            seen.update(edges)
        assert SPACE.parse(SPACE.format(genotype)) == genotype
    assert seen == {(op, j) for op in DERIVABLE_OPS for j in range(5)}


def differences(a: Genotype, b: Genotype) -> list[tuple[str, int]]:
    return [(f, k) for f in ("normal", "reduce") for k in range(8) if getattr(a, f)[k] != getattr(b, f)[k]]


def test_mutate_changes_one_edge_and_is_reproducible() -> None:
    rng = np.random.default_rng(7)
    parents = SPACE.samples(300, seed=5)
    children = [SPACE.mutate(p, rng) for p in parents]
    rng = np.random.default_rng(7)
    assert children == [SPACE.mutate(p, rng) for p in parents]
    kinds = set()
    for parent, child in zip(parents, children, strict=True):
        (changed,) = differences(parent, child)
        (old_op, old_j), (new_op, new_j) = (getattr(g, changed[0])[changed[1]] for g in (parent, child))
        assert (old_op == new_op) != (old_j == new_j)
        assert new_op != "none"
        kinds.add(("input" if old_op == new_op else "op", changed[0]))
        assert child.normal_concat == parent.normal_concat and child.reduce_concat == parent.reduce_concat
    assert kinds == {("op", "normal"), ("op", "reduce"), ("input", "normal"), ("input", "reduce")}


def test_mutate_replaces_none() -> None:
    nothing = tuple(("none", j) for j in (0, 1, 0, 1, 0, 1, 0, 1))
    genotype = Genotype(nothing, STANDARD, nothing, STANDARD)
    rng = np.random.default_rng(0)
    for _ in range(50):
        child = SPACE.mutate(genotype, rng)
        assert len(differences(genotype, child)) == 1
        assert sum(op != "none" for op, _ in child.normal + child.reduce) <= 1


def test_space_is_not_enumerable() -> None:
    with pytest.raises(NotImplementedError):
        next(iter(SPACE.enumerate()))


# --- network size -----------------------------------------------------------------------------


def test_darts_v2_cifar_params_match_darts_exactly() -> None:
    assert SPACE.num_params(PUBLISHED["DARTS_V2"]) == 3_349_342


@pytest.mark.parametrize(
    ("name", "setting", "published"),
    [
        ("DARTS_V1", "cifar10", 3.3e6),
        ("DARTS_V2", "cifar10", 3.3e6),
        ("PDARTS", "cifar10", 3.4e6),
        ("PC_DARTS", "cifar10", 3.6e6),
        ("DARTS_V2", "imagenet", 4.7e6),
        ("PDARTS", "imagenet", 4.9e6),
        ("PC_DARTS_image", "imagenet", 5.3e6),
    ],
)
def test_params_match_papers(name: str, setting: str, published: float) -> None:
    assert DartsSpace(setting=setting).num_params(PUBLISHED[name]) == pytest.approx(published, rel=0.05)


@pytest.mark.parametrize(
    ("name", "published"),
    [("DARTS_V2", 574e6), ("PDARTS", 557e6), ("PC_DARTS_image", 597e6)],
)
def test_imagenet_flops_near_papers(name: str, published: float) -> None:
    """Papers count more than convs + classifier (DARTS's 574M is unexplained; convs give ~530M)."""
    assert DartsSpace(setting="imagenet").num_flops(PUBLISHED[name]) == pytest.approx(published, rel=0.1)


def test_sep_conv_cost_by_hand() -> None:
    """Identity -> sep_conv_3x3 on one normal edge: per normal cell two (dw 3x3, pw 1x1, BN) blocks."""
    base = PUBLISHED["DARTS_V2"]
    normal = list(base.normal)
    normal[5] = ("sep_conv_3x3", 0)
    params, macs = network_size(Genotype(tuple(normal), STANDARD, base.reduce, STANDARD))
    stages = ((36, 32), (72, 16), (144, 8))  # (channels, side) of the 6 normal cells of each stage
    assert params - SPACE.num_params(base) == sum(6 * 2 * (9 * c + c * c + 2 * c) for c, _ in stages)
    assert macs - SPACE.num_flops(base) == sum(6 * 2 * (9 * c + c * c) * s * s for c, s in stages)


def test_the_setting_is_the_network_every_size_counts() -> None:
    genotype = PUBLISHED["DARTS_V2"]
    for setting in SETTINGS:
        space = DartsSpace(setting=setting)
        assert (space.num_params(genotype), space.num_flops(genotype)) == network_size(genotype, setting)
    assert SPACE.setting == "cifar10"
    assert DartsSpace(setting="imagenet").network.startswith("ImageNet mobile network (C=48, 14 cells")


def test_unknown_setting() -> None:
    with pytest.raises(ValueError, match="unknown DARTS setting 'cifar100'"):
        DartsSpace(setting="cifar100")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown DARTS setting 'cifar100'"):
        network_size(PUBLISHED["DARTS_V2"], "cifar100")  # type: ignore[arg-type]


def test_residual_encoding_turns_skip_connect_into_edges() -> None:
    genotype = PUBLISHED["DARTS_V2"]
    pruned, residual = DartsSpace().to_graphs(genotype), DartsSpace(encoding="residual").to_graphs(genotype)
    for before, after in zip(pruned, residual, strict=True):
        assert "skip_connect" not in after.ops
        assert after.num_nodes == before.num_nodes - before.ops.count("skip_connect")
    with pytest.raises(ValueError, match="encoding must be"):
        DartsSpace(encoding="paper")


#: Texts the regex reader of DARTS's repr takes (True) or leaves to the ast reader (False).
CANONICAL_VARIANTS = [
    (V2_TEXT, True),
    (V2_TEXT.replace(", ", ",\n  ").replace("[2, 3, 4, 5]", "[2, 3, 4, 5,]"), True),
    (V2_TEXT.replace("'", '"'), False),  # not the quotes repr writes
    (V2_TEXT.replace("[2, 3, 4, 5]", "[02, 3, 4, 5]"), False),  # a literal Python refuses
    (V2_TEXT.replace(", ", ",\v"), False),  # whitespace the tokenizer refuses
    (V2_TEXT.replace("normal=", "normal =").replace("Genotype(", "Genotype (", 1), False),
]


@pytest.mark.parametrize(("variant", "fast"), CANONICAL_VARIANTS)
def test_the_fast_reader_agrees_with_ast_or_leaves_the_text_to_it(variant: str, fast: bool) -> None:
    read = _canonical_arguments(variant)
    assert (read is not None) == fast
    if fast:
        assert read == _call_arguments(variant)


def test_the_fast_reader_reads_every_formatted_genotype_as_ast_does() -> None:
    rng = np.random.default_rng(4)
    texts = [SPACE.format(SPACE.sample(rng)) for _ in range(200)]
    assert all(_canonical_arguments(t) == _call_arguments(t) for t in texts)


def test_the_fast_cell_check_accepts_only_what_the_full_checks_accept() -> None:
    """``_well_formed`` is a shortcut of ``_edges``: anything it passes, the field-by-field checks pass too."""
    from tgnas_jax.spaces import darts

    rng = np.random.default_rng(0)
    odd_parts = [True, 1.0, "1", [1], None, -1, 7, 2]
    odd_ops = ["none", "conv_7x7", "", ["sep_conv_3x3"], 3]
    accepted = 0
    for _ in range(3000):
        edges = list(DartsSpace().sample(rng).normal)
        for _ in range(rng.integers(0, 3)):
            k = int(rng.integers(len(edges)))
            op, source = edges[k]
            kind = rng.integers(4)
            if kind == 0:
                edges[k] = (op, odd_parts[rng.integers(len(odd_parts))])
            elif kind == 1:
                edges[k] = (odd_ops[rng.integers(len(odd_ops))], source)
            elif kind == 2:
                edges[k] = [op, source]
            else:
                edges[k] = (op, int(rng.integers(6)))
        try:
            full = darts._checked_edges("normal", edges)
        except SpaceError:
            full = None
        if darts._well_formed(edges):
            accepted += 1
            assert full == tuple(edges)
        elif full is not None:  # the shortcut refuses only odd but valid forms (int subclasses, lists)
            assert any(type(e) is not tuple or type(e[1]) is not int for e in edges)
    assert 0 < accepted < 3000


def test_a_genotype_string_where_a_genotype_is_needed_names_the_parser() -> None:
    space = DartsSpace()
    text = space.format(space.sample(np.random.default_rng(0)))
    with pytest.raises(SpaceError, match=r"a DARTS arch is a Genotype \(DartsSpace\.parse reads a genotype string\)"):
        space.to_graphs(text)
    with pytest.raises(SpaceError, match=r"a DARTS arch is a Genotype, got int 3"):
        space.check(3)


def test_the_exact_reader_takes_only_format_s_text_and_reads_it_as_the_full_readers_do() -> None:
    """``_exact_genotype`` reads format()'s text by lookups; every other text, valid or not, is left
    to the readers that check and name faults (None), and what it reads they read the same."""
    from tgnas_jax.spaces import darts

    rng = np.random.default_rng(6)
    texts = [SPACE.format(SPACE.sample(rng)) for _ in range(300)]
    for text in texts:
        assert darts._exact_genotype(text) == Genotype(**_call_arguments(text))
    # Damage each in one place: a digit, an op, spacing, the concat order; valid or not, never misread.
    taken = 0
    for text in texts:
        at = int(rng.integers(len(text)))
        for damaged in (
            text[:at] + str(rng.integers(6)) + text[at + 1 :],
            text.replace("sep_conv_3x3", "sep_conv_9x9", 1),
            text.replace(", (", ",(", 1),
            text.replace("[2, 3, 4, 5]", "[3, 2, 4, 5]", 1),
            text.replace("[2, 3, 4, 5]", "[2, 3]", 1),
        ):
            exact = darts._exact_genotype(damaged)
            try:
                full = Genotype(**_call_arguments(damaged))
            except (SpaceError, TypeError):
                full = None
            if exact is not None:
                taken += 1
                assert exact == full and SPACE.format(exact) == damaged
    assert taken > 300  # the damage that leaves a formatted, valid genotype (a new op, [2, 3]) is read exactly
    assert SPACE.parse(texts[0]) == Genotype(**_call_arguments(texts[0]))
