"""How large an evolutionary search may be, and roughly what a larger one would cost.

Checked by :func:`tgnas_jax.search.search` and the CLI alike, so a typo in a size fails at once
with an estimate rather than after minutes of allocation.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Upper bounds of the evolutionary searches, far above what a search needs (defaults: 64 x 60).
MAX_POPULATION = 16_384
MAX_GENERATIONS = 100_000
MAX_QUERIES = 100_000_000
#: Memory of one population member while a generation is scored with the shipped predictor (XLA's
#: memory analysis of the compiled searches, evolve's being the largest), and of one generation
#: (its key and best score, kept by the scan).
_BYTES_PER_MEMBER = {"nb201": 70e3, "nb101": 70e3, "darts": 230e3}
_BYTES_PER_GENERATION = 16
#: Predictor queries per second of a warm NB201 search on 2 CPU cores (README: 4,059 in 0.10 s).
_QUERIES_PER_SECOND = 40_000
_BYTE_UNITS = (("B", 1), ("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15), ("EB", 1e18))
_TIME_UNITS = (("s", 1), ("min", 60), ("h", 3600), ("days", 86400), ("years", 3.15e7))
_HUGE = 10**30


def _amount(value: float, units: Sequence[tuple[str, float]]) -> str:
    """``value`` in the largest unit it reaches, e.g. ``3.2 GB`` or ``18 days``."""
    name, size = units[0]
    for unit in units:
        if value >= unit[1]:
            name, size = unit
    return f"{value / size:,.3g} {name}"


def search_cost(space: str, population: int, generations: int) -> str:
    """Roughly what an evolutionary search of this size takes: memory, predictor queries and time."""
    beyond = max(population, generations) > _HUGE  # past float range: a lower bound is all that matters
    population, generations = min(population, _HUGE), min(generations, _HUGE)
    queries = population * (generations + 1)
    memory = population * _BYTES_PER_MEMBER.get(space, max(_BYTES_PER_MEMBER.values()))
    memory += generations * _BYTES_PER_GENERATION
    size = _amount(memory, _BYTE_UNITS)
    time = _amount(queries / _QUERIES_PER_SECOND, _TIME_UNITS)
    cost = f"~{size} of memory and {queries:,} predictor queries (~{time} at ~40k queries/s on 2 CPU cores)"
    return f"more than {cost}" if beyond else cost


def check_size(space: str, population: int, generations: int) -> None:
    """``ValueError`` naming the size past its bound and what the search would take."""
    for name, value, most in (
        ("population", population, MAX_POPULATION),
        ("generations", generations, MAX_GENERATIONS),
        ("population x (generations + 1)", population * (generations + 1), MAX_QUERIES),
    ):
        if value > most:
            raise ValueError(
                f"{name} must be at most {most:,}, got {value:,}; that search would need "
                f"{search_cost(space, population, generations)}"
            )
