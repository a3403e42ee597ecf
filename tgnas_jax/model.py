"""The GCN predictor: operator embeddings on DAG nodes in, one score per graph out.

Reads either batch layout of :mod:`tgnas_jax.batching` plus the ``(vocab, width)`` feature
matrix of the batch's operators: a packed ``jraph.GraphsTuple`` (``nodes = {"op", "mask"}``,
edge weights; any graph sizes) or :class:`~tgnas_jax.batching.DenseCells` (``B`` cells of ``n``
node slots: propagation is a sum over sender slots, no gathers or scatters). Both give the same scores
from the same parameters; masked-out nodes and zero-weight edges take no part.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from tgnas_jax.batching import DenseCells

Direction = Literal["forward", "both"]
Readout = Literal["global", "mean"]
Norm = Literal["graph", "layer", "none"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the predictor (kept with every checkpoint).

    The defaults are the shipped predictor's, chosen on NB101 only (operator-transfer hold-out;
    ``benchmarks/results/grid_design*.md``); width 64 rather than 128 keeps whole-space scoring
    under a second on two CPU cores.
    """

    hidden: int = 64
    layers: int = 4
    #: "forward" propagates along data flow only (D_r^-1/2 (A^T + I) D_c^-1/2); "both" symmetrises.
    direction: Direction = "forward"
    #: "global": a virtual node fed by every node, read out at the end; "mean": masked mean pooling.
    readout: Readout = "mean"
    norm: Norm = "graph"
    dropout: float = 0.0


def node_graph_ids(n_node: jax.Array, num_nodes: int) -> jax.Array:
    """Graph index of every node of a batch (static total length, so jittable)."""
    return jnp.repeat(jnp.arange(n_node.shape[0]), n_node, total_repeat_length=num_nodes)


def segment_mean(x: jax.Array, weight: jax.Array, segments: jax.Array, num_segments: int) -> jax.Array:
    """Weighted per-graph mean of node rows; empty graphs give 0."""
    total = jax.ops.segment_sum(x * weight[:, None], segments, num_segments)
    count = jax.ops.segment_sum(weight, segments, num_segments)
    return total / jnp.maximum(count, 1.0)[:, None]


def _inverse_sqrt(degree: jax.Array) -> jax.Array:
    """``degree ** -0.5``, and 0 where the degree is 0 (masked-out nodes)."""
    return jnp.where(degree > 0, jax.lax.rsqrt(jnp.maximum(degree, 1e-12)), 0.0)


def propagate(h: jax.Array, graph: jraph.GraphsTuple, direction: Direction) -> jax.Array:
    """Normalised GCN aggregation (paper eq. 2) with self loops on the real nodes."""
    mask = graph.nodes["mask"]
    senders, receivers, weight = graph.senders, graph.receivers, graph.edges
    if direction == "both":
        senders, receivers = jnp.concatenate([senders, receivers]), jnp.concatenate([receivers, senders])
        weight = jnp.concatenate([weight, weight])
    num_nodes = h.shape[0]
    inv_in = _inverse_sqrt(jax.ops.segment_sum(weight, receivers, num_nodes) + mask)
    inv_out = _inverse_sqrt(jax.ops.segment_sum(weight, senders, num_nodes) + mask)
    coef = weight * inv_out[senders] * inv_in[receivers]
    messages = jax.ops.segment_sum(h[senders] * coef[:, None], receivers, num_nodes)
    return messages + h * (mask * inv_in * inv_out)[:, None]


def propagate_dense(h: jax.Array, cells: DenseCells, direction: Direction) -> jax.Array:
    """:func:`propagate` on dense cells: ``h[B, n, H]``, ``adjacency[b, sender, receiver]`` (float)."""
    mask = cells.mask
    weight = cells.adjacency * mask[:, :, None] * mask[:, None, :]
    if direction == "both":
        weight = weight + jnp.swapaxes(weight, 1, 2)
    inv_in = _inverse_sqrt(weight.sum(axis=1) + mask)
    inv_out = _inverse_sqrt(weight.sum(axis=2) + mask)
    coef = weight * inv_out[:, :, None] * inv_in[:, None, :]
    # A broadcast product summed over senders: XLA fuses it into one loop, never materialising
    # [B, n, n, H]. On CPU an einsum would be a batched matmul of B tiny (n x n) @ (n x H) products,
    # 2x slower; a Python loop over sender slots runs as fast but traces to 8 ops per slot.
    messages = (coef[:, :, :, None] * h[:, :, None, :]).sum(axis=1)
    return messages + h * (mask * inv_in * inv_out)[:, :, None]


class _Layout(abc.ABC):
    """What the GCN needs of a batch: node ops and mask, propagation, per-graph means, output feeding."""

    ops: jax.Array
    mask: jax.Array
    num_graphs: int

    @abc.abstractmethod
    def propagate(self, h: jax.Array, direction: Direction) -> jax.Array: ...

    @abc.abstractmethod
    def mean(self, h: jax.Array) -> jax.Array:
        """Per-graph mean of node rows, weighted by the node mask: ``[graphs, H]``."""

    @abc.abstractmethod
    def per_node(self, pooled: jax.Array) -> jax.Array:
        """Per-graph rows back on every node of their graph."""

    @abc.abstractmethod
    def output_fed(self, output_id: jax.Array) -> jax.Array:
        """Per graph, whether some edge carries data into its output node."""


class _Packed(_Layout):
    def __init__(self, graph: jraph.GraphsTuple) -> None:
        self.graph = graph
        self.ops, self.mask = graph.nodes["op"], graph.nodes["mask"]
        self.num_graphs = graph.n_node.shape[0]
        self.graph_ids = node_graph_ids(graph.n_node, self.mask.shape[0])

    def propagate(self, h: jax.Array, direction: Direction) -> jax.Array:
        return propagate(h, self.graph, direction)

    def mean(self, h: jax.Array) -> jax.Array:
        return segment_mean(h, self.mask, self.graph_ids, self.num_graphs)

    def per_node(self, pooled: jax.Array) -> jax.Array:
        return pooled[self.graph_ids]

    def output_fed(self, output_id: jax.Array) -> jax.Array:
        graph = self.graph
        into_output = graph.edges * ((self.ops == output_id) & (self.mask > 0))[graph.receivers]
        return jax.ops.segment_sum(into_output, self.graph_ids[graph.receivers], self.num_graphs) > 0


class _Dense(_Layout):
    def __init__(self, cells: DenseCells) -> None:
        # Adjacency and mask as float32 weights, whatever they were given as (uint8, bool).
        self.cells = cells._replace(adjacency=cells.adjacency.astype(jnp.float32), mask=cells.mask.astype(jnp.float32))
        self.ops, self.mask = jnp.maximum(cells.ops, 0), self.cells.mask
        self.num_graphs = cells.ops.shape[0]

    def propagate(self, h: jax.Array, direction: Direction) -> jax.Array:
        return propagate_dense(h, self.cells, direction)

    def mean(self, h: jax.Array) -> jax.Array:
        total = (h * self.mask[:, :, None]).sum(axis=1)
        return total / jnp.maximum(self.mask.sum(axis=1), 1.0)[:, None]

    def per_node(self, pooled: jax.Array) -> jax.Array:
        return pooled[:, None, :]

    def output_fed(self, output_id: jax.Array) -> jax.Array:
        is_output = (self.cells.ops == output_id) & (self.mask > 0)
        into_output = self.cells.adjacency * self.mask[:, :, None] * is_output[:, None, :]
        return into_output.sum(axis=(1, 2)) > 0


def _layout(batch: jraph.GraphsTuple | DenseCells) -> _Layout:
    return _Dense(batch) if isinstance(batch, DenseCells) else _Packed(batch)


def output_fed(batch: jraph.GraphsTuple | DenseCells, output_id: jax.Array) -> jax.Array:
    """Per graph, whether some edge carries data into its output node (if not, the cell is broken)."""
    return _layout(batch).output_fed(output_id)


class GraphNorm(nn.Module):
    """GraphNorm (Cai et al. 2021): per-graph normalisation with a learnt mean shift."""

    @nn.compact
    def __call__(self, h: jax.Array, layout: _Layout) -> jax.Array:
        dim = h.shape[-1]
        alpha = self.param("alpha", nn.initializers.ones, (dim,))
        gamma = self.param("scale", nn.initializers.ones, (dim,))
        beta = self.param("bias", nn.initializers.zeros, (dim,))
        centred = h - alpha * layout.per_node(layout.mean(h))
        var = layout.per_node(layout.mean(centred**2))
        return centred * jax.lax.rsqrt(var + 1e-5) * gamma + beta


class GCN(nn.Module):
    """Stacked GCN layers, normalisation, and a whole-cell readout to one score per graph."""

    config: ModelConfig

    def _norm(self, h: jax.Array, layout: _Layout, name: str) -> jax.Array:
        if self.config.norm == "graph":
            return GraphNorm(name=name)(h, layout)
        if self.config.norm == "layer":
            return nn.LayerNorm(name=name)(h)
        return h

    @nn.compact
    def __call__(self, graph: jraph.GraphsTuple | DenseCells, op_table: jax.Array, *, train: bool = False) -> jax.Array:
        cfg = self.config
        layout = _layout(graph)
        mask = layout.mask[..., None]
        # Project the (small) operator table once, then gather: the first layer costs O(vocab), not O(nodes).
        h = nn.Dense(cfg.hidden, name="embed")(op_table)[layout.ops] * mask
        virtual = jnp.zeros((layout.num_graphs, cfg.hidden), h.dtype)
        for layer in range(cfg.layers):
            dense = nn.Dense(cfg.hidden, name=f"gcn_{layer}")
            h_new = dense(layout.propagate(h, cfg.direction))
            h_new = self._norm(h_new, layout, f"norm_{layer}")
            h_new = nn.Dropout(cfg.dropout, deterministic=not train)(nn.relu(h_new))
            if cfg.readout == "global":
                # The virtual node hears every real node (never speaks back), through the same weights.
                pooled = layout.mean(h)
                virtual = nn.relu(nn.LayerNorm(name=f"virtual_norm_{layer}")(dense(0.5 * (pooled + virtual))))
            h = h + h_new * mask
        readout = virtual if cfg.readout == "global" else layout.mean(h)
        hidden = nn.relu(nn.Dense(cfg.hidden, name="head_hidden")(readout))
        return nn.Dense(1, name="head_out")(hidden)[:, 0]
