"""Ranking metrics: broken cells last, ties broken in expectation, paired bootstrap intervals."""

import numpy as np
import pytest

from tgnas_jax import metrics


def test_correlations_rank_broken_cells_last():
    truth = np.array([1.0, 2.0, 3.0, 0.5])
    scores = np.array([1.0, 2.0, 3.0, -np.inf])
    assert metrics.spearman(scores, truth) == pytest.approx(1.0)
    assert metrics.kendall(scores, truth) == pytest.approx(1.0)
    assert metrics.spearman(-truth, truth) == pytest.approx(-1.0)


def test_ties_at_the_top_count_as_their_mean():
    truth = np.array([3.0, 0.0, 0.0, 9.0])
    scores = np.array([1.0, 1.0, 1.0, 0.0])  # three-way tie for first: any of them is the pick
    assert metrics.mean_of_top(scores, truth, 1) == pytest.approx(1.0)
    assert metrics.mean_of_top(scores, truth, 3) == pytest.approx(1.0)
    assert metrics.mean_of_top(scores, truth, 4) == pytest.approx(3.0)
    # the truly best (row 3) is never picked; row 0 (the best of the tied) is 1/3 of the time
    assert metrics.precision_at(scores, truth, 1) == 0.0
    assert metrics.precision_at(scores, truth, 2) == pytest.approx(1 / 3)
    # a tie in truth at the k-th place: each of the tied is truly best half the time
    tied_truth, picks = np.array([2.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0])
    assert metrics.precision_at(picks, tied_truth, 2) == pytest.approx((0.5 * 1 + 0.5 * 0.5 + 1 * 0.5) / 2)
    # percentile: share of the others at or below the pick (3 -> 2/3; each 0 -> 1/3, tied with the other 0)
    assert metrics.percentile_of_best(scores, truth) == pytest.approx(100 * (2 + 1 + 1) / 3 / 3)


def test_top_of_ranking_figures_of_a_perfect_and_a_reversed_ranking():
    truth = np.arange(200, dtype=float)
    table = metrics.all_metrics(len(truth))
    perfect = {name: f(truth, truth) for name, f in table.items()}
    reversed_ = {name: f(-truth, truth) for name, f in table.items()}
    assert perfect == {
        "spearman": pytest.approx(1.0), "kendall": pytest.approx(1.0), "best": 199.0, "top10": 194.5,
        "p_top1pct": 1.0, "p_top50": 1.0, "best_percentile": 100.0,
    }  # fmt: skip
    assert reversed_["best"] == 0.0 and reversed_["p_top50"] == 0.0 and reversed_["best_percentile"] == 0.0


def test_bootstrap_interval_holds_the_value_and_pairs_the_difference():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=500)
    good = truth + 0.5 * rng.normal(size=500)
    poor = truth + 3.0 * rng.normal(size=500)
    out = metrics.bootstrap(
        {"good": good, "poor": poor, "same": good.copy()},
        truth,
        {"spearman": metrics.spearman},
        reference="good",
        resamples=100,
    )
    rho = out["good"]["spearman"]
    assert rho["lo"] < rho["value"] < rho["hi"]
    assert "delta_lo" not in rho
    assert out["poor"]["spearman"]["delta_lo"] > 0  # good beats poor on every resample's pairing
    assert out["same"]["spearman"]["delta_lo"] == out["same"]["spearman"]["delta_hi"] == 0.0


def test_finite_scores_handles_an_all_broken_set():
    assert metrics.finite_scores(np.full(3, -np.inf)).tolist() == [0.0, 0.0, 0.0]
