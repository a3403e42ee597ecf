"""A search problem: an encoding, the predictor's jitted scorer, and an optional size budget.

Everything here runs inside the caller's jit: choices in, rendered cells, one predictor call,
scores out. Sizes are exact int32 sums (FLOP counts exceed float32's integer range).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import struct

from tgnas_jax import compilation, parallel
from tgnas_jax.batching import DenseCells
from tgnas_jax.cachefiles import own_code
from tgnas_jax.predictor import Predictor
from tgnas_jax.prior import CostBlend, convolution_flags
from tgnas_jax.search.cells import cell_batch
from tgnas_jax.search.encoding import METRICS, Encoding
from tgnas_jax.spaces.base import cell_weights

#: Objective of an over-budget candidate, less its relative excess: below every real score, above broken cells.
OVER_BUDGET = -1e4
_EXCESS_WEIGHT = 1e3
#: Rendered cells of up to this many nodes are scored dense, wider ones packed: a wide cell's n x n
#: adjacency is mostly empty, and dense propagation costs n^2 per cell where packed costs its edges.
DENSE_NODES = 32
_NO_LIMIT = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Limits:
    """Upper bounds on the size of the searched network, in the space's own counts (``None``: no bound)."""

    max_params: float | None = None
    max_flops: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_params", "max_flops"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not np.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    @property
    def active(self) -> bool:
        return self.max_params is not None or self.max_flops is not None

    def array(self) -> np.ndarray:
        """``[len(METRICS)]`` int32 bounds; a size is an integer, so ``size <= floor(bound)`` is exact."""
        bounds = (self.max_params, self.max_flops)
        return np.array([_NO_LIMIT if b is None else min(int(b), _NO_LIMIT) for b in bounds], np.int32)


def check_limits(encoding: Encoding[Any], limits: Limits) -> None:
    """``ValueError`` naming the bound and the smallest achievable size when no architecture fits."""
    if not limits.active:
        return
    alive = jnp.asarray(encoding.initial_alive())
    bounds = limits.array()
    network = f" on the {encoding.space.network}" if encoding.space.network else ""
    for m, (metric, table) in enumerate(zip(METRICS, encoding.supernet_tables(), strict=True)):
        smallest = int(encoding.constants()[m]) + int(encoding.min_cost(alive, jnp.asarray(table, jnp.int32)))
        if smallest > bounds[m]:
            raise ValueError(
                f"max_{metric}={bounds[m]:,} is below every {encoding.space.name} architecture: "
                f"the smallest achievable is {smallest:,}{network}"
            )
    cheapest = np.asarray(encoding.cost(jnp.asarray(encoding.cheapest())))
    if (cheapest > bounds).any():
        raise ValueError(
            f"no {encoding.space.name} architecture meets max_params and max_flops together: the "
            f"smallest has {cheapest[0]:,} parameters and {cheapest[1]:,} FLOPs{network}"
        )


@struct.dataclass
class RunOutput:
    """What one jitted search returns: the best choices, their predicted score, best-so-far per step."""

    choices: jax.Array
    score: jax.Array
    history: jax.Array


@dataclass(frozen=True, eq=False)
class Scorer:
    """The predictor as a pure function of its weights, and those weights.

    A search's jit takes ``weights`` as an argument (``Predictor.scoring_fn``): closed over, they
    would be baked into the compiled program as constants, which for a 3-member ensemble doubles
    XLA's compile time and keys the compilation cache on every weight.
    ``weights`` also carries the predictor's model-size prior for the space (``None``: no prior).
    """

    fn: Callable[[Any, jraph.GraphsTuple | DenseCells], jax.Array]
    weights: tuple[Any, ...]

    @classmethod
    def of(
        cls,
        predictor: Predictor,
        encoding: Encoding[Any],
        describe: Mapping[str, str] | None = None,
        prior: bool = True,
    ) -> Scorer:
        """``describe``: operator sentences of the caller's own, as ``Predictor.score`` takes them;
        ``prior=False``: the GCN alone, as ``Predictor.score(..., prior=False)``."""
        blend = predictor.cost_blend(encoding.space, describe=describe) if prior else None
        score, weights = predictor.scoring_fn(encoding.vocab, describe)
        return cls(lambda w, graph: score(w[:-1], graph), (*weights, _blend_array(blend)))


def program_jit(
    fn: Callable[..., Any], args: tuple[Any, ...], encoding: Encoding[Any], predictor: Predictor, *sizes: Any
) -> Any:
    """``fn``, a program over ``encoding`` with ``predictor``'s GCN, jitted for arguments shaped as ``args``,
    its lowered program kept between processes (:func:`compilation.stored_jit`; ``sizes``: the loop
    lengths and settings it was built with), unless the space, its encoding or the predictor is of
    the caller's own code, which no key can stamp."""
    space = encoding.space
    if not own_code(space, encoding, predictor):
        return compilation.jit(fn)
    # What the trace reads beyond its arguments: the space's tables (from its settings, by the
    # package's code), the GCN's layers, and the batch shapes the device's chunking gives.
    settings = (type(space).__module__, type(space).__qualname__, tuple(sorted(vars(space).items())))
    model = (predictor.model_config, predictor.embedding, encoding.vocab)
    chunking = (parallel.NODES_PER_CALL, parallel.ACCELERATOR_NODES_PER_CALL, parallel.CHUNKS_PER_CALL, DENSE_NODES)
    return compilation.stored_jit(fn, args, settings, model, chunking, *sizes)


def _blend_array(blend: CostBlend | None) -> jax.Array | None:
    return None if blend is None else jnp.asarray([getattr(blend, f.name) for f in fields(CostBlend)], jnp.float32)


@dataclass(frozen=True, eq=False)
class Problem:
    """Scores and budget-penalised objectives of candidate architectures, all jittable.

    Built inside a search's jit by :meth:`bind`, from the traced predictor weights. A score is
    what ``Predictor.score(archs, space)`` gives: the GCN's mean over the network's cells, blended with
    the model-size prior when the predictor has one.
    """

    encoding: Encoding[Any]
    scorer: Callable[[jraph.GraphsTuple | DenseCells], jax.Array]
    prior: CostBlend | None
    #: ``[vocab]`` 1 for each convolution: rendered cells' op ids index it (the prior's convolution count).
    conv_flags: jax.Array
    #: ``Limits.array()``, traced (one compiled search serves every budget), or ``None``: no budget.
    bounds: jax.Array | None

    @classmethod
    def bind(
        cls, encoding: Encoding[Any], scorer: Scorer, weights: tuple[Any, ...], bounds: jax.Array | None
    ) -> Problem:
        prior = None if weights[3] is None else CostBlend(*weights[3])
        conv_flags = jnp.asarray(convolution_flags(encoding.vocab))
        return cls(encoding, functools.partial(scorer.fn, weights), prior, conv_flags, bounds)

    @property
    def budgeted(self) -> bool:
        return self.bounds is not None

    def arch_score(self, gcn: jax.Array, flops: Callable[[], jax.Array], convs: jax.Array) -> jax.Array:
        """The predictor's score from the GCN's (cell-mean) score and, when there is a prior, the
        FLOPs (asked for only then: some spaces count none) and the convolution count."""
        return gcn if self.prior is None else self.prior.apply(gcn, jnp.log(flops().astype(jnp.float32)), convs)

    def conv_counts(self, ops: jax.Array, mask: jax.Array) -> jax.Array:
        """Convolution nodes of rendered cells ``ops[..., n]`` / ``mask[..., n]``: ``[...]``."""
        return (self.conv_flags[ops] * mask).sum(axis=-1)

    def cell_weights(self, cells: int) -> jax.Array:
        """``[cells]`` weights of an architecture's cell types in its GCN score (``spaces.base.cell_weights``)."""
        return jnp.asarray(cell_weights(self.encoding.space.cell_counts, cells), jnp.float32)

    def cell_scores(self, adjacency: jax.Array, ops: jax.Array, mask: jax.Array) -> jax.Array:
        """Scores of ``B`` rendered cells of one template (any slot width), spread over the local devices.

        Cells of up to :data:`DENSE_NODES` nodes go to the GCN as they are (dense: NB201's and
        NB101's supernets too); wider ones (DARTS supernets, 101 nodes) packed, with edge slots for
        the template's possible edges only.
        """
        if ops.shape[-1] <= DENSE_NODES:

            def score(a: jax.Array, o: jax.Array, m: jax.Array) -> jax.Array:
                return self.scorer(DenseCells(a, o, m))

            return parallel.over_devices(score, adjacency, ops, mask, nodes_per_row=ops.shape[-1])
        template = self.encoding.template
        width = (ops.shape[-1] - template.num_inputs - 1) // template.num_slots
        structure = template.structure(width)
        return parallel.over_devices(lambda a, o, m: self.scorer(cell_batch(a, o, m, structure)), adjacency, ops, mask)

    def terms(self, choices: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The size prior's terms of ``choices[B, genes]``, each ``[B]``: the GCN's score (the mean over
        the network's cells, ``SearchSpace.cell_counts``; ``-inf`` if invalid), the FLOPs (0 where the
        encoding counts none) and the convolution count."""
        adjacency, ops, mask = jax.vmap(self.encoding.cells)(choices)
        batch, cells, n = ops.shape
        scores = self.cell_scores(adjacency.reshape(-1, n, n), ops.reshape(-1, n), mask.reshape(-1, n))
        valid = jax.vmap(self.encoding.valid)(choices, mask, adjacency)
        # A weighted sum, not a matmul: accelerators would round a float32 matmul to TF32.
        gcn = jnp.where(valid, (scores.reshape(batch, cells) * self.cell_weights(cells)).sum(axis=1), -jnp.inf)
        counted = self.encoding.prior_table is not None
        flops = jax.vmap(self.encoding.prior_flops)(choices) if counted else jnp.zeros(batch, jnp.int32)
        return gcn, flops, self.conv_counts(ops, mask).sum(axis=1)

    def scores(self, choices: jax.Array) -> jax.Array:
        """``[B]`` predicted scores of ``choices[B, genes]``: the GCN's blended with the size prior."""
        gcn, flops, convs = self.terms(choices)
        return self.arch_score(gcn, lambda: flops, convs)

    def objective(self, choices: jax.Array) -> jax.Array:
        """The score, or for an over-budget candidate :data:`OVER_BUDGET` less its relative excess.

        Within budget the objective *is* the score, so an evolutionary search whose best candidate
        fits (all do: each starts with the cheapest architecture) reports its best objective as its score.
        """
        scores = self.scores(choices)
        if self.bounds is None:
            return scores
        cost = jax.vmap(self.encoding.cost)(choices)
        excess = (jnp.maximum(cost - self.bounds, 0) / self.bounds).sum(axis=-1)
        fits = (cost <= self.bounds).all(axis=-1)
        return jnp.where(fits | (scores == -jnp.inf), scores, OVER_BUDGET - _EXCESS_WEIGHT * excess)

    def feasible_supernet(self, alive: jax.Array) -> jax.Array:
        """Whether some architecture derivable from supernet ``alive[C, S, K]`` fits the budget."""
        if self.bounds is None:
            return jnp.asarray(True)
        tables = jnp.asarray(self.encoding.supernet_tables(), jnp.int32)
        least = jnp.stack([self.encoding.min_cost(alive, table) for table in tables])
        return (least + jnp.asarray(self.encoding.constants(), jnp.int32) <= self.bounds).all()

    def seed(self) -> np.ndarray | None:
        """Choices evolution starts from under a budget: the cheapest architecture, so the best always fits."""
        return None if self.bounds is None else self.encoding.cheapest()
