"""The GCN predictor: operator embeddings on DAG nodes in, one score per graph out.

Reads either batch layout of :mod:`tgnas_jax.batching` plus the ``(vocab, width)`` feature
matrix of the batch's operators: a packed ``jraph.GraphsTuple`` (``nodes = {"op", "mask"}``,
edge weights; any graph sizes) or :class:`~tgnas_jax.batching.DenseCells` (``B`` cells of ``n``
node slots: propagation is one batched matmul, no gathers or scatters). Both give the same scores
from the same parameters; masked-out nodes and zero-weight edges take no part.
"""

from __future__ import annotations

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


def propagate(h: jax.Array, graph: jraph.GraphsTuple, direction: Direction) -> jax.Array:
    """Normalised GCN aggregation (paper eq. 2) with self loops on the real nodes."""
    mask = graph.nodes["mask"]
    senders, receivers, weight = graph.senders, graph.receivers, graph.edges
    if direction == "both":
        senders, receivers = jnp.concatenate([senders, receivers]), jnp.concatenate([receivers, senders])
        weight = jnp.concatenate([weight, weight])
    num_nodes = h.shape[0]
    deg_in = jax.ops.segment_sum(weight, receivers, num_nodes) + mask
    deg_out = jax.ops.segment_sum(weight, senders, num_nodes) + mask
    inv_in = jnp.where(deg_in > 0, jax.lax.rsqrt(jnp.maximum(deg_in, 1e-12)), 0.0)
    inv_out = jnp.where(deg_out > 0, jax.lax.rsqrt(jnp.maximum(deg_out, 1e-12)), 0.0)
    coef = weight * inv_out[senders] * inv_in[receivers]
    messages = jax.ops.segment_sum(h[senders] * coef[:, None], receivers, num_nodes)
    return messages + h * (mask * inv_in * inv_out)[:, None]


def propagate_dense(h: jax.Array, cells: DenseCells, direction: Direction) -> jax.Array:
    """:func:`propagate` on dense cells: ``h[B, n, H]``, ``adjacency[b, sender, receiver]``."""
    mask = cells.mask
    weight = cells.adjacency * mask[:, :, None] * mask[:, None, :]
    if direction == "both":
        weight = weight + jnp.swapaxes(weight, 1, 2)
    deg_in = weight.sum(axis=1) + mask
    deg_out = weight.sum(axis=2) + mask
    inv_in = jnp.where(deg_in > 0, jax.lax.rsqrt(jnp.maximum(deg_in, 1e-12)), 0.0)
    inv_out = jnp.where(deg_out > 0, jax.lax.rsqrt(jnp.maximum(deg_out, 1e-12)), 0.0)
    coef = weight * inv_out[:, :, None] * inv_in[:, None, :]
    return jnp.einsum("bsr,bsh->brh", coef, h) + h * (mask * inv_in * inv_out)[:, :, None]


def _as_float(cells: DenseCells) -> DenseCells:
    """Adjacency and mask as float32 weights, whatever they were given as (uint8, bool)."""
    return cells._replace(adjacency=cells.adjacency.astype(jnp.float32), mask=cells.mask.astype(jnp.float32))


def output_fed(batch: jraph.GraphsTuple | DenseCells, output_id: jax.Array) -> jax.Array:
    """Per graph, whether some edge carries data into its output node (if not, the cell is broken)."""
    if isinstance(batch, DenseCells):
        batch = _as_float(batch)
        is_output = (batch.ops == output_id) & (batch.mask > 0)
        into_output = batch.adjacency * batch.mask[:, :, None] * is_output[:, None, :]
        return into_output.sum(axis=(1, 2)) > 0
    is_output = (batch.nodes["op"] == output_id) & (batch.nodes["mask"] > 0)
    graph_ids = node_graph_ids(batch.n_node, is_output.shape[0])
    into_output = batch.edges * is_output[batch.receivers]
    return jax.ops.segment_sum(into_output, graph_ids[batch.receivers], batch.n_node.shape[0]) > 0


class _Layout:
    """What the GCN needs of a batch, for either layout: node ops and mask, propagation, per-graph means."""

    def __init__(self, batch: jraph.GraphsTuple | DenseCells, direction: Direction) -> None:
        self.batch, self.direction = batch, direction
        self.dense = isinstance(batch, DenseCells)
        if self.dense:
            batch = self.batch = _as_float(batch)
            self.ops, self.mask = jnp.maximum(batch.ops, 0), batch.mask
            self.num_graphs = batch.ops.shape[0]
        else:
            self.ops, self.mask = batch.nodes["op"], batch.nodes["mask"]
            self.num_graphs = batch.n_node.shape[0]
            self.graph_ids = node_graph_ids(batch.n_node, self.mask.shape[0])

    def propagate(self, h: jax.Array) -> jax.Array:
        if self.dense:
            return propagate_dense(h, self.batch, self.direction)
        return propagate(h, self.batch, self.direction)

    def mean(self, h: jax.Array) -> jax.Array:
        """Per-graph mean of node rows, weighted by the node mask: ``[graphs, H]``."""
        if self.dense:
            total = (h * self.mask[:, :, None]).sum(axis=1)
            return total / jnp.maximum(self.mask.sum(axis=1), 1.0)[:, None]
        return segment_mean(h, self.mask, self.graph_ids, self.num_graphs)

    def per_node(self, pooled: jax.Array) -> jax.Array:
        """Per-graph rows back on every node of their graph."""
        return pooled[:, None, :] if self.dense else pooled[self.graph_ids]


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
        layout = _Layout(graph, cfg.direction)
        mask = layout.mask[..., None]
        # Project the (small) operator table once, then gather: the first layer costs O(vocab), not O(nodes).
        h = nn.Dense(cfg.hidden, name="embed")(op_table)[layout.ops] * mask
        virtual = jnp.zeros((layout.num_graphs, cfg.hidden), h.dtype)
        for layer in range(cfg.layers):
            dense = nn.Dense(cfg.hidden, name=f"gcn_{layer}")
            h_new = dense(layout.propagate(h))
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
