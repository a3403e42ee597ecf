"""Should the size prior stop rewarding size at the top? Measured on the selection sets only.

    python benchmarks/prior_cap.py --full checkpoints/tgnas-nb101 --transfer RUN_DIR \
        --out benchmarks/results/prior_cap

The shipped prior ``z(GCN) + 0.5 z(log FLOPs) + 0.5 z(convolutions)`` keeps rewarding size all the
way up, which is why NB201's largest cell comes first. A capped prior
``z(GCN) + 0.5 min(z(log FLOPs), q_F) + 0.5 min(z(convolutions), q_C)``, with ``q`` the terms'
``QUANTILES`` on the set, still marks small networks down but leaves the order among the large
ones to the GCN. Each member of the ``--full`` predictor (NB301) and of the ``--transfer`` one (the
NB101 operator-transfer hold-out) is scored alone, so each cap is compared with the linear prior
member by member: Kendall tau, and the mean true-accuracy percentile of the top 1% (what a search
returns). The NB201 labels are not read. Writes OUT.json and OUT.md.

Rule, fixed before the run: a cap replaces the linear prior only if, averaged over the members, it
is at least as good on both measures on both sets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from prior_selection import selection_sets

from tgnas_jax import metrics, transfer

QUANTILES = (None, 0.5, 0.75, 0.9)  # None: the linear prior
WEIGHT = 0.5


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() or 1.0)


def blended(gcn: np.ndarray, log_flops: np.ndarray, convs: np.ndarray, quantile: float | None) -> np.ndarray:
    """The prior on the set, each term standardised there; capped at ``quantile`` of each size term."""
    terms = [_z(log_flops), _z(convs)]
    if quantile is not None:
        terms = [np.minimum(t, np.quantile(t, quantile)) for t in terms]
    return _z(gcn) + WEIGHT * (terms[0] + terms[1])


def top_percentile(scores: np.ndarray, truth: np.ndarray, share: float = 0.01) -> float:
    """Mean percentile (0-1) of the true accuracy of the best-scored ``share`` of the set."""
    weights = metrics._top_weights(scores, max(1, round(share * len(scores))))
    ranks = np.argsort(np.argsort(truth)) / (len(truth) - 1)
    return float(weights @ ranks / weights.sum())


def main() -> None:
    args, sets = selection_sets(__doc__)
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    for name, (predictor, tset) in sets.items():
        log_flops, convs, truth = tset.all_log_flops(), tset.all_convolutions(), tset.truth["cifar10"]
        members = [m.score(tset.archs, tset.space, prior=False) for m in transfer.member_predictors(predictor)]
        results[name] = {}
        for q in QUANTILES:
            scores = [blended(g, log_flops, convs, q) for g in members]
            results[name][str(q)] = {
                "tau": [metrics.kendall(s, truth) for s in scores],
                "top1pct_percentile": [top_percentile(s, truth) for s in scores],
            }
            print(name, q, json.dumps({k: round(float(np.mean(v)), 4) for k, v in results[name][str(q)].items()}))
    linear = {name: {k: np.mean(v) for k, v in r["None"].items()} for name, r in results.items()}
    adopted = [
        q
        for q in QUANTILES[1:]
        if all(np.mean(results[n][str(q)][k]) >= linear[n][k] for n in results for k in linear[n])
    ]
    command = "python benchmarks/prior_cap.py " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(
        json.dumps({"command": command, "results": results, "passes_rule": adopted}, indent=1) + "\n"
    )
    names = list(results)
    lines = [
        "# A capped size prior (NB301 and the NB101 operator-transfer hold-out; NB201 not read)",
        "",
        f"`{command}`",
        "",
        f"`z(GCN) + {WEIGHT} min(z(log FLOPs), q) + {WEIGHT} min(z(convolutions), q)`, q the term's quantile on the "
        "set (none: the shipped linear prior). Members scored alone: mean over members (min–max).",
        "",
        "| cap quantile | " + " | ".join(f"{n} τ | {n} top-1% percentile" for n in names) + " |",
        "|---" * (1 + 2 * len(names)) + "|",
    ]
    for q in QUANTILES:
        cells = [
            f"{np.mean(v):.3f} ({min(v):.3f}–{max(v):.3f})"
            for n in names
            for v in (results[n][str(q)]["tau"], results[n][str(q)]["top1pct_percentile"])
        ]
        lines.append(f"| {'none' if q is None else q} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rule (fixed before the run): a cap replaces the linear prior only if its member mean is at least the "
        f"linear prior's on both measures on both sets. Passing: {', '.join(map(str, adopted)) or 'none'}.",
    ]
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
