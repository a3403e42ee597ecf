"""Pure training pieces: the loss, a jitted ``train_step`` and batched prediction.

The data arrive as dense, pre-padded cells (``adjacency[B, n, n]``, ``ops[B, n]`` indexing an
operator table, ``mask[B, n]``), read by the model as :class:`tgnas_jax.batching.DenseCells`,
so one compiled step serves every batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from tgnas_jax import compilation
from tgnas_jax.batching import DenseCells, map_dense_chunks
from tgnas_jax.model import GCN

Loss = Literal["mse", "pairwise", "mse+pairwise", "mse+top"]


@flax.struct.dataclass
class Cells:
    """A minibatch of dense cells and their (normalised) labels."""

    adjacency: jax.Array
    ops: jax.Array
    mask: jax.Array
    labels: jax.Array


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: Any
    opt_state: Any


def pairwise_loss(scores: jax.Array, labels: jax.Array, top_weight: float = 0.0) -> jax.Array:
    """Logistic loss over every ordered pair of the batch: rewards getting the ranking right.

    ``top_weight`` > 0 weights a pair by ``exp(top_weight * max(label_i, label_j))`` (labels are
    z-scores), so ordering the best cells counts most: that is the part of a ranking a search reads.
    """
    diff = scores[:, None] - scores[None, :]
    sign = jnp.sign(labels[:, None] - labels[None, :])
    weight = jnp.abs(sign) * jnp.exp(top_weight * jnp.maximum(labels[:, None], labels[None, :]))
    return jnp.sum(jax.nn.softplus(-sign * diff) * weight) / jnp.maximum(jnp.sum(weight), 1e-12)


def loss_fn(scores: jax.Array, labels: jax.Array, kind: Loss, top_weight: float = 1.0) -> jax.Array:
    """The training objective; ``top_weight`` is ``pairwise_loss``'s, for ``mse+top``."""
    mse = jnp.mean((scores - labels) ** 2)
    if kind == "mse":
        return mse
    if kind == "pairwise":
        return pairwise_loss(scores, labels)
    if kind == "mse+top":
        return mse + pairwise_loss(scores, labels, top_weight=top_weight)
    return mse + pairwise_loss(scores, labels)


@flax.struct.dataclass
class Teacher:
    """A trained ensemble whose mean score a member learns to copy (distillation)."""

    model: GCN = flax.struct.field(pytree_node=False)
    #: The members' parameters stacked along a leading axis.
    stacked: Any

    def __call__(self, graph: DenseCells, op_table: jax.Array) -> jax.Array:
        scores = jax.vmap(lambda p: self.model.apply({"params": p}, graph, op_table))(self.stacked)
        return jax.lax.stop_gradient(scores.mean(axis=0))


def make_train_step(
    model: GCN,
    optimizer: optax.GradientTransformation,
    loss: Loss,
    feature_noise: float | np.ndarray = 0.0,
    top_weight: float = 1.0,
    distill: float = 0.0,
) -> Callable[[TrainState, Cells, jax.Array, jax.Array, Teacher | None], tuple[TrainState, jax.Array]]:
    """A pure, jitted step: (state, batch, op_table, key, teacher) -> (new state, loss).

    ``feature_noise`` > 0 adds Gaussian noise of that standard deviation (one, or one per feature
    column) to every operator's vector at every step: the few training operators then stand for
    neighbourhoods of the feature space, so operators the predictor never saw land on learnt ground.
    ``distill`` > 0 trains towards ``(1 - distill) * label + distill * teacher score``, the teacher
    reading the same noisy vectors: one network then copies an ensemble's function, including
    where the noise stands in for operators neither saw.
    """
    noisy = bool(np.any(feature_noise))
    scale = jnp.asarray(feature_noise, jnp.float32)

    def step(
        state: TrainState, cells: Cells, op_table: jax.Array, key: jax.Array, teacher: Teacher | None = None
    ) -> tuple[TrainState, jax.Array]:
        graph = DenseCells(cells.adjacency, cells.ops, cells.mask)
        dropout_key, noise_key = jax.random.split(key)
        if noisy:
            op_table = op_table + scale * jax.random.normal(noise_key, op_table.shape, op_table.dtype)
        if distill and teacher is None:
            raise ValueError("distill > 0 needs a teacher")
        targets = cells.labels
        if distill:
            targets = (1 - distill) * targets + distill * teacher(graph, op_table)

        def objective(params: Any) -> jax.Array:
            scores = model.apply({"params": params}, graph, op_table, train=True, rngs={"dropout": dropout_key})
            return loss_fn(scores, targets, loss, top_weight)

        value, grads = jax.value_and_grad(objective)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(step=state.step + 1, params=params, opt_state=opt_state), value

    return compilation.jit(step)


def insert_identity_nodes(
    adjacency: np.ndarray, ops: np.ndarray, mask: np.ndarray, identity_op: int, most: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense cells with up to ``most`` identity nodes spliced into random edges of each (0 ... ``most``
    per cell, uniformly; fewer where a cell has fewer edges or free slots).

    ``u -> v`` becomes ``u -> identity -> v``, the same data flow (in NB101's network, up to how
    the output's concatenation splits channels), so the cell's label is kept.
    Training on such cells teaches the predictor that an identity node is a plain edge, so a
    ``skip_connect`` node (how NB201 and DARTS write a residual) reads as the residual edges NB101
    trains on. Real nodes must fill the first slots of each cell, as :func:`tgnas_jax.train` packs them.
    """
    adjacency, ops, mask = adjacency.copy(), ops.copy(), mask.copy()
    cells, slots = ops.shape
    used = (ops >= 0).sum(axis=1)
    edges = adjacency.reshape(cells, slots * slots) > 0
    # Distinct random edges per cell: the edges sorted first by a random key.
    keys = np.where(edges, rng.random(edges.shape), 2.0)
    chosen = np.argsort(keys, axis=1)[:, :most]
    counts = np.minimum.reduce([rng.integers(0, most + 1, cells), edges.sum(axis=1), slots - used])
    rows = np.arange(cells)
    for i in range(most):
        take = rows[i < counts]
        senders, receivers = np.divmod(chosen[take, i], slots)
        node = used[take] + i
        adjacency[take, senders, receivers] = 0
        adjacency[take, senders, node] = 1
        adjacency[take, node, receivers] = 1
        ops[take, node] = identity_op
        mask[take, node] = 1
    return adjacency, ops, mask


def make_predict(model: GCN) -> Callable[[Any, jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]:
    """Jitted scores of a dense batch (inference mode)."""

    @compilation.jit
    def predict(params: Any, adjacency: jax.Array, ops: jax.Array, mask: jax.Array, op_table: jax.Array) -> jax.Array:
        return model.apply({"params": params}, DenseCells(adjacency, ops, mask), op_table)

    return predict


def predict_all(
    predict: Callable[..., jax.Array],
    params: Any,
    adjacency: np.ndarray,
    ops: np.ndarray,
    mask: np.ndarray,
    op_table: jax.Array,
    batch_size: int = 4096,
) -> np.ndarray:
    """Scores of a whole table, in fixed-size chunks (the last one padded) to compile once."""
    return map_dense_chunks(lambda a, o, m: predict(params, a, o, m, op_table), adjacency, ops, mask, batch_size)
