"""NB101 space: pruning and validity, strings, hashing, sampling, and the full enumeration against the table."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tgnas_jax.graph import ArchGraph, wl_hash
from tgnas_jax.spaces.base import SpaceError
from tgnas_jax.spaces.nb101 import (
    CELL_OPS,
    OPS,
    NB101Arch,
    NB101Cells,
    NB101Space,
    _already_pruned,
    _wl_hashes,
    enumerate_cells,
)

C3, C1, MP = OPS
NB101_NPZ = "nb101/derived/nb101_decoded.npz"
#: Row 0 of the hash-sorted table: the smallest NB101 hash.
FIRST = NB101Arch(
    np.array(
        [
            [0, 1, 0, 0, 1, 1, 0],
            [0, 0, 1, 0, 0, 0, 0],
            [0, 0, 0, 1, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0],
        ]
    ),
    ("input", C3, MP, C3, C3, C1, "output"),
)
FIRST_HASH = "00005c142e6f48ac74fdcf73e3439874"
FIRST_TEXT = (
    "0100110/0010000/0001001/0000010/0000010/0000001/0000000"
    "|input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output"
)
SMALLEST = NB101Arch(np.array([[0, 1], [0, 0]]), ("input", "output"))
CUMULATIVE = {2: 1, 3: 7, 4: 91, 5: 2532, 6: 64542, 7: 423624}


def _chain(ops: tuple[str, ...]) -> np.ndarray:
    """input -> op -> ... -> output in a line."""
    return np.eye(len(ops), k=1, dtype=np.uint8)


@pytest.fixture(scope="module")
def space() -> NB101Space:
    return NB101Space()


@pytest.fixture(scope="module")
def cells() -> NB101Cells:
    return enumerate_cells()


def test_first_table_cell_hash(space: NB101Space) -> None:
    assert space.hash(FIRST) == FIRST_HASH


def test_format_and_parse_round_trip(space: NB101Space) -> None:
    assert space.format(FIRST) == FIRST_TEXT
    assert space.format(SMALLEST) == "01/00|input,output"
    for arch in [FIRST, SMALLEST, *space.samples(50, seed=1)]:
        text = space.format(arch)
        assert space.parse(text) == arch
        assert space.format(space.parse(text)) == text


def test_equality_is_by_value_and_hash_by_isomorphism(space: NB101Space) -> None:
    adjacency = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    left = NB101Arch(adjacency, ("input", C3, C1, "output"))
    right = NB101Arch(adjacency, ("input", C1, C3, "output"))
    assert left != right and len({left, right, NB101Arch(adjacency.copy(), left.ops)}) == 2
    assert space.hash(left) == space.hash(right)


def test_construction_prunes_like_model_spec(space: NB101Space) -> None:
    # Vertex 2 is fed by nothing, vertex 3 feeds nothing: both go, and their edges with them.
    spec = np.array(
        [
            [0, 1, 0, 1, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
        ]
    )
    arch = NB101Arch(spec, ("input", C3, MP, C1, "output"))
    assert arch == NB101Arch(_chain(("input", C3, "output")), ("input", C3, "output"))
    assert space.parse("01010/00001/00001/00000/00000|input,conv3x3-bn-relu,maxpool3x3,conv1x1-bn-relu,output") == arch
    assert not arch.adjacency.flags.writeable


def test_vertex_limit_applies_after_pruning() -> None:
    # 8 vertices, one dangling: nasbench prunes first and accepts the 7 left.
    ops = ("input", C3, C3, C3, C3, C3, MP, "output")
    spec = _chain(ops)
    spec[5, 6], spec[6, 7], spec[5, 7] = 0, 0, 1
    arch = NB101Arch(spec, ops)
    assert arch.num_vertices == 7 and arch.ops == ("input", C3, C3, C3, C3, C3, "output")


def _ten_edges() -> np.ndarray:
    adjacency = _chain(("input", C3, C3, C3, C3, C3, "output"))
    adjacency[0, [2, 3, 4, 5]] = 1
    return adjacency


@pytest.mark.parametrize(
    ("adjacency", "ops", "fault"),
    [
        (np.zeros((3, 3)), ("input", C3, "output"), "no path from input to output"),
        (np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]), ("input", C3, C1, "output"), "no path"),
        (_chain(("input", *[C3] * 6, "output")), ("input", *[C3] * 6, "output"), "8 vertices after pruning"),
        (_ten_edges(), ("input", *[C3] * 5, "output"), "10 edges after pruning"),
        (_chain(("input", C3, "output")).T, ("input", C3, "output"), r"not strictly upper-triangular: edge 1->0"),
        (np.eye(3, dtype=int), ("input", C3, "output"), "not strictly upper-triangular: edge 0->0"),
        (_chain(("input", C3, "output")), ("input", "conv5x5", "output"), "unknown op 'conv5x5' at vertex 1"),
        (_chain(("input", C3, "output")), ("input", "input", "output"), "unknown op 'input' at vertex 1"),
        (_chain(("input", C3, "output")), (C3, C3, "output"), "must start with 'input'"),
        (_chain(("input", C3, "output")), ("input", C3, C3), "end with 'output'"),
        (_chain(("input", C3, "output")), ("input", "output"), "3x3 but 2 ops"),
        (2 * _chain(("input", C3, "output")), ("input", C3, "output"), "0 or 1"),
        (np.zeros((2, 3)), ("input", "output"), "square"),
    ],
)
def test_invalid_specs_name_their_fault(adjacency: np.ndarray, ops: tuple[str, ...], fault: str) -> None:
    with pytest.raises(SpaceError, match=fault):
        NB101Arch(adjacency, ops)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("", "no '\\|'"),
        ("01/00", "no '\\|'"),
        ("01/00|input,conv3x3-bn-relu,output", "2 adjacency rows but 3 ops"),
        ("01/0|input,output", r"row 1 \('0'\) must be 2 digits"),
        ("0x/00|input,output", r"row 0 \('0x'\) must be 2 digits"),
        (" 01/00|input,output", "row 0"),
        ("00/00|input,output", "no path from input to output"),
        ("01/00|input,conv", "end with 'output'"),
        ("010/001/000|input,conv3x3,output", "unknown op 'conv3x3' at vertex 1"),
    ],
)
def test_parse_names_the_string_and_its_fault(space: NB101Space, text: str, fault: str) -> None:
    with pytest.raises(SpaceError, match=fault) as info:
        space.parse(text)
    assert repr(text) in str(info.value)


def test_to_graphs_is_the_cell(space: NB101Space) -> None:
    assert space.to_graphs(FIRST) == (ArchGraph(FIRST.adjacency, FIRST.ops),)


def test_samples_are_valid_varied_and_seeded(space: NB101Space) -> None:
    archs = space.samples(200, seed=0)
    assert archs == space.samples(200, seed=0)
    assert archs != space.samples(200, seed=1)
    # Like nasbench's random_spec, rejecting specs with > 9 edges after pruning favours small cells.
    assert len(set(archs)) > len(archs) // 2
    for arch in archs:
        assert NB101Arch(arch.adjacency, arch.ops) == arch
        assert arch.num_vertices <= 7 and arch.num_edges <= 9
    assert {arch.num_vertices for arch in archs} >= {2, 3, 4, 5, 6}


def test_mutations_are_valid_new_and_seeded(space: NB101Space) -> None:
    parents = [SMALLEST, FIRST, *space.samples(100, seed=2)]
    children = [space.mutate(arch, np.random.default_rng(index)) for index, arch in enumerate(parents)]
    assert children == [space.mutate(arch, np.random.default_rng(index)) for index, arch in enumerate(parents)]
    for parent, child in zip(parents, children, strict=True):
        assert NB101Arch(child.adjacency, child.ops) == child
        assert space.hash(child) != space.hash(parent)
    assert children[0].num_vertices > 2  # the smallest cell can only grow


def test_batched_hash_matches_reference(space: NB101Space) -> None:
    archs = [*space.samples(300, seed=3), FIRST, SMALLEST]
    for n in {arch.num_vertices for arch in archs}:
        group = [arch for arch in archs if arch.num_vertices == n]
        adjacency = np.stack([arch.adjacency for arch in group])
        labels = np.array([[-1, *(OPS.index(op) for op in arch.ops[1:-1]), -2] for arch in group])
        expected = [wl_hash(arch.adjacency, labels[i]) for i, arch in enumerate(group)]
        assert _wl_hashes(adjacency, labels).astype(str).tolist() == expected


@pytest.mark.slow
def test_enumeration_counts_and_hashes(space: NB101Space, cells: NB101Cells) -> None:
    assert len(cells) == len(set(cells.hashes.tolist())) == 423_624
    assert cells.cumulative_counts() == CUMULATIVE
    assert np.bincount(cells.num_vertices).tolist() == [0, 0, 1, 6, 84, 2441, 62010, 359082]
    for index in np.random.default_rng(0).choice(len(cells), size=2000, replace=False):
        arch = cells.arch(index)
        assert NB101Arch(arch.adjacency, arch.ops) == arch
        assert space.hash(arch) == cells.hashes[index]


@pytest.mark.slow
def test_enumerate_streams_the_same_cells(space: NB101Space, cells: NB101Cells) -> None:
    streamed = list(itertools.islice(space.enumerate(), 5000))
    assert streamed == [cells.arch(index) for index in range(5000)]
    assert [arch.num_vertices for arch in streamed[:7]] == [2, 3, 3, 3, 3, 3, 3]


@pytest.mark.slow
def test_enumeration_reproduces_the_table(cells: NB101Cells, data_dir: Path) -> None:
    with np.load(data_dir / NB101_NPZ, allow_pickle=False) as table:
        hashes, adjacency, ops = table["hash"], table["adjacency"], table["ops"]
        num_vertices, op_names = table["num_vertices"], table["op_names"].tolist()
    assert hashes[0].decode() == FIRST_HASH
    order = np.argsort(cells.hashes)
    assert np.array_equal(cells.hashes[order].astype("S32"), hashes)
    assert np.array_equal(cells.num_vertices[order], num_vertices)
    # Same first-seen graph for every hash, in the table's vertex order and op naming.
    assert np.array_equal(cells.adjacency[order], adjacency)
    to_table = np.array([op_names.index(name) for name in CELL_OPS], dtype=np.int8)
    ours = cells.ops[order]
    assert np.array_equal(np.where(ours >= 0, to_table[ours], -1), ops)
    assert cells.arch(int(np.flatnonzero(cells.hashes == FIRST_HASH)[0])) == FIRST


def test_parsing_a_pruned_cell_takes_the_shortcut_and_gives_the_same_cell(space: NB101Space) -> None:
    """Text format() wrote skips the pruning graph; the cell equals the one the full checks build."""
    for arch in space.samples(500, seed=9):
        text = space.format(arch)
        rows, ops = (part.split(sep) for part, sep in zip(text.split("|"), "/,", strict=True))
        assert _already_pruned(rows, tuple(ops))
        assert space.parse(text) == NB101Arch(np.array([[int(c) for c in r] for r in rows]), tuple(ops))
    # A dangling vertex, a backward edge, too many edges: not pruned or not valid, so no shortcut.
    dangling = ["0110", "0001", "0000", "0000"], ("input", C3, C1, "output")
    backward = ["0100", "0011", "0100", "0000"], ("input", C3, C1, "output")
    full = ["0" * (i + 1) + "1" * (6 - i) for i in range(7)], ("input", C3, C1, MP, C3, C1, "output")
    assert not any(_already_pruned(rows, ops) for rows, ops in (dangling, backward, full))


def _outcome(space: NB101Space, text: object) -> object:
    try:
        return space.parse(text)  # type: ignore[arg-type]
    except SpaceError as err:
        return str(err)


def test_parse_many_reads_every_string_as_parse_does(space: NB101Space) -> None:
    """The bulk path passes only what parse's shortcut passes; the rest, faults included, is parse's."""
    rng = np.random.default_rng(4)
    texts = [space.format(arch) for arch in space.samples(300, seed=4)]
    # Damage: a flipped bit (unpruned, backward or invalid cells), a swapped op, a non-ASCII digit.
    for _ in range(300):
        text = list(texts[rng.integers(len(texts))])
        at = int(rng.integers(len(text)))
        text[at] = {"0": "1", "1": "0"}.get(text[at], text[at])
        texts.append("".join(text))
    texts += [
        "0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output",
        "0110/0001/0001/0000|input,conv3x3-bn-relu,avgpool3x3,output",
        "01/0٠|input,output",
        "01/00|output,input",
        "0100/0010/0001/1000|input,conv3x3-bn-relu,conv1x1-bn-relu,output",
        "0" * 9 + "|input,output",
    ]
    expected = [_outcome(space, t) for t in texts]
    valid = [t for t, e in zip(texts, expected, strict=True) if isinstance(e, NB101Arch)]
    assert 300 < len(valid) < len(texts)
    assert space.parse_many(valid) == [e for e in expected if isinstance(e, NB101Arch)]
    for text, outcome in zip(texts, expected, strict=True):
        if not isinstance(outcome, NB101Arch):
            with pytest.raises(SpaceError) as info:
                space.parse_many([valid[0], text])
            assert str(info.value) == outcome
    assert not space.parse_many(valid[:3])[0].adjacency.flags.writeable


def test_parse_many_reads_formatted_strings_without_parse(space: NB101Space, monkeypatch) -> None:
    texts = [space.format(arch) for arch in space.samples(200, seed=5)]
    unpruned = "0110/0001/0000/0000|input,conv3x3-bn-relu,conv1x1-bn-relu,output"
    called = []
    monkeypatch.setattr(space, "parse", lambda text: called.append(text) or NB101Space.parse(space, text))
    archs = space.parse_many([*texts, unpruned])
    assert called == [unpruned]  # only the string that needs pruning
    assert [space.format(a) for a in archs[:-1]] == texts
