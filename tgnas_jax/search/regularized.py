"""Discrete baselines: regularised (aging) evolution (Real et al., 2019) and random search.

Both work on choices directly, not genes. Regularised evolution keeps its population as a
queue: each step draws tournaments, mutates each winner in one choice, scores the children in
one batched predictor call, and the children replace the oldest members. Steps run under
``lax.scan`` and, as in :mod:`tgnas_jax.search.evolve`, the predictor is called from one place.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from tgnas_jax.search.encoding import Encoding
from tgnas_jax.search.problem import Problem, RunOutput

#: The oldest ``1 / CHILDREN_FRACTION`` of the population is replaced each step.
CHILDREN_FRACTION = 4
#: Tournaments draw ``1 / TOURNAMENT_FRACTION`` of the population (Real et al.: 25 of 100).
TOURNAMENT_FRACTION = 4


def random_choices(problem: Problem, key: jax.Array, count: int, seeded: jax.Array) -> jax.Array:
    """``[count, genes]`` uniform choices; if ``seeded`` and under a budget, the first is the cheapest architecture."""
    encoding = problem.encoding
    choices = jax.vmap(encoding.decode)(jax.random.uniform(key, (count, encoding.num_genes)))
    seed = problem.seed()
    return choices if seed is None else choices.at[0].set(jnp.where(seeded, jnp.asarray(seed), choices[0]))


def mutate(encoding: Encoding[Any], key: jax.Array, choices: jax.Array) -> jax.Array:
    """Change one choice (never a fixed one) to a different value, uniformly; one architecture."""
    cardinality = jnp.asarray(encoding.cardinality)
    mutable = cardinality > 1
    key_gene, key_shift = jax.random.split(key)
    gene = jax.random.choice(key_gene, len(encoding.cardinality), p=mutable / mutable.sum())
    shift = jax.random.randint(key_shift, (), 1, jnp.maximum(cardinality[gene], 2))
    return choices.at[gene].set((choices[gene] + shift) % cardinality[gene])


def _children(population: int) -> int:
    return max(1, population // CHILDREN_FRACTION)


def _steps(population: int, generations: int) -> tuple[int, int]:
    """Steps that fill the population, then steps whose children match DE's ``population * generations`` trials."""
    children = _children(population)
    return -(-population // children), -(-population * generations // children)


def regularized(problem: Problem, key: jax.Array, population: int, generations: int) -> RunOutput:
    """Aging evolution; traceable. ``history`` is the best objective so far after each step."""
    children, tournament = _children(population), max(2, population // TOURNAMENT_FRACTION)
    filling, breeding = _steps(population, generations)
    width = problem.encoding.num_genes

    def step(carry: tuple[jax.Array, ...], inputs: tuple[jax.Array, jax.Array]) -> tuple[tuple[jax.Array, ...], Any]:
        choices, objective, best_choices, best_objective = carry
        key, index = inputs
        key_draw, key_mutate, key_fresh = jax.random.split(key, 3)
        drawn = jax.random.randint(key_draw, (children, tournament), 0, population)
        winners = jnp.take_along_axis(drawn, objective[drawn].argmax(axis=1)[:, None], axis=1)[:, 0]
        kids = jax.vmap(lambda k, c: mutate(problem.encoding, k, c))(
            jax.random.split(key_mutate, children), choices[winners]
        )
        fresh = random_choices(problem, key_fresh, children, seeded=index == 0)
        kids = jnp.where(index < filling, fresh, kids)
        kid_objective = problem.objective(kids)
        slots = (index * children + jnp.arange(children)) % population
        top = kid_objective.argmax()
        better = kid_objective[top] > best_objective
        best_choices = jnp.where(better, kids[top], best_choices)
        best_objective = jnp.maximum(best_objective, kid_objective[top])
        carry = choices.at[slots].set(kids), objective.at[slots].set(kid_objective), best_choices, best_objective
        return carry, best_objective

    steps = filling + breeding
    carry = (
        jnp.zeros((population, width), jnp.int32),
        jnp.full(population, -jnp.inf),
        jnp.zeros(width, jnp.int32),
        jnp.asarray(-jnp.inf),
    )
    (_, _, best, _), history = jax.lax.scan(step, carry, (jax.random.split(key, steps), jnp.arange(steps)))
    return RunOutput(best, history[-1], history)


def regularized_evaluations(population: int, generations: int) -> int:
    return sum(_steps(population, generations)) * _children(population)


def random_search(problem: Problem, key: jax.Array, evaluations: int, batch: int) -> RunOutput:
    """The best of ``evaluations`` uniform architectures, scored ``batch`` at a time; traceable.

    ``history`` is the best objective so far after each batch.
    """
    width = problem.encoding.num_genes

    def step(carry: tuple[jax.Array, jax.Array], inputs: tuple[jax.Array, jax.Array]) -> tuple[Any, jax.Array]:
        best_choices, best_objective = carry
        key, start = inputs
        choices = random_choices(problem, key, batch, seeded=start == 0)
        # The last batch may overshoot ``evaluations``: its surplus candidates do not count.
        objective = jnp.where(start + jnp.arange(batch) < evaluations, problem.objective(choices), -jnp.inf)
        top = objective.argmax()
        better = objective[top] > best_objective
        carry = jnp.where(better, choices[top], best_choices), jnp.maximum(best_objective, objective[top])
        return carry, carry[1]

    steps = -(-evaluations // batch)
    inputs = jax.random.split(key, steps), jnp.arange(steps) * batch
    (best, _), history = jax.lax.scan(step, (jnp.zeros(width, jnp.int32), jnp.asarray(-jnp.inf)), inputs)
    return RunOutput(best, history[-1], history)
