"""NAS-Bench-201: a 4-node cell whose 6 edges each carry one of 5 operators (15,625 cells).

The cell is read as an operator-node DAG (paper section 3.1): each edge becomes a node, so the
op on edge ``i -> j`` feeds every op on the edges leaving cell node ``j``.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np

from tgnas_jax._text import quote
from tgnas_jax.data import NB201_DATASETS
from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph, contract, edge_adjacency, edge_cell, wl_hash
from tgnas_jax.spaces.base import SearchSpace, SpaceError

#: The 6 edge ops, in arch-string order.
NB201Arch = tuple[str, ...]

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: ``(source, target)`` cell nodes of each edge, in arch-string order.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
_LAST_NODE = 3
#: Where each cell node's incoming edges start in :data:`EDGES` (and in an arch string).
_NODE_STARTS = tuple(target * (target - 1) // 2 for target in range(1, _LAST_NODE + 2))
#: ``random.seed(88); random.shuffle(archs)`` in NB201's ``generate_meta_info`` fixes its index order.
_INDEX_SHUFFLE_SEED = 88
_CONV_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}

# The standard NB201 network: stem, 3 stages of 5 cells, a residual reduction block between stages.
_STEM_IN_CHANNELS = 3
_STAGE_CHANNELS = (16, 32, 64)
_CELLS_PER_STAGE = 5

#: ``(num_classes, input_size)`` of the network NB201 trains on each of its datasets.
DATASETS = {"cifar10": (10, 32), "cifar100": (100, 32), "imagenet16": (120, 16)}

Encoding = Literal["paper", "pruned", "residual"]
ENCODINGS: tuple[Encoding, ...] = ("paper", "pruned", "residual")


#: Op-node adjacency with every edge a node: input, the 6 edge ops, output.
_FULL_ADJACENCY = edge_adjacency(EDGES, 1, (_LAST_NODE,))


@functools.cache
def _index_order() -> tuple[NB201Arch, ...]:
    """Every cell at its NB201 index.

    NB201 lists the cells as the product of the ops over the edges in arch-string order (the
    FIRST edge the slowest digit), then shuffles that list with Python's ``random`` seeded 88; the
    index is the position after the shuffle, so it is regenerated here rather than stored.
    """
    archs = list(itertools.product(OPS, repeat=len(EDGES)))
    random.Random(_INDEX_SHUFFLE_SEED).shuffle(archs)
    return tuple(archs)


@functools.cache
def _index_of() -> dict[NB201Arch, int]:
    return {arch: i for i, arch in enumerate(_index_order())}


@functools.cache
def _by_text() -> dict[str, NB201Arch]:
    """Every cell by its canonical string. The parser takes nothing else, so a valid string is one of
    these: a table of the finite space (built once, about 50 ms), not a memo of what was parsed before."""
    return {_format(arch): arch for arch in _index_order()}


@functools.cache
def _op_table() -> np.ndarray:
    """``int32[15625, 6]``: each cell's ops as indices into :data:`OPS`, in index order."""
    return np.array([[OPS.index(op) for op in arch] for arch in _index_order()], np.int32)


def _format(arch: NB201Arch) -> str:
    pairs = [f"{op}~{source}" for op, (source, _) in zip(arch, EDGES, strict=True)]
    return "+".join("|" + "|".join(pairs[a:b]) + "|" for a, b in itertools.pairwise(_NODE_STARTS))


def _edge_params(op: str, channels: int) -> int:
    """ReLU-Conv(no bias)-BN(affine) for convs; pooling, skip and none have no weights."""
    kernel = _CONV_KERNEL.get(op)
    return 0 if kernel is None else kernel * kernel * channels * channels + 2 * channels


def _edge_macs(op: str, channels: int, side: int) -> int:
    kernel = _CONV_KERNEL.get(op)
    return 0 if kernel is None else kernel * kernel * channels * channels * side * side


def _reduction_params(c_in: int, c_out: int) -> int:
    """ResNetBasicblock, stride 2: two ReLU-conv3x3-BN and an avgpool + conv1x1 (no BN) shortcut."""
    return 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out


def _reduction_macs(c_in: int, c_out: int, side_out: int) -> int:
    return (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * side_out * side_out


class NB201Space(SearchSpace[NB201Arch]):
    """The NAS-Bench-201 cell space, its index order and the size of its standard network.

    ``encoding="paper"`` keeps every edge as a node, ``none`` included, as TG-NAS does (a cell
    through which no data passes, every input -> output path crossing a ``none``, is still the
    broken cell ``input -> output`` that scores ``-inf``, as in the other encodings);
    ``"pruned"`` drops ``none`` edges (they carry no data) and then every op off all
    input -> output paths, as NB101 does, so cells that differ only there share a graph;
    ``"residual"`` is ``"pruned"`` with every ``skip_connect`` turned into plain edges, the form
    NB101 (the training space) gives a residual (:func:`tgnas_jax.graph.contract`).
    ``num_classes`` and ``input_size`` fix the network :meth:`num_params` and :meth:`num_flops`
    measure: 10 / 32 for CIFAR-10, 100 / 32 for CIFAR-100, 120 / 16 for ImageNet16-120.
    """

    name = "nb201"
    ops = OPS

    def __init__(self, encoding: Encoding = "pruned", num_classes: int = 10, input_size: int = 32) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if input_size < 4 or input_size % 4:
            raise ValueError(f"input_size must be a positive multiple of 4 (two stride-2 blocks), got {input_size}")
        self.encoding = encoding
        self.num_classes = num_classes
        self.input_size = input_size

    @property
    def network(self) -> str:
        shape = f"{self.num_classes} classes, {self.input_size}x{self.input_size}"
        for dataset, setting in DATASETS.items():
            if setting == (self.num_classes, self.input_size):
                return f"{NB201_DATASETS[dataset]} network ({shape})"
        return f"NB201 network ({shape})"

    def parse(self, text: str) -> NB201Arch:
        if not isinstance(text, str):
            raise SpaceError(f"an NB201 arch string must be a str, got {type(text).__name__}")
        arch = _by_text().get(text)
        return arch if arch is not None else _parse(text)

    def format(self, arch: NB201Arch) -> str:
        return _format(self.check(arch))

    def to_graphs(self, arch: NB201Arch) -> tuple[ArchGraph, ...]:
        return (_cell_graph(self.check(arch), self.encoding),)

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        return tuple(OPS[i] for i in rng.integers(len(OPS), size=len(EDGES)))

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """Give one edge, chosen uniformly, one of the other four ops."""
        mutated = list(self.check(arch))
        edge = int(rng.integers(len(EDGES)))
        mutated[edge] = str(rng.choice([op for op in OPS if op != mutated[edge]]))
        return tuple(mutated)

    def enumerate(self) -> Iterator[NB201Arch]:
        """All 15,625 cells in NB201 index order."""
        return iter(_index_order())

    def index(self, arch: NB201Arch) -> int:
        """The cell's NB201 / NATS-Bench TSS index (the row of the benchmark's tables)."""
        return _index_of()[self.check(arch)]

    def op_indices(self, archs: Sequence[NB201Arch]) -> np.ndarray:
        """``int32[len(archs), 6]``: each cell's ops as indices into :attr:`ops`, in bulk (a table row per cell)."""
        index = _index_of()
        return _op_table()[np.fromiter((index[self.check(a)] for a in archs), np.int64, len(archs))]

    def arch_at(self, index: int) -> NB201Arch:
        order = _index_order()
        if isinstance(index, bool) or not isinstance(index, int | np.integer) or not 0 <= index < len(order):
            raise SpaceError(f"NB201 index must be an integer in [0, {len(order)}), got {index!r}")
        return order[index]

    def num_params(self, arch: NB201Arch) -> int:
        """Trainable parameters (a raw count, not millions) of the NB201 network with this cell.

        Every edge counts, live or not, as NB201 builds (and counts) every edge's op.
        """
        arch = self.check(arch)
        stem = _STAGE_CHANNELS[0]
        total = 9 * _STEM_IN_CHANNELS * stem + 2 * stem
        for stage, channels in enumerate(_STAGE_CHANNELS):
            if stage:
                total += _reduction_params(_STAGE_CHANNELS[stage - 1], channels)
            total += _CELLS_PER_STAGE * sum(_edge_params(op, channels) for op in arch)
        last = _STAGE_CHANNELS[-1]
        return total + 2 * last + last * self.num_classes + self.num_classes

    def num_flops(self, arch: NB201Arch) -> int:
        """Multiply-accumulates of one image's forward pass, counted as NB201's FLOP counter does.

        That is every convolution's MACs plus the classifier's MACs and bias adds; BN, ReLU,
        pooling and the sums at cell nodes are not counted. Every edge counts, live or not.
        """
        return _flops(self.check(arch), self.num_classes, self.input_size)

    def check(self, arch: object) -> NB201Arch:
        """``arch`` as a tuple, or :class:`SpaceError` when it is not a cell of this space."""
        if type(arch) is tuple:
            try:
                if arch in _index_of():  # the common case, one lookup; the checks below name a fault
                    return arch
            except TypeError:  # an unhashable element
                pass
        if not isinstance(arch, tuple | list) or len(arch) != len(EDGES):
            raise SpaceError(f"an NB201 arch is a tuple of {len(EDGES)} op names, got {quote(arch)}")
        for op, (source, target) in zip(arch, EDGES, strict=True):
            if op not in OPS:
                raise SpaceError(
                    f"NB201 arch {quote(arch)}: unknown op {quote(op)} on edge {source}->{target}; ops are {OPS}"
                )
        return tuple(arch)


def _parse(text: str) -> NB201Arch:
    """The cell of a string that is no canonical one: a :class:`SpaceError` naming its fault."""
    nodes = text.split("+")
    if len(nodes) != _LAST_NODE:
        raise SpaceError(
            f"bad NB201 arch string {quote(text)}: expected {_LAST_NODE} nodes joined by '+', got {len(nodes):,}"
        )
    arch: list[str] = []
    for target, node in enumerate(nodes, start=1):
        arch.extend(_parse_node(text, node, target))
    return tuple(arch)


@functools.lru_cache(maxsize=len(OPS) ** len(EDGES) * 2)
def _flops(arch: NB201Arch, num_classes: int, input_size: int) -> int:
    side = input_size
    stem = _STAGE_CHANNELS[0]
    total = 9 * _STEM_IN_CHANNELS * stem * side * side
    for stage, channels in enumerate(_STAGE_CHANNELS):
        if stage:
            side //= 2
            total += _reduction_macs(_STAGE_CHANNELS[stage - 1], channels, side)
        total += _CELLS_PER_STAGE * sum(_edge_macs(op, channels, side) for op in arch)
    return total + _STAGE_CHANNELS[-1] * num_classes + num_classes


def _parse_node(text: str, node: str, target: int) -> list[str]:
    """The ops of the edges entering cell node ``target``, checked against ``|op~0|...|op~{target-1}|``."""
    where = f"bad NB201 arch string {quote(text)}: node {target} ({quote(node)})"
    if len(node) < 2 or not node.startswith("|") or not node.endswith("|"):
        raise SpaceError(f"{where} must start and end with '|'")
    entries = node[1:-1].split("|")
    if len(entries) != target:
        raise SpaceError(f"{where} must have {target} incoming edge(s), got {len(entries):,}")
    ops = []
    for source, entry in enumerate(entries):
        op, tilde, index = entry.partition("~")
        if not tilde:
            raise SpaceError(f"{where}: edge {quote(entry)} is not of the form 'op~source'")
        if index != str(source):
            raise SpaceError(f"{where}: edge {quote(entry)} must come from node {source}, got source {quote(index)}")
        if op not in OPS:
            raise SpaceError(f"{where}: unknown op {quote(op)}; ops are {OPS}")
        ops.append(op)
    return ops


def graph_hash(graph: ArchGraph) -> str:
    """NB101's hash: graphs equal up to node renumbering share it, so it counts distinct ``pruned`` cells."""
    return wl_hash(graph.adjacency, graph.ops)


@functools.lru_cache(maxsize=len(OPS) ** len(EDGES) * 2)
def _cell_graph(arch: NB201Arch, encoding: str) -> ArchGraph:
    """Memoised: the space is finite and scoring it whole is the common case."""
    # ``none`` edges pass no data: no node, and every op they strand off all input -> output paths goes.
    pruned = edge_cell(EDGES, arch, 1, (_LAST_NODE,), {"none"})
    if encoding == "paper":
        # Every edge stays a node, but a cell no data crosses is the broken cell, as in the other encodings.
        return pruned if pruned.is_broken else ArchGraph(_FULL_ADJACENCY, (INPUT, *arch, OUTPUT))
    return contract(pruned, {"skip_connect"}) if encoding == "residual" else pruned
