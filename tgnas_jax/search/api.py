"""``search()``: find a strong architecture of a space with the predictor, in seconds.

Methods: ``prune`` (supernet pruning), ``evolve`` (differential evolution), ``hybrid`` (both, the
better result: paper Algorithm 1's ``Max(M_t, POP_g)``), and the baselines ``regularized``
(aging evolution) and ``random``. Each is one jitted XLA program taking the predictor's weights
as arguments; programs are kept per predictor and setting, so repeated searches skip tracing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax import compilation
from tgnas_jax.embeddings.descriptions import check_overrides
from tgnas_jax.predictor import Predictor
from tgnas_jax.search.encoding import Encoding, encoding_for
from tgnas_jax.search.evolve import evolve, evolve_evaluations
from tgnas_jax.search.limits import check_size
from tgnas_jax.search.problem import Limits, Problem, RunOutput, Scorer, check_limits, program_jit
from tgnas_jax.search.prune import prune, prune_evaluations
from tgnas_jax.search.regularized import random_search, regularized, regularized_evaluations
from tgnas_jax.spaces import SearchSpace, get_space

METHODS = ("hybrid", "prune", "evolve", "regularized", "random")
DEFAULT_POPULATION = 64
DEFAULT_GENERATIONS = 60
#: DE needs a base vector and two difference vectors distinct from the member itself.
MIN_POPULATION = 4
_PROGRAMS_KEPT = 16

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchResult:
    """The architecture a search found and what it cost.

    ``score`` is the predictor's score (as ``Predictor.score(archs, space)`` gives it);
    ``params`` / ``flops`` are ``space.num_params`` / ``space.num_flops`` of ``arch``: the network
    ``space.network`` names (DARTS: its ``setting``; NB201: its dataset's), ``None`` where the space
    defines none; ``evaluations`` counts predictor queries (architectures and supernets). A hybrid
    keeps its two runs in ``parts``.
    """

    space: str
    method: str
    arch: Any
    arch_text: str
    score: float
    params: int | None
    flops: int | None
    seconds: float
    evaluations: int
    history: tuple[float, ...] = ()
    parts: Mapping[str, SearchResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the architecture as its canonical text)."""
        return {
            "space": self.space,
            "method": self.method,
            "arch": self.arch_text,
            "score": self.score,
            "params": self.params,
            "flops": self.flops,
            "seconds": self.seconds,
            "evaluations": self.evaluations,
            "history": list(self.history),
            "parts": {name: part.to_dict() for name, part in self.parts.items()},
        }


def search(
    space: SearchSpace[Any] | str,
    predictor: Predictor,
    method: str = "hybrid",
    key: jax.Array | None = None,
    population: int = DEFAULT_POPULATION,
    generations: int = DEFAULT_GENERATIONS,
    max_params: float | None = None,
    max_flops: float | None = None,
    evaluations: int | None = None,
    progress: Progress | None = None,
    describe: Mapping[str, str] | None = None,
) -> SearchResult:
    """Search ``space`` (an instance or ``"nb201"`` / ``"nb101"`` / ``"darts"``) with ``predictor``.

    ``population`` / ``generations`` size the evolutionary searches (``regularized`` scores as
    many children as DE scores trials); ``random`` draws ``evaluations`` architectures (default:
    as many as DE scores). ``max_params`` / ``max_flops`` bound the network's size in the space's
    own counts; the result always fits. ``describe`` maps operator names to sentences of your own,
    scored as ``predictor.score(archs, space, describe=describe)`` scores them. Bad options raise
    ``ValueError`` (a sentence that is no string: ``TypeError``).
    """
    start = time.perf_counter()
    space = get_space(space) if isinstance(space, str) else space
    if not isinstance(space, SearchSpace):
        raise ValueError(f"space must be a SearchSpace or one of 'nb101', 'nb201', 'darts', got {space!r}")
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; choose one of {list(METHODS)}")
    check_overrides(describe)
    _check_count("population", population, MIN_POPULATION)
    _check_count("generations", generations, 1)
    check_size(space.name, int(population), int(generations))
    if evaluations is not None:
        _check_count("evaluations", evaluations, 1)
    limits = Limits(max_params, max_flops)
    encoding = encoding_for(space)
    check_limits(encoding, limits)
    key = jax.random.PRNGKey(0) if key is None else key
    report = progress or (lambda _: None)
    scorer = Scorer.of(predictor, encoding, describe)
    parts = ("prune", "evolve") if method == "hybrid" else (method,)
    # The hybrid's two programs compile (XLA releases the GIL) and run side by side.
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        runs = list(
            pool.map(
                lambda part: _run(
                    part, encoding, scorer, predictor, limits, key, population, generations, evaluations, report
                ),
                parts,
            )
        )
    best = max(runs, key=lambda r: r.score)
    seconds = time.perf_counter() - start
    if method != "hybrid":
        return dataclasses.replace(best, seconds=seconds)
    report(f"hybrid: keeping the {best.method} result (score {best.score:.4f})")
    return SearchResult(
        space=space.name,
        method=method,
        arch=best.arch,
        arch_text=best.arch_text,
        score=best.score,
        params=best.params,
        flops=best.flops,
        seconds=seconds,
        evaluations=sum(r.evaluations for r in runs),
        history=best.history,
        parts={r.method: r for r in runs},
    )


def _check_count(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def _run(
    method: str,
    encoding: Encoding[Any],
    scorer: Scorer,
    predictor: Predictor,
    limits: Limits,
    key: jax.Array,
    population: int,
    generations: int,
    evaluations: int | None,
    report: Progress,
) -> SearchResult:
    """One method's jitted program, run and turned into a host-side result."""
    start = time.perf_counter()
    draws = evaluations or evolve_evaluations(population, generations)
    count = {
        "prune": prune_evaluations(encoding),
        "evolve": evolve_evaluations(population, generations),
        "regularized": regularized_evaluations(population, generations),
        "random": draws,
    }[method]
    report(f"{method}: {_describe(method, encoding, population, generations, draws)} ({count:,} scores)")
    bounds = jnp.asarray(limits.array()) if limits.active else None
    args = (scorer.weights, bounds, key)
    program = _program(method, encoding, scorer, predictor, limits.active, population, generations, draws, args)
    output = RunOutput(*jax.device_get(program(*args)))
    choices = np.asarray(output.choices)
    arch = encoding.to_arch(choices)
    sizes = encoding.sizes(arch)
    seconds = time.perf_counter() - start
    report(f"{method}: score {float(output.score):.4f} in {seconds:.2f} s")
    return SearchResult(
        space=encoding.space.name,
        method=method,
        arch=arch,
        arch_text=encoding.space.format(arch),
        score=float(output.score),
        params=sizes.get("params"),
        flops=sizes.get("flops"),
        seconds=seconds,
        evaluations=count,
        history=tuple(float(h) for h in np.asarray(output.history)),
    )


def _describe(method: str, encoding: Encoding[Any], population: int, generations: int, draws: int) -> str:
    cells, slots, width = encoding.initial_alive().shape
    return {
        "prune": f"pruning a {cells}-cell supernet of {slots} slots x {width} ops",
        "evolve": f"differential evolution, {population} x {generations} generations",
        "regularized": f"regularised evolution, population {population}, {generations} generations' worth",
        "random": f"random search over {draws:,} architectures",
    }[method]


_programs: OrderedDict[tuple[Any, ...], tuple[Predictor, Callable[..., RunOutput]]] = OrderedDict()
_programs_lock = threading.Lock()


def _program(
    method: str,
    encoding: Encoding[Any],
    scorer: Scorer,
    predictor: Predictor,
    budgeted: bool,
    population: int,
    generations: int,
    draws: int,
    args: tuple[Any, ...],
) -> Callable[..., tuple[jax.Array, ...]]:
    """The jitted ``f(weights, bounds, key) -> RunOutput``'s fields of a method, for arguments shaped as
    ``args``: kept per predictor and setting (the newest few), and lowered once for every process
    (:func:`tgnas_jax.compilation.stored_jit`)."""
    space = encoding.space
    sizes = {
        "prune": (),
        "evolve": (population, generations),
        "regularized": (population, generations),
        "random": (draws, population),
    }[method]
    cache_key = (
        method,
        type(space),
        tuple(sorted(vars(space).items())),
        id(predictor),
        budgeted,
        sizes,
        # A stored program takes arguments of the types it was lowered for only (a raw or a typed key).
        compilation.argument_signature(args),
    )
    with _programs_lock:
        if cache_key in _programs:
            _programs.move_to_end(cache_key)
            return _programs[cache_key][1]
    searches: dict[str, Callable[..., RunOutput]] = {
        "prune": lambda problem, key: prune(problem),
        "evolve": lambda problem, key: evolve(problem, key, population, generations),
        "regularized": lambda problem, key: regularized(problem, key, population, generations),
        "random": lambda problem, key: random_search(problem, key, draws, min(population, draws)),
    }
    run = searches[method]

    def outputs(weights: Any, bounds: Any, key: jax.Array) -> tuple[jax.Array, ...]:
        output = run(Problem.bind(encoding, scorer, weights, bounds), key)
        return output.choices, output.score, output.history

    program = program_jit(outputs, args, encoding, predictor, method, sizes)
    with _programs_lock:
        # The predictor is kept alive with its program, so its id cannot be reused by another while cached.
        _programs[cache_key] = (predictor, program)
        if len(_programs) > _PROGRAMS_KEPT:
            _programs.popitem(last=False)
    return program
