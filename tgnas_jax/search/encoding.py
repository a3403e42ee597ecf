"""Per-space genomes: discrete *choices*, their continuous genes, and how both become cells.

An architecture is a vector of integer choices, choice ``i`` taking ``cardinality[i]`` values.
Evolution works on genes in ``[0, 1]`` with the values of each choice mapped evenly onto that
interval (paper section 3.4); :meth:`Encoding.decode` discretises them. Each encoding turns
choices into the ops of its cell slots (jittable), and back and forth to the space's own
architecture objects on the host, so the jitted search and ``space.to_graphs`` see the same cells.

* NB201: six choices, the op of each edge; a slot per edge.
* DARTS: per cell and intermediate node, one choice of the *pair* of distinct inputs and one op
  for each of the two edges; a slot per possible edge (14 per cell), the unchosen ones ``none``.
* NB101: 21 edge bits of the upper-triangular adjacency and the op of each of the 5 inner nodes.

Parameter / FLOP counts are additive over slots for NB201 and DARTS (a constant plus one term
per slot and op), so budgets are checked inside jit from a table measured once on the host. The
tables count the network the space instance measures (``space.num_params`` / ``num_flops``: NB201's
dataset, DARTS's ``setting``), and the FLOP table is also what the predictor's model-size prior
reads (``Predictor.cost_blend``).
"""

from __future__ import annotations

import abc
import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax.graph import INPUT, OUTPUT, edge_adjacency
from tgnas_jax.search.cells import FIRST_OP_ID, CellTemplate
from tgnas_jax.spaces.base import SearchSpace
from tgnas_jax.spaces.darts import (
    DERIVABLE_OPS,
    EDGES_PER_NODE,
    INTERMEDIATE,
    NUM_INPUTS,
    DartsSpace,
    Genotype,
    SettingName,
    network_size,
)
from tgnas_jax.spaces.darts import OPS as DARTS_OPS
from tgnas_jax.spaces.nb101 import MAX_EDGES, MAX_VERTICES, NB101Arch, NB101Space
from tgnas_jax.spaces.nb201 import EDGES, NB201Arch, NB201Space

Arch = TypeVar("Arch")
#: The size metrics a budget may bound, in the order of :meth:`Encoding.cost`.
METRICS = ("params", "flops")
NONE = "none"
#: Size term of a slot with no op left (never happens: every slot keeps one); above any op's own term.
UNREACHABLE = 2**30


class Encoding(abc.ABC, Generic[Arch]):
    """How one search space is searched: its choices, cells, supernet and size tables.

    The contract, for a space of one's own (registered with :func:`register_encoding`):

    * set ``space``, ``template`` (a :class:`CellTemplate` shared by all ``num_cells`` cell types:
      inputs, slots, output and the slot-level wiring), ``cardinality`` (values of each integer
      choice), ``supernet_ops`` (the ops each supernet slot starts with), ``cost_tables``
      (``metric -> (constant, table[C, S, len(space.ops)])``, the additive sizes budgets bound, as
      ``space.num_params`` / ``space.num_flops`` count them; ``{}``: no budgets) and
      ``prior_table`` (the FLOP table, which the predictor's size prior reads; ``None`` where the
      space counts no FLOPs);
    * implement :meth:`slot_ops` (jittable: choices -> the op of every slot), :meth:`to_arch` /
      :meth:`from_arch` (choices <-> the space's objects) and :meth:`sizes`;
    * override, where the space needs it, :meth:`wiring` (searched edges), :meth:`valid` (rules
      beyond the graph), :meth:`initial_alive` (slots offering different ops), :meth:`path_choices`
      (a pruned supernet -> choices), :meth:`min_cost` and :meth:`cheapest` (budgets).

    ``tests/search/test_declared_search.py`` shows the checks a new encoding should pass: jitted
    scores equal ``Predictor.score``, size tables exact, every method returns a valid architecture.
    """

    space: SearchSpace[Arch]
    template: CellTemplate
    num_cells: int
    cardinality: np.ndarray
    supernet_ops: tuple[str, ...]
    cost_tables: dict[str, tuple[int, np.ndarray]]
    prior_table: tuple[int, np.ndarray] | None

    @property
    def vocab(self) -> tuple[str, ...]:
        """Predictor vocabulary, in the order :mod:`tgnas_jax.search.cells` renders ids."""
        return (INPUT, OUTPUT, *self.space.ops)

    @property
    def num_genes(self) -> int:
        return len(self.cardinality)

    #: Ops that carry no data: in a pruned encoding they get no node, as ``space.to_graphs`` gives them none.
    void_ops: frozenset[str] = frozenset({NONE})

    @property
    def pruned(self) -> bool:
        """``void_ops`` get no node and ops off every input -> output path are dropped."""
        return self.template.drop_dead

    # ---------------------------------------------------------------- abstract
    @abc.abstractmethod
    def slot_ops(self, choices: jax.Array) -> jax.Array:
        """``[C, S]`` index into ``space.ops`` of each slot's op; jittable, one architecture."""

    @abc.abstractmethod
    def to_arch(self, choices: np.ndarray) -> Arch:
        """The space's architecture object for host-side choices."""

    @abc.abstractmethod
    def from_arch(self, arch: Arch) -> np.ndarray:
        """The choices of ``arch``; ``ValueError`` when the encoding cannot express it."""

    def choices_of(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``archs`` the encoding expresses, and their ``int32[rows, genes]`` choices.

        An encoding may not express every architecture of its space (a DARTS genotype with a
        ``none`` edge, or one that does not concatenate every node): those are left out. One
        :meth:`from_arch` per architecture; a space with a table of its cells overrides it.
        """
        rows, choices = [], []
        for index, arch in enumerate(archs):
            try:
                choices.append(self.from_arch(arch))
            except ValueError:
                continue
            rows.append(index)
        genes = np.stack(choices) if choices else np.zeros((0, self.num_genes), np.int32)
        return np.asarray(rows, np.int64), genes.astype(np.int32)

    def sizes(self, arch: Arch) -> dict[str, int]:
        """``{"params": ..., "flops": ...}`` of ``arch`` as budgets count them (empty where undefined)."""
        return {"params": int(self.space.num_params(arch)), "flops": int(self.space.num_flops(arch))}

    # ----------------------------------------------------------------- hooks
    def wiring(self, choices: jax.Array) -> jax.Array | None:
        """``[C, N, N]`` cell wiring chosen by ``choices``, or ``None`` when the wiring is fixed."""
        del choices
        return None

    def valid(self, choices: jax.Array, masks: jax.Array, adjacency: jax.Array) -> jax.Array:
        """Space rules the graph itself does not enforce (NB101's edge limit); jittable."""
        del choices, masks, adjacency
        return jnp.asarray(True)

    def min_cost(self, alive: jax.Array, table: jax.Array) -> jax.Array:
        """Least size any architecture derivable from supernet ``alive[C, S, K]`` can have, less the constant.

        ``table[C, S, K]`` is the metric's per-slot term for each supernet op; every slot keeps one op.
        """
        return jnp.where(alive, table, UNREACHABLE).min(axis=-1).sum()

    # --------------------------------------------------------------- concrete
    def decode(self, genes: jax.Array) -> jax.Array:
        """Genes in ``[0, 1]`` -> choices, each value owning an equal share of the interval; jittable."""
        cardinality = jnp.asarray(self.cardinality)
        return jnp.clip(jnp.floor(genes * cardinality), 0, cardinality - 1).astype(jnp.int32)

    def encode(self, choices: np.ndarray) -> np.ndarray:
        """Genes at the centre of each choice's share; ``decode(encode(c)) == c``."""
        return ((np.asarray(choices) + 0.5) / self.cardinality).astype(np.float32)

    def cells(self, choices: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Rendered ``(adjacency[C, n, n], ops[C, n], mask[C, n])`` of one architecture; jittable."""
        ops = self.slot_ops(choices)
        void = [k for k, op in enumerate(self.space.ops) if op in self.void_ops]
        alive = ~jnp.isin(ops, jnp.asarray(void)) if self.pruned and void else jnp.ones_like(ops, bool)
        wiring = self.wiring(choices)
        render = self.template.render
        if wiring is None:
            return jax.vmap(lambda o, a: render(o[:, None] + FIRST_OP_ID, a[:, None]))(ops, alive)
        return jax.vmap(lambda o, a, w: render(o[:, None] + FIRST_OP_ID, a[:, None], w))(ops, alive, wiring)

    def supernet_cell(
        self, alive: jax.Array, wiring: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Rendered supernet cell whose slots hold the ``supernet_ops`` marked in ``alive[S, K]``; jittable."""
        op_ids = jnp.broadcast_to(jnp.asarray(self.supernet_index) + FIRST_OP_ID, alive.shape)
        if self.pruned:
            alive = alive & ~jnp.asarray([op in self.void_ops for op in self.supernet_ops])
        return self.template.render(op_ids, alive, wiring)

    @property
    def supernet_index(self) -> np.ndarray:
        """Index into ``space.ops`` of each supernet op."""
        return np.array([self.space.ops.index(op) for op in self.supernet_ops], np.int32)

    def initial_alive(self) -> np.ndarray:
        """``[C, S, K]``: the supernet every slot of which holds every supernet op."""
        return np.ones((self.num_cells, self.template.num_slots, len(self.supernet_ops)), bool)

    def cost(self, choices: jax.Array) -> jax.Array:
        """``[len(METRICS)]`` int32 size of one architecture from the additive tables; jittable."""
        return jnp.stack([_table_sum(pair, self.slot_ops(choices)) for pair in self._tables()])

    def prior_flops(self, choices: jax.Array) -> jax.Array:
        """FLOPs of one architecture as the predictor's size prior counts them; jittable."""
        return _table_sum(self._prior(), self.slot_ops(choices))

    def supernet_prior_terms(self) -> np.ndarray:
        """``[C, S, K]`` prior FLOPs of each supernet op: a supernet computes all its ops."""
        return self._prior()[1][:, :, self.supernet_index]

    def _prior(self) -> tuple[int, np.ndarray]:
        if self.prior_table is None:
            raise ValueError(f"the {self.space.name} space counts no FLOPs for the predictor's size prior")
        return self.prior_table

    def path_choices(self, ops: jax.Array) -> jax.Array:
        """Choices of a one-op-per-slot supernet; ``ops[C, S]`` index ``supernet_ops``. Jittable."""
        return jnp.asarray(self.supernet_index)[ops].reshape(-1)

    def cheapest(self) -> np.ndarray:
        """Choices of a valid architecture of least size: per slot its smallest op that carries data.

        Spaces with one op per slot only; ties go to ``space.ops`` order.
        """
        weights = _normalised(self.supernet_tables())[0]
        weights[:, [op in self.void_ops for op in self.supernet_ops]] = np.inf
        return self.supernet_index[weights.argmin(axis=-1)]

    def supernet_tables(self) -> np.ndarray:
        """``[len(METRICS), C, S, K]`` per-slot size terms of each supernet op."""
        return np.stack([table[:, :, self.supernet_index] for _, table in self._tables()])

    def constants(self) -> np.ndarray:
        return np.array([const for const, _ in self._tables()], np.int64)

    def _tables(self) -> list[tuple[int, np.ndarray]]:
        missing = [m for m in METRICS if m not in self.cost_tables]
        if missing:
            raise ValueError(f"the {self.space.name} search defines no {' / '.join(missing)} budget")
        return [self.cost_tables[m] for m in METRICS]


def _identity_id(space: NB201Space | DartsSpace) -> int | None:
    """Vocabulary id of ``skip_connect`` when the space's encoding contracts it (``residual``)."""
    return space.ops.index("skip_connect") + FIRST_OP_ID if space.encoding == "residual" else None


def _table_sum(pair: tuple[int, np.ndarray], slot_ops: jax.Array) -> jax.Array:
    """``constant + sum of table[c, s, op]`` over the slots' ops, in exact int32."""
    constant, table = pair
    cells = jnp.arange(slot_ops.shape[0])[:, None]
    slots = jnp.arange(slot_ops.shape[1])[None, :]
    return jnp.asarray(table, jnp.int32)[cells, slots, slot_ops].sum() + constant


def _normalised(tables: np.ndarray) -> np.ndarray:
    """``[C, S, K]`` sum over metrics of each term relative to the metric's largest: one size to minimise."""
    return (tables / np.maximum(tables.max(axis=(1, 2, 3), keepdims=True), 1)).sum(axis=0)


# ---------------------------------------------------------------------------------- NB201


def _nb201_tables(space: NB201Space) -> dict[str, tuple[int, np.ndarray]]:
    """Additive NB201 size tables: the all-``none`` cell, then one edge at a time."""
    tables = {}
    for metric, measure in (("params", space.num_params), ("flops", space.num_flops)):
        base = int(measure((NONE,) * len(EDGES)))
        table = [
            [measure(tuple(op if e == slot else NONE for e in range(len(EDGES)))) - base for op in space.ops]
            for slot in range(len(EDGES))
        ]
        tables[metric] = (base, np.array([table], np.int64))
    return tables


class NB201Encoding(Encoding[NB201Arch]):
    """Six choices, the op of each edge (``space.ops`` order); one slot per edge."""

    num_cells = 1

    def __init__(self, space: NB201Space) -> None:
        self.space = space
        self.template = CellTemplate(
            num_inputs=1,
            wiring=edge_adjacency(EDGES, 1, (max(target for _, target in EDGES),)).astype(np.float32),
            drop_dead=space.encoding != "paper",
            identity_id=_identity_id(space),
            # The paper encoding keeps `none` nodes, but a cell no data crosses is broken (NB201Space).
            void_id=space.ops.index(NONE) + FIRST_OP_ID if space.encoding == "paper" else None,
        )
        self.cardinality = np.full(len(EDGES), len(space.ops), np.int32)
        self.supernet_ops = space.ops
        self.cost_tables = _nb201_tables(space)
        self.prior_table = self.cost_tables["flops"]

    def slot_ops(self, choices: jax.Array) -> jax.Array:
        return choices[None, :]

    def to_arch(self, choices: np.ndarray) -> NB201Arch:
        return tuple(self.space.ops[int(c)] for c in choices)

    def from_arch(self, arch: NB201Arch) -> np.ndarray:
        return np.array([self.space.ops.index(op) for op in arch], np.int32)

    def choices_of(self, archs: Sequence[NB201Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Every cell is expressed: its row of the space's op table (0.4 us a cell, against 2-3 us for
        one :meth:`from_arch` each)."""
        return np.arange(len(archs), dtype=np.int64), self.space.op_indices(archs)


# ---------------------------------------------------------------------------------- DARTS

#: DARTS's 14 candidate edges of a cell, ``(source, node)``, grouped by node: slot ``k`` is ``DARTS_EDGES[k]``.
DARTS_EDGES = tuple((source, node) for node in INTERMEDIATE for source in range(node))
#: Each node's unordered input pairs, in ``itertools.combinations`` order.
DARTS_PAIRS = {node: tuple(itertools.combinations(range(node), EDGES_PER_NODE)) for node in INTERMEDIATE}
_GENES_PER_NODE = 1 + EDGES_PER_NODE


def _darts_slot(source: int, node: int) -> int:
    return DARTS_EDGES.index((source, node))


@functools.cache
def _darts_tables(setting: SettingName) -> dict[str, tuple[int, np.ndarray]]:
    """Additive size tables of the ``setting``'s network: a genotype of ``none`` edges, then one edge at a time."""
    base_cell = tuple(edge for _ in INTERMEDIATE for edge in ((NONE, 0), (NONE, 1)))

    def genotype_with(cell: int, slot: int, op: str) -> Genotype:
        source, node = DARTS_EDGES[slot]
        other = 1 if source == 0 else 0
        edges = list(base_cell)
        first = (node - NUM_INPUTS) * EDGES_PER_NODE
        edges[first : first + EDGES_PER_NODE] = [(op, source), (NONE, other)]
        cells = [base_cell, base_cell]
        cells[cell] = tuple(edges)
        return Genotype(cells[0], INTERMEDIATE, cells[1], INTERMEDIATE)

    base = network_size(Genotype(base_cell, INTERMEDIATE, base_cell, INTERMEDIATE), setting)
    sizes = np.zeros((len(METRICS), 2, len(DARTS_EDGES), len(DARTS_OPS)), np.int64)
    for c, s, (o, op) in itertools.product(range(2), range(len(DARTS_EDGES)), enumerate(DARTS_OPS)):
        sizes[:, c, s, o] = network_size(genotype_with(c, s, op), setting)
    return {metric: (int(base[m]), sizes[m] - base[m]) for m, metric in enumerate(METRICS)}


class DartsEncoding(Encoding[Genotype]):
    """Per cell (normal, reduce) and node: ``[pair, op of the lower input, op of the higher]``.

    Ops are :data:`DERIVABLE_OPS` (never ``none``: a DARTS genotype has none), and the pair
    choice makes the two inputs distinct by construction, so every choice vector is a valid
    genotype. Slots are all 14 possible edges; the 6 unchosen ones hold ``none``.
    """

    num_cells = 2

    def __init__(self, space: DartsSpace) -> None:
        self.space = space
        self.template = CellTemplate(
            num_inputs=NUM_INPUTS,
            wiring=edge_adjacency(DARTS_EDGES, NUM_INPUTS, INTERMEDIATE).astype(np.float32),
            drop_dead=True,
            identity_id=_identity_id(space),
        )
        per_cell = [n for node in INTERMEDIATE for n in (len(DARTS_PAIRS[node]), *[len(DERIVABLE_OPS)] * 2)]
        self.cardinality = np.array(per_cell * self.num_cells, np.int32)
        self.supernet_ops = DERIVABLE_OPS
        self.cost_tables = _darts_tables(space.setting)
        self.prior_table = self.cost_tables["flops"]
        pairs = np.zeros((len(INTERMEDIATE), max(len(p) for p in DARTS_PAIRS.values()), 2), np.int32)
        for i, node in enumerate(INTERMEDIATE):
            pairs[i, : len(DARTS_PAIRS[node])] = [
                [_darts_slot(a, node), _darts_slot(b, node)] for a, b in DARTS_PAIRS[node]
            ]
        #: ``[node, pair, 2]`` slot of each edge of each input pair.
        self.pair_slots = pairs
        #: Per node, its two edges as a genotype lists them -> its genes (``from_arch`` by lookups).
        self.node_genes = []
        for node in INTERMEDIATE:
            genes = {}
            for (pair, (a, b)), (i, low), (j, high) in itertools.product(
                enumerate(DARTS_PAIRS[node]), enumerate(DERIVABLE_OPS), enumerate(DERIVABLE_OPS)
            ):
                genes[(low, a), (high, b)] = genes[(high, b), (low, a)] = (pair, i, j)
            self.node_genes.append(genes)

    def slot_ops(self, choices: jax.Array) -> jax.Array:
        genes = choices.reshape(self.num_cells, len(INTERMEDIATE), _GENES_PER_NODE)
        slots = jnp.asarray(self.pair_slots)[jnp.arange(len(INTERMEDIATE)), genes[..., 0]]  # [C, node, 2]
        ops = jnp.asarray(self.supernet_index)[genes[..., 1:]]  # [C, node, 2]
        cells = jnp.arange(self.num_cells)[:, None, None]
        empty = jnp.full((self.num_cells, len(DARTS_EDGES)), DARTS_OPS.index(NONE), jnp.int32)
        return empty.at[cells, slots].set(ops)

    def to_arch(self, choices: np.ndarray) -> Genotype:
        genes = np.asarray(choices).reshape(self.num_cells, len(INTERMEDIATE), _GENES_PER_NODE)
        cells = [
            tuple(
                (DERIVABLE_OPS[op], source)
                for node, (pair, *ops) in zip(INTERMEDIATE, cell, strict=True)
                for source, op in zip(DARTS_PAIRS[node][pair], ops, strict=True)
            )
            for cell in genes
        ]
        return Genotype(cells[0], INTERMEDIATE, cells[1], INTERMEDIATE)

    def from_arch(self, arch: Genotype) -> np.ndarray:
        if arch.normal_concat != INTERMEDIATE or arch.reduce_concat != INTERMEDIATE:
            raise ValueError(f"the DARTS search concatenates every intermediate node; {arch} does not")
        try:
            return np.array(
                [
                    gene
                    for edges in (arch.normal, arch.reduce)
                    for i, genes in enumerate(self.node_genes)
                    for gene in genes[edges[EDGES_PER_NODE * i], edges[EDGES_PER_NODE * i + 1]]
                ],
                np.int32,
            )
        except KeyError:  # a Genotype's edges are valid, so only an op DARTS cannot derive is missing
            for edges, node in itertools.product((arch.normal, arch.reduce), INTERMEDIATE):
                first = (node - NUM_INPUTS) * EDGES_PER_NODE
                pair = sorted(edges[first : first + EDGES_PER_NODE], key=lambda edge: edge[1])
                if any(op not in DERIVABLE_OPS for op, _ in pair):
                    raise ValueError(f"node {node} of {arch} uses an op DARTS cannot derive ({pair})") from None
            raise ValueError(f"{arch} has a node the DARTS search cannot express") from None

    def min_cost(self, alive: jax.Array, table: jax.Array) -> jax.Array:
        """Each node keeps its two cheapest edges, each at its cheapest remaining op."""
        per_slot = jnp.where(alive, table, UNREACHABLE).min(axis=-1)  # [C, S]
        total = jnp.asarray(0, jnp.int32)
        for i in range(len(INTERMEDIATE)):
            slots = np.unique(self.pair_slots[i, : len(DARTS_PAIRS[INTERMEDIATE[i]])])
            total = total + jnp.sort(per_slot[:, slots], axis=-1)[:, :EDGES_PER_NODE].sum()
        return total

    def cheapest(self) -> np.ndarray:
        """Per node the pair of edges, each at its smallest op, of least total size."""
        weights = _normalised(self.supernet_tables())
        best_op, best = weights.argmin(axis=-1), weights.min(axis=-1)
        genes = []
        for c, (i, node) in itertools.product(range(self.num_cells), enumerate(INTERMEDIATE)):
            slots = self.pair_slots[i, : len(DARTS_PAIRS[node])]
            pair = int(best[c][slots].sum(axis=-1).argmin())
            genes.extend([pair, *(int(best_op[c, s]) for s in slots[pair])])
        return np.array(genes, np.int32)


# ---------------------------------------------------------------------------------- NB101

#: NB101's possible edges ``(sender, receiver)`` over vertices 0 (input) .. 6 (output), row-major.
NB101_EDGES = tuple(itertools.combinations(range(MAX_VERTICES), 2))
_NB101_SLOTS = MAX_VERTICES - 2


@functools.cache
def _nb101_edge_sources(num_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a cell of ``num_vertices`` (its output last): the cell's ``(sender, receiver)`` of each of
    :data:`NB101_EDGES`, and whether the cell has both ends (its inner vertices fill the first slots)."""
    vertex = {v: v for v in range(num_vertices - 1)} | {MAX_VERTICES - 1: num_vertices - 1}
    present = np.array([i in vertex and j in vertex for i, j in NB101_EDGES])
    senders = np.array([vertex.get(i, 0) for i, _ in NB101_EDGES])
    receivers = np.array([vertex.get(j, 0) for _, j in NB101_EDGES])
    return senders, receivers, present


class NB101Encoding(Encoding[NB101Arch]):
    """21 edge bits (:data:`NB101_EDGES`) then the op of each of the 5 inner vertices; a slot per vertex.

    Cells with more than 9 edges left after pruning are not in NB101 and score ``-inf``. NB101
    defines no network size, so it takes no budget.
    """

    num_cells = 1

    def __init__(self, space: NB101Space) -> None:
        self.space = space
        self.template = CellTemplate(
            num_inputs=1, wiring=np.triu(np.ones((MAX_VERTICES,) * 2, np.float32), 1), drop_dead=True
        )
        self.cardinality = np.array([2] * len(NB101_EDGES) + [len(space.ops)] * _NB101_SLOTS, np.int32)
        self.supernet_ops = space.ops
        self.cost_tables = {}
        self.prior_table = None
        self.op_index = {op: i for i, op in enumerate(space.ops)}

    def slot_ops(self, choices: jax.Array) -> jax.Array:
        return choices[None, len(NB101_EDGES) :]

    def wiring(self, choices: jax.Array) -> jax.Array:
        senders, receivers = np.array(NB101_EDGES).T
        return jnp.zeros((1, MAX_VERTICES, MAX_VERTICES)).at[0, senders, receivers].set(choices[: len(NB101_EDGES)])

    def valid(self, choices: jax.Array, masks: jax.Array, adjacency: jax.Array) -> jax.Array:
        return (adjacency * masks[:, :, None] * masks[:, None, :]).sum() <= MAX_EDGES

    def to_arch(self, choices: np.ndarray) -> NB101Arch:
        adjacency = np.zeros((MAX_VERTICES, MAX_VERTICES), np.uint8)
        adjacency[tuple(np.array(NB101_EDGES).T)] = choices[: len(NB101_EDGES)]
        ops = tuple(self.space.ops[int(c)] for c in choices[len(NB101_EDGES) :])
        return NB101Arch(adjacency, (INPUT, *ops, OUTPUT))

    def from_arch(self, arch: NB101Arch) -> np.ndarray:
        """Vertices a pruned cell lacks come back as unconnected ``space.ops[0]`` vertices before the output."""
        n = arch.num_vertices
        senders, receivers, present = _nb101_edge_sources(n)
        edges = np.where(present, arch.adjacency[senders, receivers], 0)
        try:
            ops = [self.op_index[op] for op in arch.ops[1:-1]] + [0] * (MAX_VERTICES - n)
        except KeyError as err:
            raise ValueError(f"op {err.args[0]!r} is not one of the space's {self.space.ops}") from None
        return np.concatenate([edges, ops]).astype(np.int32)

    def choices_of(self, archs: Sequence[NB101Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Every cell is expressed; cells of one size share their edge slots, so each size is one
        gather (1.2 us a cell, against 4.0 for one :meth:`from_arch` each)."""
        sizes = np.fromiter((a.num_vertices for a in archs), np.int64, len(archs))
        genes = np.zeros((len(archs), self.num_genes), np.int32)
        for n in np.unique(sizes).tolist():
            rows = np.flatnonzero(sizes == n)
            senders, receivers, present = _nb101_edge_sources(n)
            adjacency = np.stack([archs[i].adjacency for i in rows])
            genes[rows, : len(NB101_EDGES)] = adjacency[:, senders, receivers] * present
            inner = [[self.op_index[op] for op in archs[i].ops[1:-1]] for i in rows]  # NB101Arch checked its ops
            genes[rows, len(NB101_EDGES) : len(NB101_EDGES) + n - 2] = np.reshape(inner, (len(rows), n - 2))
        return np.arange(len(archs), dtype=np.int64), genes

    def sizes(self, arch: NB101Arch) -> dict[str, int]:
        return {}


# ---------------------------------------------------------------------------------- lookup


#: Which encoding searches which space type; :func:`register_encoding` adds to it.
_ENCODINGS: dict[type, Callable[[Any], Encoding[Any]]] = {
    NB201Space: NB201Encoding,
    DartsSpace: DartsEncoding,
    NB101Space: NB101Encoding,
}


def register_encoding(space_type: type, make: Callable[[Any], Encoding[Any]]) -> None:
    """Search spaces of ``space_type`` (and its subclasses) with ``make(space)``, an :class:`Encoding`.

    The way to search a space beyond what the declarative specs express: subclass
    :class:`Encoding` (the contract is its docstring and abstract methods) and register it.
    """
    if not isinstance(space_type, type) or not issubclass(space_type, SearchSpace):
        raise TypeError(f"space_type must be a SearchSpace subclass, got {space_type!r}")
    _ENCODINGS[space_type] = make


def encoding_for(space: SearchSpace[Any]) -> Encoding[Any]:
    """The encoding of a space instance; ``ValueError`` for a space no encoding is registered for."""
    for cls in type(space).__mro__:
        if cls in _ENCODINGS:
            return _ENCODINGS[cls](space)
    name = getattr(space, "name", type(space).__name__)
    raise ValueError(
        f"no search encoding for the {name} space: declare it as a CellSpace or ChainSpace "
        "(tgnas_jax.spaces.declarative), or register one with tgnas_jax.search.register_encoding"
    )
