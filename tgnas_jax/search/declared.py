"""The search encoding of declarative spaces (:mod:`tgnas_jax.spaces.declarative`).

One choice per position (a cell's edge, a chain's layer), taking as many values as that
position has ops; a slot per position. Slots of a supernet start with only their own ops
(``initial_alive``), so pruning, evolution, regularised evolution and random search all work
unchanged. Sizes are additive over positions, so budgets are exact where every op's kind is known.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax.graph import edge_adjacency
from tgnas_jax.search.cells import FIRST_OP_ID, CellTemplate
from tgnas_jax.search.encoding import METRICS, Encoding, register_encoding
from tgnas_jax.spaces.declarative import IDENTITY_OPS, VOID_OPS, CellSpace, ChainSpace, DeclaredArch


class DeclaredEncoding(Encoding[DeclaredArch]):
    """Choice ``s`` picks the op of position ``s`` from its own list; ``space.ops`` indexes the nodes."""

    num_cells = 1
    #: ``none`` and ``zero``: the ops ``CellSpace.to_graphs`` gives no node.
    void_ops = VOID_OPS

    def __init__(self, space: CellSpace | ChainSpace) -> None:
        self.space = space
        positions = space.positions
        names = [[_node(space, s, op) for op in choices] for s, choices in enumerate(positions)]
        index = {name: k for k, name in enumerate(space.ops)}
        width = max(len(choices) for choices in positions)
        #: ``[S, max choices]`` index into ``space.ops`` of each position's choices (padded with its first).
        self.choice_ops = np.array([[index[n] for n in row] + [index[row[0]]] * (width - len(row)) for row in names])
        #: ``[S, len(space.ops)]`` choice index of each op at each position (-1: not offered there).
        self.op_choices = np.full((len(positions), len(space.ops)), -1, np.int32)
        for s, row in enumerate(names):
            self.op_choices[s, [index[n] for n in row]] = np.arange(len(row))
        self.cardinality = np.array([len(choices) for choices in positions], np.int32)
        self.supernet_ops = space.ops
        if isinstance(space, ChainSpace):
            self.template = CellTemplate(
                num_inputs=1,
                wiring=np.eye(len(positions) + 2, k=1, dtype=np.float32),
                drop_dead=True,
                identity_id=_identity_id(space),
            )
        else:
            self.template = CellTemplate(
                num_inputs=space.inputs,
                wiring=edge_adjacency(space.edges, space.inputs, space.outputs).astype(np.float32),
                drop_dead=True,
            )
        self.cost_tables = _size_tables(space, self.choice_ops)
        self.prior_table = self.cost_tables.get("flops")

    def slot_ops(self, choices: jax.Array) -> jax.Array:
        return jnp.asarray(self.choice_ops)[jnp.arange(len(self.cardinality)), choices][None, :]

    def to_arch(self, choices: np.ndarray) -> DeclaredArch:
        return tuple(self.space.positions[s][int(c)] for s, c in enumerate(choices))

    def from_arch(self, arch: DeclaredArch) -> np.ndarray:
        arch = self.space.check(arch)
        return np.array([choices.index(op) for choices, op in zip(self.space.positions, arch, strict=True)], np.int32)

    def sizes(self, arch: DeclaredArch) -> dict[str, int]:
        if not self.cost_tables:
            return {}
        return {"params": int(self.space.num_params(arch)), "flops": int(self.space.num_flops(arch))}

    def initial_alive(self) -> np.ndarray:
        """Each slot holds its own position's ops."""
        return (self.op_choices >= 0)[None]

    def path_choices(self, ops: jax.Array) -> jax.Array:
        return jnp.asarray(self.op_choices)[jnp.arange(len(self.cardinality)), ops.reshape(-1)]

    def cheapest(self) -> np.ndarray:
        """Per position its op of least size (params and FLOPs, each relative to its largest term)."""
        tables = self.supernet_tables()
        weights = (tables / np.maximum(tables.max(axis=(1, 2, 3), keepdims=True), 1)).sum(axis=0)[0]
        weights = np.where(self.op_choices >= 0, weights, np.inf)
        return self.op_choices[np.arange(len(self.cardinality)), weights.argmin(axis=-1)]


def _node(space: CellSpace | ChainSpace, position: int, op: str) -> str:
    return space.node_name(position, op) if isinstance(space, ChainSpace) else op


def _identity_id(space: ChainSpace) -> int | None:
    """Vocabulary id of the chain's identity op; one name at most, as the template contracts one."""
    identities = [op for op in space.ops if op in IDENTITY_OPS]
    if len(identities) > 1:
        raise ValueError(f"the {space.name} space names its identity op {len(identities)} ways {identities}; use one")
    return space.ops.index(identities[0]) + FIRST_OP_ID if identities else None


def _size_tables(space: CellSpace | ChainSpace, choice_ops: np.ndarray) -> dict[str, tuple[int, np.ndarray]]:
    """Additive size tables ``metric -> (fixed parts, [1, S, len(ops)])``; empty when an op's size is unknown.

    ``choice_ops[s, c]``: the index into ``space.ops`` of choice ``c`` at position ``s``.
    """
    tables = np.zeros((len(METRICS), 1, len(space.positions), len(space.ops)), np.int64)
    try:
        for s, choices in enumerate(space.positions):
            for c, op in enumerate(choices):
                tables[:, 0, s, choice_ops[s, c]] = space.position_sizes(s, op)
    except NotImplementedError:
        return {}
    fixed = np.array(space.fixed_sizes())
    largest = fixed + tables.max(axis=-1).sum(axis=(1, 2))
    if (largest >= 2**31).any():
        raise ValueError(f"the {space.name} space's sizes reach {int(largest.max()):,}, past the search's int32 counts")
    return {metric: (int(fixed[m]), tables[m]) for m, metric in enumerate(METRICS)}


register_encoding(CellSpace, DeclaredEncoding)
register_encoding(ChainSpace, DeclaredEncoding)
