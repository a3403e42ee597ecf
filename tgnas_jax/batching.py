"""The two batch layouts the GCN reads, built with numpy outside jit (one compilation per shape).

* Packed: graphs of any size concatenated into one static-shape ``jraph.GraphsTuple`` sized by
  a :class:`Budget`: ``nodes = {"op": int32[N], "mask": float32[N]}`` and ``edges`` = float32[E]
  weights; padding nodes and edges carry 0, and a search that builds fixed-size template graphs
  inside jit switches nodes and edges off the same way.
* :class:`DenseCells`: ``B`` cells of ``n`` node slots with a dense adjacency, for small cells
  (training on NB101, whole spaces of fixed cells), where propagation needs no gathers or scatters.

Node features are int32 indices into a per-batch operator vocabulary, so each operator is
embedded once per batch, not once per node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jraph
import numpy as np

from tgnas_jax.graph import ArchGraph


class DenseCells(NamedTuple):
    """``B`` cells of ``n`` node slots each, the layout the GCN propagates without gathers or scatters.

    ``adjacency[b, i, j]`` weights edge ``i -> j`` (data flow), ``ops[b, i]`` indexes the batch
    vocabulary, ``mask[b, i]`` is 1 on the cell's real nodes: the mask alone says which slots are
    empty (their ops, conventionally -1, are not read). A pytree of arrays: it goes through jit,
    vmap and shard_map as it is.
    """

    adjacency: jax.Array
    ops: jax.Array
    mask: jax.Array


# Both layouts are arguments of programs kept between processes (compilation.stored_jit), which
# jax.export serialises by these names.
jax.export.register_namedtuple_serialization(jraph.GraphsTuple, serialized_name="jraph.GraphsTuple")
jax.export.register_namedtuple_serialization(DenseCells, serialized_name="tgnas_jax.DenseCells")


@dataclass(frozen=True)
class Budget:
    """Static sizes of a padded batch; the padding graph takes one graph slot and >= 1 node."""

    max_nodes: int
    max_edges: int
    max_graphs: int

    @classmethod
    def for_batch(cls, batch_size: int, nodes_per_graph: int, edges_per_graph: int) -> Budget:
        """Room for ``batch_size`` graphs of up to the given size, plus the padding graph."""
        if min(batch_size, nodes_per_graph) < 1 or edges_per_graph < 0:
            raise ValueError(
                f"batch_size and nodes_per_graph must be >= 1 and edges_per_graph >= 0, got "
                f"{batch_size}, {nodes_per_graph}, {edges_per_graph}"
            )
        return cls(
            max_nodes=batch_size * nodes_per_graph + 1,
            max_edges=max(batch_size * edges_per_graph, 1),
            max_graphs=batch_size + 1,
        )

    @classmethod
    def fitting(cls, graphs: Sequence[ArchGraph], batch_size: int | None = None) -> Budget:
        """The budget for ``batch_size`` (default: all) graphs as large as the largest given."""
        if not graphs:
            raise ValueError("cannot size a budget for an empty batch")
        return cls.for_batch(
            batch_size or len(graphs),
            max(g.num_nodes for g in graphs),
            max(g.num_edges for g in graphs),
        )


def vocabulary(graphs: Sequence[ArchGraph]) -> tuple[str, ...]:
    """The distinct operator names of a batch, in first-seen order."""
    return tuple(dict.fromkeys(op for g in graphs for op in g.ops))


def pad_batch(
    graphs: Sequence[ArchGraph], budget: Budget, vocab: Sequence[str] | None = None
) -> tuple[jraph.GraphsTuple, tuple[str, ...]]:
    """Concatenate ``graphs`` into one ``GraphsTuple`` padded exactly to ``budget``.

    Returns the batch and the vocabulary its integer node features index. Edges run
    sender -> receiver in data-flow direction; the padding graph holds the spare nodes and
    edges (its edges loop on its first node), as jraph's own padding does.
    """
    vocab = tuple(vocab) if vocab is not None else vocabulary(graphs)
    index = {op: i for i, op in enumerate(vocab)}
    n_node = np.array([g.num_nodes for g in graphs], dtype=np.int32)
    n_edge = np.array([g.num_edges for g in graphs], dtype=np.int32)
    total_nodes, total_edges = int(n_node.sum()), int(n_edge.sum())
    if len(graphs) + 1 > budget.max_graphs or total_nodes + 1 > budget.max_nodes or total_edges > budget.max_edges:
        raise ValueError(
            f"{len(graphs)} graphs with {total_nodes} nodes and {total_edges} edges do not fit {budget} "
            "(one graph and one node are kept for padding)"
        )
    try:
        nodes = np.fromiter((index[op] for g in graphs for op in g.ops), np.int32, total_nodes)
    except KeyError as err:
        raise ValueError(f"operator {err.args[0]!r} is not in the batch vocabulary") from None
    offsets = np.concatenate([[0], np.cumsum(n_node)[:-1]]).astype(np.int32)
    edges = (
        np.concatenate([g.edges + off for g, off in zip(graphs, offsets, strict=True)])
        if total_edges
        else np.zeros((0, 2), np.int32)
    )
    pad_nodes = budget.max_nodes - total_nodes
    pad_edges = budget.max_edges - total_edges
    pad_graphs = budget.max_graphs - len(graphs)
    batch = jraph.GraphsTuple(
        nodes={
            "op": np.concatenate([nodes, np.zeros(pad_nodes, np.int32)]),
            "mask": np.concatenate([np.ones(total_nodes, np.float32), np.zeros(pad_nodes, np.float32)]),
        },
        edges=np.concatenate([np.ones(total_edges, np.float32), np.zeros(pad_edges, np.float32)]),
        senders=np.concatenate([edges[:, 0], np.full(pad_edges, total_nodes, np.int32)]),
        receivers=np.concatenate([edges[:, 1], np.full(pad_edges, total_nodes, np.int32)]),
        globals=None,
        n_node=np.concatenate([n_node, [pad_nodes], np.zeros(pad_graphs - 1, np.int32)]).astype(np.int32),
        n_edge=np.concatenate([n_edge, [pad_edges], np.zeros(pad_graphs - 1, np.int32)]).astype(np.int32),
    )
    return batch, vocab


def graph_mask(batch: jraph.GraphsTuple, num_graphs: int) -> np.ndarray:
    """True for the first ``num_graphs`` (real) graphs of a padded batch."""
    return np.arange(len(batch.n_node)) < num_graphs


def unpad_batch(batch: jraph.GraphsTuple, vocab: Sequence[str], num_graphs: int) -> list[ArchGraph]:
    """The reverse of :func:`pad_batch`: the first ``num_graphs`` graphs, rebuilt."""
    n_node = np.asarray(batch.n_node)
    n_edge = np.asarray(batch.n_edge)
    nodes = np.asarray(batch.nodes["op"])
    senders, receivers = np.asarray(batch.senders), np.asarray(batch.receivers)
    node_start = np.concatenate([[0], np.cumsum(n_node)])
    edge_start = np.concatenate([[0], np.cumsum(n_edge)])
    graphs = []
    for g in range(num_graphs):
        lo, hi = node_start[g], node_start[g + 1]
        adjacency = np.zeros((hi - lo, hi - lo), np.uint8)
        e = slice(edge_start[g], edge_start[g + 1])
        adjacency[senders[e] - lo, receivers[e] - lo] = 1
        graphs.append(ArchGraph(adjacency, tuple(vocab[i] for i in nodes[lo:hi])))
    return graphs


def map_dense_chunks(
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], jax.Array],
    adjacency: np.ndarray,
    ops: np.ndarray,
    mask: np.ndarray,
    size: int,
) -> np.ndarray:
    """``fn`` over fixed-size chunks of dense cells, the last one zero-padded: one compiled shape."""
    total = len(ops)
    out = np.empty(total, np.float32)
    for start in range(0, total, size):
        stop = min(start + size, total)
        pad = size - (stop - start)
        chunk = [
            np.concatenate([x[start:stop], np.zeros((pad, *x.shape[1:]), x.dtype)]) for x in (adjacency, ops, mask)
        ]
        out[start:stop] = np.asarray(fn(*chunk))[: stop - start]
    return out
