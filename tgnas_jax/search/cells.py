"""Cells as fixed-slot templates, rendered to predictor batches inside jit.

Every space is searched through one shape: a cell is a few ``input`` nodes, a row of *slots*
and one ``output``, wired at the level of slots. A slot holds ``K`` operator nodes in parallel,
each switched on or off, so the same template renders a single architecture (one op per slot,
``K == 1``) and a supernet (every remaining op of every slot) as operator-node DAGs with static
shapes. Switched-off nodes and the zero-weight edges around them take no part in the GCN, which
is what lets a jitted search build thousands of candidates without leaving XLA.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import jraph
import numpy as np

#: Vocabulary ids of the ``input`` and ``output`` nodes and of the first op: a searched vocabulary
#: is ``(input, output, *ops)``.
INPUT_ID, OUTPUT_ID, FIRST_OP_ID = 0, 1, 2


@dataclass(frozen=True, eq=False)
class CellTemplate:
    """The static wiring of one cell type.

    ``wiring`` is the ``(N, N)`` cell-level adjacency (``N = inputs + slots + 1``, inputs first,
    output last) of every connection the space allows; an architecture may switch some off (NB101).
    With ``drop_dead`` set, rendering mirrors :func:`tgnas_jax.graph.prune`: operator nodes that
    lie on no input -> output path are switched off, inputs and the output always stay. With
    ``identity_id`` (a vocabulary id) set, it then mirrors :func:`tgnas_jax.graph.contract`: nodes
    of that op are switched off and their predecessors wired to their successors. With ``void_id``
    set (NB201's ``none`` in its paper encoding), a cell whose every input -> output path crosses
    a node of that op passes no data and renders as the broken cell, every operator node off, as
    :func:`tgnas_jax.graph.prune` gives it. Slots must be in
    topological order (each slot reads only earlier ones), as every space's are.
    """

    num_inputs: int
    wiring: np.ndarray
    drop_dead: bool
    identity_id: int | None = None
    void_id: int | None = None

    @property
    def num_slots(self) -> int:
        return len(self.wiring) - self.num_inputs - 1

    def expansion(self, width: int) -> np.ndarray:
        """``(N, n)`` 0/1 map of each cell node onto its operator nodes (a slot onto ``width`` of them)."""
        return _expansion(self.num_inputs, self.num_slots, width)

    def structure(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Static ``(senders, receivers)`` of every edge a rendered cell can have.

        Contracting identities can join any node to any node it reaches, so then every such pair.
        """
        return _structure(self, width)

    def render(
        self, op_ids: jax.Array, alive: jax.Array, wiring: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Dense ``(adjacency[n, n], ops[n], mask[n])`` of one cell; jittable.

        ``op_ids[S, K]`` are vocabulary ids of each slot's parallel ops, ``alive[S, K]`` which of
        them exist; ``wiring`` overrides the template's (a subset of it) for spaces whose edges
        are searched. Inputs get id :data:`INPUT_ID`, the output :data:`OUTPUT_ID`.
        """
        width = op_ids.shape[1]
        expand = jnp.asarray(self.expansion(width))
        cell_wiring = jnp.asarray(self.wiring if wiring is None else wiring, jnp.float32)
        adjacency = expand.T @ cell_wiring @ expand
        ends = jnp.ones(self.num_inputs), jnp.ones(1)
        present = jnp.concatenate([ends[0], alive.reshape(-1).astype(jnp.float32), ends[1]])
        if self.drop_dead:
            present = self._live(adjacency, present)
        ops = jnp.concatenate([jnp.full(self.num_inputs, INPUT_ID), op_ids.reshape(-1), jnp.full(1, OUTPUT_ID)])
        if self.void_id is not None:
            forward, _ = self._reach(adjacency, jnp.where(ops == self.void_id, 0.0, present))
            ends = jnp.concatenate([ends[0], jnp.zeros(len(present) - self.num_inputs - 1), ends[1]])
            present = jnp.where(forward[-1] > 0, present, ends)
        if self.identity_id is not None:
            adjacency, present = self._contract(adjacency, present, ops == self.identity_id)
        return adjacency, ops.astype(jnp.int32), present

    def _contract(self, adjacency: jax.Array, present: jax.Array, identity: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Switch identity nodes off, wiring each one's predecessors to its successors, in node order."""
        edges = adjacency * present[:, None] * present[None, :]

        def bypass(node: int, state: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            edges, present = state
            drop = identity[node] & (present[node] > 0)
            joined = jnp.maximum(edges, jnp.outer(edges[:, node], edges[node, :]))
            cut = joined.at[:, node].set(0.0).at[node, :].set(0.0)
            return jnp.where(drop, cut, edges), jnp.where(drop, present.at[node].set(0.0), present)

        return jax.lax.fori_loop(0, adjacency.shape[0], bypass, (edges, present))

    def _live(self, adjacency: jax.Array, present: jax.Array) -> jax.Array:
        """``present`` restricted to nodes on an input -> output path (inputs and output kept)."""
        n = adjacency.shape[0]
        forward, backward = self._reach(adjacency, present)
        is_end = (jnp.arange(n) < self.num_inputs) | (jnp.arange(n) == n - 1)
        return jnp.where(is_end, 1.0, present * forward * backward)

    def _reach(self, adjacency: jax.Array, present: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Which nodes the inputs reach, and which reach the output, through ``present`` nodes."""
        n = adjacency.shape[0]
        edges = adjacency * present[:, None] * present[None, :]
        is_input = jnp.arange(n) < self.num_inputs
        is_output = jnp.arange(n) == n - 1

        def hop(_: int, reach: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            forward, backward = reach
            return (
                jnp.maximum(forward, (forward[:, None] * edges).max(axis=0)),
                jnp.maximum(backward, (edges * backward[None, :]).max(axis=1)),
            )

        # Paths visit each cell node at most once, so len(wiring) hops reach everything reachable.
        start = is_input.astype(jnp.float32), is_output.astype(jnp.float32)
        return jax.lax.fori_loop(0, len(self.wiring), hop, start)


@functools.cache
def _structure(template: CellTemplate, width: int) -> tuple[np.ndarray, np.ndarray]:
    expand = template.expansion(width)
    possible = (expand.T @ template.wiring @ expand) > 0
    if template.identity_id is not None:
        for node in range(len(possible)):  # transitive closure, nodes in topological order
            possible |= np.outer(possible[:, node], possible[node, :])
    return np.nonzero(possible)


@functools.cache
def _expansion(num_inputs: int, num_slots: int, width: int) -> np.ndarray:
    cell_nodes = num_inputs + num_slots + 1
    expand = np.zeros((cell_nodes, num_inputs + num_slots * width + 1), np.float32)
    expand[np.arange(num_inputs), np.arange(num_inputs)] = 1
    for slot in range(num_slots):
        start = num_inputs + slot * width
        expand[num_inputs + slot, start : start + width] = 1
    expand[-1, -1] = 1
    expand.setflags(write=False)
    return expand


def cell_batch(
    adjacency: jax.Array, ops: jax.Array, mask: jax.Array, structure: tuple[np.ndarray, np.ndarray]
) -> jraph.GraphsTuple:
    """A predictor batch of ``B`` rendered cells, one edge slot per *possible* edge.

    The packed layout, but only the template's ``structure`` gets edge slots rather than all
    ``n * n`` pairs: a DARTS supernet cell has 115 nodes and about a thousand possible edges, not
    13,225.
    """
    batch, n = ops.shape
    senders, receivers = (jnp.asarray(x, jnp.int32) for x in structure)
    mask = mask.astype(jnp.float32)
    weight = adjacency[:, senders, receivers] * mask[:, senders] * mask[:, receivers]
    offset = (jnp.arange(batch, dtype=jnp.int32) * n)[:, None]
    return jraph.GraphsTuple(
        nodes={"op": jnp.maximum(ops, 0).reshape(-1), "mask": mask.reshape(-1)},
        edges=weight.reshape(-1),
        senders=(offset + senders).reshape(-1),
        receivers=(offset + receivers).reshape(-1),
        globals=None,
        n_node=jnp.full((batch,), n, jnp.int32),
        n_edge=jnp.full((batch,), len(structure[0]), jnp.int32),
    )
