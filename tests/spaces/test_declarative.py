"""Declarative spaces: NB201 and DARTS cells as instances, chains, sizes, specs from files, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tgnas_jax.graph import wl_hash
from tgnas_jax.spaces import DartsSpace, NB201Space, SpaceError
from tgnas_jax.spaces.declarative import CellSpace, ChainSpace, Layer, SpecError, load_space, space_from_spec
from tgnas_jax.spaces.nb201 import EDGES, OPS, _edge_macs, _edge_params
from tgnas_jax.spaces.opsize import op_kind, op_size

NB201_LIKE = CellSpace("nb201-like", EDGES, OPS)
#: DARTS's 14 candidate edges with fixed wiring: each node may read every earlier node.
DARTS_EDGES = [(source, node) for node in range(2, 6) for source in range(node)]
DARTS_LIKE = CellSpace(
    "darts-like",
    DARTS_EDGES,
    ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3"]
    + ["dil_conv_5x5"],
    inputs=2,
    outputs=[2, 3, 4, 5],
)
MOBILE = ChainSpace(
    "mobile",
    [
        Layer(("identity", "ir_k3_e3", "ir_k5_e6"), 1, 16),
        Layer(("ir_k3_e3", "ir_k5_e6"), 2, 24),
        Layer(("identity", "ir_k3_e3", "ir_k5_e6"), 1, 24),
        Layer(("ir_k3_e3", "ir_k5_e6"), 2, 40),
    ],
)


def test_an_nb201_like_cell_space_gives_nb201s_own_graphs_for_every_cell():
    space = NB201Space()
    for arch in space.enumerate():
        assert NB201_LIKE.to_graphs(arch) == space.to_graphs(arch)


def test_a_darts_like_cell_space_gives_the_darts_normal_cell_of_every_genotype():
    space, rng = DartsSpace(), np.random.default_rng(0)
    for _ in range(200):
        genotype = space.sample(rng)
        ops = ["none"] * len(DARTS_EDGES)
        for k, (op, source) in enumerate(genotype.normal):
            ops[DARTS_EDGES.index((source, 2 + k // 2))] = op
        mine, theirs = DARTS_LIKE.to_graphs(tuple(ops))[0], space.to_graphs(genotype)[0]
        # The same DAG; a node's two edges may come in the other order.
        assert wl_hash(mine.adjacency, mine.ops) == wl_hash(theirs.adjacency, theirs.ops)


def test_edge_sizes_match_nb201s_counters():
    for op in OPS:
        assert NB201_LIKE.position_sizes(0, op) == (_edge_params(op, 16), _edge_macs(op, 16, 32))


def test_op_kinds_and_sizes_from_names():
    assert op_kind("ir_5x5_t6").expansion == 6 and op_kind("ir_5x5_t6").kernel == (5, 5)
    assert op_kind("mbconv6_k3").expansion == 6 and op_kind("conv_1x7").kernel == (1, 7)
    assert op_kind("lstm_cell") is None and op_kind("block3") is None
    # MobileNetV2 block, 16 -> 24 channels, expansion 6, stride 2, 112x112 input:
    hidden = 96
    params = 16 * hidden + 9 * hidden + hidden * 24 + 2 * hidden * 2 + 2 * 24
    macs = 16 * hidden * 112 * 112 + (9 * hidden + hidden * 24) * 56 * 56
    assert op_size("ir_k3_e6", 16, 24, 2, 112) == (params, macs)
    assert op_size("skip_connect", 16, 16, 1, 8) == (0, 0)
    assert op_size("max_pool_3x3", 16, 32, 2, 8) == (16 * 32 + 64, 16 * 32 * 16)  # a 1x1 projection


def test_chain_graphs_skip_identity_layers_and_mark_strides():
    graph = MOBILE.to_graphs(("identity", "ir_k5_e6", "ir_k3_e3", "ir_k3_e3"))[0]
    assert graph.ops == ("input", "ir_k5_e6_s2", "ir_k3_e3", "ir_k3_e3_s2", "output")
    assert graph.num_edges == 4
    assert MOBILE.ops == ("identity", "ir_k3_e3", "ir_k5_e6", "ir_k3_e3_s2", "ir_k5_e6_s2")
    assert MOBILE.size == 3 * 2 * 3 * 2


def test_chain_sizes_add_stem_layers_and_head():
    arch = ("ir_k3_e3", "ir_k5_e6", "identity", "ir_k3_e3")
    stem = op_size("conv_3x3", 3, 16, 2, 224)
    parts = [op_size("ir_k3_e3", 16, 16, 1, 112), op_size("ir_k5_e6", 16, 24, 2, 112), (0, 0)]
    parts.append(op_size("ir_k3_e3", 24, 40, 2, 56))
    head = 40 * 1000 + 1000
    assert MOBILE.num_params(arch) == stem[0] + sum(p for p, _ in parts) + head
    assert MOBILE.num_flops(arch) == stem[1] + sum(m for _, m in parts) + 40 * 1000


def test_strings_round_trip_and_foreign_archs_are_refused():
    rng = np.random.default_rng(1)
    for space in (NB201_LIKE, DARTS_LIKE, MOBILE):
        for _ in range(20):
            arch = space.sample(rng)
            assert space.parse(space.format(arch)) == arch
            assert space.mutate(arch, rng) != arch
    with pytest.raises(SpaceError, match="tuple of 4 op names"):
        MOBILE.check(("ir_k3_e3",))
    with pytest.raises(SpaceError, match="'identity' is no choice at position 1"):
        MOBILE.parse("identity,identity,identity,ir_k3_e3")
    with pytest.raises(SpaceError, match="must be a str"):
        MOBILE.parse(5)


def test_enumeration_is_the_product_of_the_choices():
    archs = list(MOBILE.enumerate())
    assert len(archs) == len(set(archs)) == MOBILE.size
    with pytest.raises(NotImplementedError, match="too many to enumerate"):
        DARTS_LIKE.enumerate()


def test_ops_of_unknown_kind_have_no_size_but_still_score():
    space = ChainSpace("rnn", [Layer(("lstm_cell", "gru_cell"), 1, 16)] * 2)
    with pytest.raises(NotImplementedError, match="no size for op 'lstm_cell'"):
        space.num_params(("lstm_cell", "gru_cell"))
    assert space.to_graphs(("lstm_cell", "gru_cell"))[0].ops == ("input", "lstm_cell", "gru_cell", "output")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CellSpace("c", [(1, 0)], ["a"]), "must run from a lower node"),
        (lambda: CellSpace("c", [(0, 1), (0, 1)], ["a"]), "lists an edge twice"),
        (lambda: CellSpace("c", [(0, 1), (2, 3)], ["a"]), "leaves node 2, which no edge enters"),
        (lambda: CellSpace("c", [(0, 1)], []), "choices must be a non-empty list"),
        (lambda: CellSpace("c", [(0, 1)], ["a", "a"]), "lists an op twice"),
        (lambda: CellSpace("c", [(0, 1)], ["a,b"]), "is no op name"),
        (lambda: CellSpace("c", [(0, 1)], ["input"]), "reserved"),
        (lambda: CellSpace("c", [(0, 1)], [["a"], ["b"]]), "lists 2 edges' ops but the cell has 1"),
        (lambda: CellSpace("c", [(0, 1)], ["a"], outputs=[5]), "output node 5 is no edge's target"),
        (lambda: CellSpace("c", [(0, 1)], ["a"], channels=0), "channels must be an integer >= 1"),
        (lambda: CellSpace("", [(0, 1)], ["a"]), "name must be"),
        (lambda: ChainSpace("m", []), "layers must be a non-empty list"),
        (lambda: ChainSpace("m", [Layer(("identity", "a"), 2, 16)]), "an identity can only skip a layer"),
        (lambda: ChainSpace("m", [Layer(("identity", "a"), 1, 32)]), "width 16 -> 32"),
        (lambda: ChainSpace("m", [Layer(("none", "a"))]), "passes no data"),
        (lambda: ChainSpace("m", [{"choices": ["a"], "kernel": 3}]), "unknown keys ['kernel']"),
        (lambda: ChainSpace("m", [Layer(("a",), 0, 16)]), "stride of layer 0 must be"),
    ],
)
def test_bad_specs_say_what_is_wrong(make, message):
    with pytest.raises(SpecError, match=None) as err:
        make()
    assert message in str(err.value)


def test_specs_load_from_json_and_toml(tmp_path):
    spec = {
        "kind": "chain",
        "name": "mobile",
        "layers": [{"choices": ["identity", "ir_k3_e3", "ir_k5_e6"], "stride": 1, "width": 16}],
    }
    (tmp_path / "s.json").write_text(json.dumps(spec))
    (tmp_path / "s.toml").write_text(
        'kind = "chain"\nname = "mobile"\n[[layers]]\nchoices = ["identity", "ir_k3_e3", "ir_k5_e6"]\nwidth = 16\n'
    )
    for name in ("s.json", "s.toml"):
        space = load_space(tmp_path / name)
        assert isinstance(space, ChainSpace) and space.positions == (("identity", "ir_k3_e3", "ir_k5_e6"),)
    cell = space_from_spec({"kind": "cell", "name": "c", "edges": [[0, 1], [1, 2]], "choices": ["a", "none"]})
    assert cell.edges == ((0, 1), (1, 2)) and cell.outputs == (2,)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "is not JSON"),
        ('{"kind": "tree"}', "kind must be one of ['cell', 'chain']"),
        ('{"kind": "chain", "name": "m", "layers": [], "depth": 3}', "has no field depth"),
        ('{"kind": "chain", "name": "m"}', "missing 1 required positional argument: 'layers'"),
        ("[1, 2]", "a space spec is a mapping"),
    ],
)
def test_bad_spec_files_name_the_file_and_fault(tmp_path, content, message):
    path = tmp_path / "spec.json"
    path.write_text(content)
    with pytest.raises(SpecError) as err:
        load_space(path)
    assert message in str(err.value) and str(path) in str(err.value)
    with pytest.raises(SpecError, match="cannot read space spec"):
        load_space(tmp_path / "absent.json")


def test_get_space_reads_a_spec_file_by_its_suffix(tmp_path):
    from tgnas_jax.spaces import get_space

    path = tmp_path / "cells.toml"
    path.write_text('kind = "cell"\nname = "two"\nedges = [[0, 1], [1, 2], [0, 2]]\nchoices = ["conv_3x3", "none"]\n')
    space = get_space(str(path))
    assert isinstance(space, CellSpace) and space.size == 8
    with pytest.raises(ValueError, match="or a .json / .toml spec file"):
        get_space("cells.yaml")
