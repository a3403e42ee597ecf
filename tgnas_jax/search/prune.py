"""Pruning search (paper Algorithm 1, first half): shrink a supernet until one path is left.

The supernet holds every op on every slot, each op its own node in parallel, so the predictor
scores it like any cell (for a size prior, its FLOPs are those of all its ops, its convolutions
those of its rendered cell: ops cut off from the output have no node there). Each round, for
every slot and remaining op ``o``, the supernet is scored without ``o``;
``dP = P(with o) - P(without o)`` and every slot drops its lowest-``dP`` op. All candidates of a
round are rendered and scored in one predictor call, and the rounds run under ``lax.scan``: the
whole search is one XLA call.

``none`` (pruned encoding) carries no data, so it has no node and ``dP(none) = 0``: it is
dropped once every other op on its edge helps, and survives only if its rival hurts the score.
DARTS prunes its seven real ops and then, as DARTS derives, keeps the two strongest incoming
edges per node (strength = ``dP`` of the whole edge), so its genotype is always valid. NB101
prunes the op of each vertex over the full 21-edge DAG, then drops its weakest edge while the
cell has more than 9 edges or dropping one raises the score.

Under a budget a slot may only drop an op when some architecture of the smaller supernet still
fits (checked slot by slot), which keeps the final single path within budget.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax.search.encoding import DARTS_PAIRS, NB101_EDGES, DartsEncoding, Encoding, NB101Encoding
from tgnas_jax.search.problem import Problem, RunOutput
from tgnas_jax.spaces.darts import INTERMEDIATE
from tgnas_jax.spaces.nb101 import MAX_EDGES


def supernet_scores(problem: Problem, alive: jax.Array, wiring: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """GCN scores and convolution counts of ``B`` supernet cells ``alive[B, S, K]`` (optionally
    rewired, ``wiring[B, N, N]``)."""
    render = jax.vmap(problem.encoding.supernet_cell)
    adjacency, ops, mask = render(alive) if wiring is None else render(alive, wiring)
    return problem.cell_scores(adjacency, ops, mask), problem.conv_counts(ops, mask)


def candidate_deltas(
    problem: Problem, alive: jax.Array, candidates: jax.Array, wirings: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """``dP = P(supernet) - P(candidate)`` of ``candidates[C, M, S, K]`` (each replaces its own cell of
    ``alive[C, S, K]``) and ``P(supernet)``, from one predictor call.

    ``wirings[C, 1 + M, N, N]``, if given, rewires the supernet (index 0) and each candidate. A
    candidate that disconnects the output costs everything: ``dP = +inf``.
    """
    cells, count, slots, width = candidates.shape
    stacked = jnp.concatenate([alive[:, None], candidates], axis=1).reshape(-1, slots, width)
    flat_wiring = None if wirings is None else wirings.reshape(-1, *wirings.shape[2:])
    gcn, convs = (x.reshape(cells, 1 + count) for x in supernet_scores(problem, stacked, flat_wiring))
    base, without = gcn[:, 0], gcn[:, 1:]
    # An architecture's GCN score is the weighted mean over its cells, its convolutions the sum; a
    # candidate changes only its own cell.
    weights = problem.cell_weights(cells)[:, None]
    supernet_gcn = (base * weights[:, 0]).sum()
    candidate_gcn = (supernet_gcn - weights * base[:, None]) + weights * without  # exact for one cell type
    candidate_convs = convs[:, 0].sum() - convs[:, :1] + convs[:, 1:]
    terms = jnp.asarray(problem.encoding.supernet_prior_terms()) if problem.prior is not None else None
    flops = (lambda: problem.encoding.prior_table[0] + (alive * terms).sum()) if terms is not None else None
    supernet = problem.arch_score(supernet_gcn, flops, convs[:, 0].sum())

    def candidate_flops() -> jax.Array:
        own = (alive * terms).sum(axis=(1, 2))[:, None]
        return flops() - own + (candidates * terms[:, None]).sum(axis=(2, 3))

    delta = supernet - problem.arch_score(candidate_gcn, candidate_flops, candidate_convs)
    return jnp.where(without == -jnp.inf, jnp.inf, delta), supernet


def removal_deltas(problem: Problem, alive: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``[C, S, K]`` dP of every remaining op (``+inf`` where pruned) and the supernet's score."""
    cells, slots, width = alive.shape
    drop = ~jnp.eye(slots * width, dtype=bool).reshape(slots * width, slots, width)
    delta, supernet = candidate_deltas(problem, alive, alive[:, None] & drop[None])
    return jnp.where(alive, delta.reshape(alive.shape), jnp.inf), supernet


def weakest(delta: jax.Array, allowed: jax.Array) -> jax.Array:
    """The allowed op of lowest dP; if every allowed one costs everything (``+inf``), the first allowed."""
    key = jnp.where(allowed, delta, jnp.inf)
    return jnp.where(key.min() < jnp.inf, key.argmin(), allowed.argmax())


def drop_weakest(problem: Problem, alive: jax.Array, delta: jax.Array) -> jax.Array:
    """Every slot drops its lowest-dP op; under a budget, the lowest whose removal still lets some architecture fit."""
    cells, slots, width = alive.shape
    # A slot that started with fewer ops than others (declarative spaces) keeps its last one.
    several = alive.sum(axis=-1, keepdims=True) > 1
    if not problem.budgeted:
        drops = jax.vmap(weakest)(delta.reshape(-1, width), alive.reshape(-1, width))
        return alive & ~(jax.nn.one_hot(drops, width, dtype=bool).reshape(alive.shape) & several)

    def one_slot(alive: jax.Array, slot: jax.Array) -> tuple[jax.Array, None]:
        c, s = slot // slots, slot % slots
        removals = jax.nn.one_hot(slot * width + jnp.arange(width), alive.size, dtype=bool)
        fits = jax.vmap(problem.feasible_supernet)(alive[None] & ~removals.reshape(width, *alive.shape))
        # Dropping an op that is not its slot's cheapest never raises the least size, so some op always fits.
        drop = weakest(delta[c, s], fits & alive[c, s])
        return alive.at[c, s, drop].set(alive[c, s, drop] & ~several[c, s, 0]), None

    return jax.lax.scan(one_slot, alive, jnp.arange(cells * slots))[0]


def prune(problem: Problem) -> RunOutput:
    """Prune the supernet to a single path and derive the architecture; traceable (jit it with the scorer).

    One round more than pruning needs scores the single-path supernet and what dropping each of its
    ops costs (DARTS's edge strengths), so the rounds' predictor call serves the finish too: compile
    time grows with every call site. ``history`` is the supernet's predicted score at each round.
    """
    alive0 = problem.encoding.initial_alive()
    rounds = _rounds(alive0)

    def one_round(alive: jax.Array, index: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        delta, supernet = removal_deltas(problem, alive)
        return jnp.where(index < rounds, drop_weakest(problem, alive, delta), alive), (supernet, delta)

    alive, (history, deltas) = jax.lax.scan(one_round, jnp.asarray(alive0), jnp.arange(rounds + 1))
    choices, score, more = _finisher(problem.encoding).derive(problem, alive, deltas[-1], history[-1])
    return RunOutput(choices, score, jnp.concatenate([history, more]))


def prune_evaluations(encoding: Encoding[Any]) -> int:
    """Architectures and supernets :func:`prune` scores."""
    alive0 = encoding.initial_alive()
    cells, slots, width = alive0.shape
    return (_rounds(alive0) + 1) * cells * (1 + slots * width) + _finisher(encoding).evaluations


def _rounds(alive: np.ndarray) -> int:
    """Every slot starts full and loses one op a round, down to one."""
    return int(alive.sum(axis=-1).max()) - 1


#: What a finish returns: the choices, their score, and any further supernet scores for the history.
_Finish = tuple[jax.Array, jax.Array, jax.Array]


def _single_path(problem: Problem, alive: jax.Array, delta: jax.Array, score: jax.Array) -> _Finish:
    """One op per slot is the architecture itself (NB201: the choices are the slots' ops)."""
    del delta
    return problem.encoding.path_choices(alive.argmax(axis=-1)), score, jnp.zeros(0)


def _darts_edges(problem: Problem, alive: jax.Array, delta: jax.Array, score: jax.Array) -> _Finish:
    """Keep the two strongest edges into each node (the best pair that still lets the budget be met).

    An edge's strength is the dP of its one remaining op: the last round's delta.
    """
    del score
    encoding = problem.encoding
    assert isinstance(encoding, DartsEncoding)
    cells, slots, _ = alive.shape
    strength = delta.min(axis=-1)  # [C, S]: pruned ops are +inf
    ops = alive.argmax(axis=-1)  # [C, S], index into supernet_ops
    genes = []
    for c, (i, node) in itertools.product(range(cells), enumerate(INTERMEDIATE)):
        pairs = encoding.pair_slots[i, : len(DARTS_PAIRS[node])]  # [P, 2]
        keep = np.zeros((len(pairs), slots), bool)
        keep[np.arange(len(pairs))[:, None], pairs] = True
        node_slots = np.unique(pairs)
        trials = jnp.broadcast_to(alive, (len(pairs), *alive.shape))
        trials = trials.at[:, c, node_slots].set(trials[:, c, node_slots] & keep[:, node_slots, None])
        fits = jax.vmap(problem.feasible_supernet)(trials)
        pair = jnp.where(fits, strength[c, pairs].sum(axis=-1), -jnp.inf).argmax()
        alive = trials[pair]
        genes.extend([pair, *ops[c, jnp.asarray(pairs)[pair]]])
    choices = jnp.stack(genes).astype(jnp.int32)
    return choices, problem.scores(choices[None])[0], jnp.zeros(0)


def _nb101_edges(problem: Problem, alive: jax.Array, delta: jax.Array, score: jax.Array) -> _Finish:
    """Drop the weakest edge while the cell has more than 9 edges or dropping it raises the score.

    As with ops, a last round without drops scores the final cell itself.
    """
    del delta, score
    template = problem.encoding.template
    senders, receivers = np.array(NB101_EDGES).T
    removals = 1 - jax.nn.one_hot(senders * len(template.wiring) + receivers, template.wiring.size)
    removals = removals.reshape(len(NB101_EDGES), *template.wiring.shape)

    def one_round(wiring: jax.Array, index: jax.Array) -> tuple[jax.Array, jax.Array]:
        trials = wiring[None] * removals
        candidates = jnp.broadcast_to(alive[:, None], (1, len(NB101_EDGES), *alive.shape[1:]))
        delta, cell = candidate_deltas(problem, alive, candidates, jnp.concatenate([wiring[None], trials])[None])
        delta = jnp.where(wiring[senders, receivers] > 0, delta[0], jnp.inf)
        adjacency, _, mask = problem.encoding.supernet_cell(alive[0], wiring)
        edges = (adjacency * mask[:, None] * mask[None, :]).sum()
        edge = delta.argmin()
        drop = (index < len(NB101_EDGES) - 1) & ((edges > MAX_EDGES) | (delta[edge] < 0))
        return jnp.where(drop, trials[edge], wiring), cell

    wiring, history = jax.lax.scan(one_round, jnp.asarray(template.wiring), jnp.arange(len(NB101_EDGES)))
    choices = jnp.concatenate([wiring[senders, receivers], alive[0].argmax(axis=-1)]).astype(jnp.int32)
    return choices, history[-1], history


class _Finisher(NamedTuple):
    """How a one-op-per-slot supernet becomes an architecture, and how many more scores that takes."""

    derive: Callable[[Problem, jax.Array, jax.Array, jax.Array], _Finish]
    evaluations: int


def _finisher(encoding: Encoding[Any]) -> _Finisher:
    if isinstance(encoding, DartsEncoding):
        return _Finisher(_darts_edges, 1)
    if isinstance(encoding, NB101Encoding):
        return _Finisher(_nb101_edges, len(NB101_EDGES) * (1 + len(NB101_EDGES)))
    return _Finisher(_single_path, 0)
