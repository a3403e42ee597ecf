"""``search()``: options are checked, budgets always hold, the hybrid keeps the better run."""

from __future__ import annotations

import json

import pytest

from tgnas_jax.predictor import Predictor
from tgnas_jax.search import SearchResult, search
from tgnas_jax.spaces import DartsSpace, NB201Space

#: Well below what the tiny predictor prefers unconstrained, well above the smallest NB201 cell (73,306 / 7.8 M).
MAX_PARAMS, MAX_FLOPS = 300_000, 40_000_000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"space": "nb999"}, "unknown search space 'nb999'"),
        ({"space": 201}, "space must be a SearchSpace"),
        ({"method": "anneal"}, "unknown search method 'anneal'"),
        ({"population": 0}, "population must be an integer >= 4, got 0"),
        ({"population": -8}, "population must be an integer >= 4, got -8"),
        ({"population": 3}, "population must be an integer >= 4, got 3"),
        ({"generations": 0}, "generations must be an integer >= 1, got 0"),
        ({"max_params": -5}, "max_params must be a positive number"),
        ({"max_params": 10}, "max_params=10 is below every nb201 architecture: the smallest achievable is 73,306"),
        (
            {"max_flops": 1e6},
            "max_flops=1,000,000 is below every nb201 architecture: the smallest achievable is 7,783,050",
        ),
        (
            {"space": "darts", "max_params": 1e6},
            "the smallest achievable is 1,370,134 on the CIFAR-10 network (C=36, 20 cells, 32x32)",
        ),
        (
            {"space": DartsSpace(setting="imagenet"), "max_params": 2e6},
            "the smallest achievable is 2,427,232 on the ImageNet mobile network (C=48, 14 cells, 224x224)",
        ),
        ({"space": "nb101", "max_flops": 1e9}, "the nb101 search defines no params / flops budget"),
    ],
)
def test_bad_options_are_named(options: dict, message: str, predictor: Predictor) -> None:
    options = {"space": "nb201", **options}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        search(options.pop("space"), predictor, **options)


def _fits(result: SearchResult) -> bool:
    return result.params <= MAX_PARAMS and result.flops <= MAX_FLOPS


def test_pruning_and_evolution_keep_within_the_budget(predictor: Predictor) -> None:
    free = search(NB201Space(), predictor)
    assert not _fits(free)  # the budget binds
    result = search(NB201Space(), predictor, max_params=MAX_PARAMS, max_flops=MAX_FLOPS)
    assert _fits(result) and all(_fits(part) for part in result.parts.values())
    assert result.score <= free.score


def test_the_hybrid_keeps_the_better_of_pruning_and_evolution(predictor: Predictor) -> None:
    result = search(NB201Space(), predictor)
    parts = result.parts
    assert set(parts) == {"prune", "evolve"}
    best = max(parts.values(), key=lambda part: part.score)
    assert (result.arch, result.score) == (best.arch, best.score)
    assert result.evaluations == sum(part.evaluations for part in parts.values())
    assert result.seconds >= max(part.seconds for part in parts.values())
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["arch"] == NB201Space().format(result.arch)
    assert set(summary["parts"]) == {"prune", "evolve"}


def test_search_from_python_refuses_a_size_past_its_bound_with_its_cost(predictor) -> None:
    with pytest.raises(ValueError, match=r"population must be at most 16,384, got 1,000,000,000; .*TB of memory"):
        search("nb201", predictor, population=1_000_000_000)
    with pytest.raises(ValueError, match="generations must be at most 100,000"):
        search("nb201", predictor, generations=10**9)


@pytest.mark.parametrize("setting", ["cifar10", "imagenet"])
def test_a_darts_budget_counts_the_network_of_the_spaces_setting(setting: str, predictor: Predictor) -> None:
    """A typical CIFAR-10 budget used to be checked against the ImageNet network, and the result reported there."""
    space = DartsSpace(setting=setting)
    budget = {"cifar10": 3.3e6, "imagenet": 4.7e6}[setting]
    result = search(space, predictor, method="evolve", population=16, generations=8, max_params=budget)
    free = search(space, predictor, method="evolve", population=16, generations=8)
    assert space.num_params(free.arch) > budget  # the budget binds
    for found in (result, free):
        assert (found.params, found.flops) == (space.num_params(found.arch), space.num_flops(found.arch))
    assert result.params <= budget
