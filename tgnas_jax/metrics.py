"""Ranking metrics of a scorer against true accuracy, with bootstrap intervals.

Global rank correlation says little about what a search gets: that is decided at the top of the
ranking, so the top-of-ranking figures sit beside Spearman and Kendall. Ties in a score (many
cells share a parameter count) are broken uniformly at random *in expectation*: a baseline gets
the mean over all tie-breaks, never a lucky or unlucky order. Scores of ``-inf`` (cells that
pass no data) rank last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy.stats import kendalltau, rankdata

Metric = Callable[[np.ndarray, np.ndarray], float]


def finite_scores(scores: np.ndarray) -> np.ndarray:
    """``scores`` with ``-inf`` replaced by a finite value below every other score (ties among them)."""
    scores = np.asarray(scores, np.float64)
    finite = np.isfinite(scores)
    if not finite.any():
        return np.zeros_like(scores)
    return np.where(finite, scores, scores[finite].min() - 1.0)


def spearman(scores: np.ndarray, truth: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties)."""
    a, b = rankdata(finite_scores(scores)), rankdata(truth)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def kendall(scores: np.ndarray, truth: np.ndarray) -> float:
    """Kendall's tau-b."""
    return float(kendalltau(finite_scores(scores), truth)[0])


def _top_weights(scores: np.ndarray, k: int) -> np.ndarray:
    """Each item's probability of being among the top ``k`` when ties are broken at random."""
    scores = finite_scores(scores)
    k = min(k, len(scores))
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    above = scores > threshold
    tied = scores == threshold
    weights = above.astype(np.float64)
    weights[tied] = (k - above.sum()) / tied.sum()
    return weights


def mean_of_top(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Expected mean true accuracy of the ``k`` best-scored architectures."""
    weights = _top_weights(scores, k)
    return float(weights @ truth / weights.sum())


def precision_at(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Expected share of the ``k`` best-scored architectures that are among the ``k`` truly best, ties
    in either broken at random (a bootstrap resample repeats architectures, so ties in truth are common)."""
    weights = _top_weights(scores, k)
    return float(weights @ _top_weights(truth, k) / weights.sum())


def percentile_of_best(scores: np.ndarray, truth: np.ndarray) -> float:
    """Expected percentile (0-100) of the predicted best's true accuracy among all architectures."""
    weights = _top_weights(scores, 1)
    best = np.flatnonzero(weights)
    below = np.array([np.count_nonzero(truth <= truth[i]) - 1 for i in best])
    return float(weights[best] @ (100.0 * below / max(len(truth) - 1, 1)))


def top_k_metrics(k1pct_of: int) -> dict[str, Metric]:
    """The top-of-ranking metrics for a set of ``k1pct_of`` architectures."""
    k1 = max(1, k1pct_of // 100)
    return {
        "best": lambda s, t: mean_of_top(s, t, 1),
        "top10": lambda s, t: mean_of_top(s, t, 10),
        "p_top1pct": lambda s, t: precision_at(s, t, k1),
        "p_top50": lambda s, t: precision_at(s, t, 50),
        "best_percentile": percentile_of_best,
    }


def all_metrics(size: int) -> dict[str, Metric]:
    """Every figure the transfer benchmark reports, by name."""
    return {"spearman": spearman, "kendall": kendall, **top_k_metrics(size)}


def bootstrap(
    scorers: Mapping[str, np.ndarray],
    truth: np.ndarray,
    metrics: Mapping[str, Metric],
    *,
    reference: str | None = None,
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, dict[str, float]]]:
    """Each scorer's metrics with a percentile bootstrap interval over architectures.

    All scorers share the same resamples, so with ``reference`` set the interval of each
    scorer's difference to it (``delta_*``) is paired: what says whether one beats the other.
    """
    rng = np.random.default_rng(seed)
    rows = [rng.integers(len(truth), size=len(truth)) for _ in range(resamples)]
    lo, hi = 50 * (1 - level), 50 * (1 + level)
    draws = {
        name: {m: np.array([f(s[r], truth[r]) for r in rows]) for m, f in metrics.items()}
        for name, s in scorers.items()
    }
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, s in scorers.items():
        out[name] = {}
        for m, f in metrics.items():
            entry = {"value": f(s, truth), "lo": float(np.percentile(draws[name][m], lo))}
            entry["hi"] = float(np.percentile(draws[name][m], hi))
            if reference is not None and name != reference:
                delta = draws[reference][m] - draws[name][m]
                entry["delta_lo"] = float(np.percentile(delta, lo))
                entry["delta_hi"] = float(np.percentile(delta, hi))
            out[name][m] = entry
    return out
