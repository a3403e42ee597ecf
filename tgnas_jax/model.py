"""The GCN predictor: operator embeddings on DAG nodes in, one score per graph out.

Reads the batch layout of :mod:`tgnas_jax.batching` (``nodes = {"op", "mask"}``, edge weights)
plus the ``(vocab, dim)`` embedding matrix of the batch's operators. Masked-out nodes and
zero-weight edges take no part, so exactly packed batches and fixed-slot template graphs built
inside jit give the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

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


class GraphNorm(nn.Module):
    """GraphNorm (Cai et al. 2021): per-graph normalisation with a learnt mean shift."""

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array, graph_ids: jax.Array, num_graphs: int) -> jax.Array:
        dim = h.shape[-1]
        alpha = self.param("alpha", nn.initializers.ones, (dim,))
        gamma = self.param("scale", nn.initializers.ones, (dim,))
        beta = self.param("bias", nn.initializers.zeros, (dim,))
        centred = h - alpha * segment_mean(h, mask, graph_ids, num_graphs)[graph_ids]
        var = segment_mean(centred**2, mask, graph_ids, num_graphs)[graph_ids]
        return centred * jax.lax.rsqrt(var + 1e-5) * gamma + beta


class GCN(nn.Module):
    """Stacked GCN layers, normalisation, and a whole-cell readout to one score per graph."""

    config: ModelConfig

    def _norm(self, h: jax.Array, mask: jax.Array, graph_ids: jax.Array, num_graphs: int, name: str) -> jax.Array:
        if self.config.norm == "graph":
            return GraphNorm(name=name)(h, mask, graph_ids, num_graphs)
        if self.config.norm == "layer":
            return nn.LayerNorm(name=name)(h)
        return h

    @nn.compact
    def __call__(self, graph: jraph.GraphsTuple, op_table: jax.Array, *, train: bool = False) -> jax.Array:
        cfg = self.config
        mask = graph.nodes["mask"]
        num_nodes = mask.shape[0]
        num_graphs = graph.n_node.shape[0]
        graph_ids = node_graph_ids(graph.n_node, num_nodes)
        # Project the (small) operator table once, then gather: the first layer costs O(vocab), not O(nodes).
        h = nn.Dense(cfg.hidden, name="embed")(op_table)[graph.nodes["op"]] * mask[:, None]
        virtual = jnp.zeros((num_graphs, cfg.hidden), h.dtype)
        for layer in range(cfg.layers):
            dense = nn.Dense(cfg.hidden, name=f"gcn_{layer}")
            h_new = dense(propagate(h, graph, cfg.direction))
            h_new = self._norm(h_new, mask, graph_ids, num_graphs, f"norm_{layer}")
            h_new = nn.Dropout(cfg.dropout, deterministic=not train)(nn.relu(h_new))
            if cfg.readout == "global":
                # The virtual node hears every real node (never speaks back), through the same weights.
                pooled = segment_mean(h, mask, graph_ids, num_graphs)
                virtual = nn.relu(nn.LayerNorm(name=f"virtual_norm_{layer}")(dense(0.5 * (pooled + virtual))))
            h = h + h_new * mask[:, None]
        readout = virtual if cfg.readout == "global" else segment_mean(h, mask, graph_ids, num_graphs)
        hidden = nn.relu(nn.Dense(cfg.hidden, name="head_hidden")(readout))
        return nn.Dense(1, name="head_out")(hidden)[:, 0]
