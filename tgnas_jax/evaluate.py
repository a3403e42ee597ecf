"""Zero-shot evaluation on NAS-Bench-201: ``python -m tgnas_jax.evaluate [--predictor PATH]``.

Scores all 15,625 NB201 cells with a predictor trained on NB101 only and reports rank
correlation with the true test accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120, beside
#params and FLOPs on the same cells, top-k metrics, and the 13 published zero-cost proxies on
the 9,445-cell subset they cover. NB201 is a test set here: nothing is tuned on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

from tgnas_jax.data import NB201_DATASETS, DataError, NB201Table, load_nb201, load_zc_proxies
from tgnas_jax.predictor import CheckpointError, Predictor, load_predictor
from tgnas_jax.spaces.nb201 import NB201Space


def broken_last(scores: np.ndarray) -> np.ndarray:
    """``scores`` with ``-inf`` (broken cells) replaced by a finite value below every other score."""
    finite = np.isfinite(scores)
    return np.where(finite, scores, scores[finite].min() - 1.0)


def correlations(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Kendall tau and Spearman rho; ``-inf`` scores (broken cells) rank last."""
    finite = broken_last(scores)
    return {"kendall_tau": float(kendalltau(finite, truth)[0]), "spearman_rho": float(spearmanr(finite, truth)[0])}


def top_k(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """How good the predictor's favourites are, the quantity a search actually uses."""
    order = np.argsort(-scores, kind="stable")
    best_true = np.argsort(-truth, kind="stable")
    k1 = max(1, len(scores) // 100)
    return {
        "precision_top1pct": float(len(np.intersect1d(order[:k1], best_true[:k1])) / k1),
        "precision_top50": float(len(np.intersect1d(order[:50], best_true[:50])) / 50),
        "accuracy_of_predicted_best": float(truth[order[0]]),
        "mean_accuracy_of_predicted_top10": float(truth[order[:10]].mean()),
        "best_possible": float(truth.max()),
    }


def score_nb201(predictor: Predictor, table: NB201Table, encoding: str = "pruned") -> tuple[np.ndarray, float]:
    """Predictor scores of every table row, end to end from arch strings, and the seconds taken."""
    space = NB201Space(encoding=encoding)
    predictor.score(table.arch_strings[:8].tolist(), space)  # compile outside the timing
    started = time.perf_counter()
    scores = predictor.score(table.arch_strings.tolist(), space)
    return scores, time.perf_counter() - started


def evaluate(predictor: Predictor, data_dir: str | None = None, encoding: str = "pruned") -> dict[str, Any]:
    if predictor.metadata.get("train_config", {}).get("mix_nb201"):
        raise ValueError("this predictor was trained on NB201 labels (mix_nb201): NB201 is no zero-shot test for it")
    table = load_nb201(data_dir)
    space = NB201Space(encoding=encoding)
    archs = [space.parse(s) for s in table.arch_strings]
    scores, seconds = score_nb201(predictor, table, encoding)
    baselines = {
        "params": np.array([space.num_params(a) for a in archs], np.float64),
        "flops": np.array([space.num_flops(a) for a in archs], np.float64),
    }
    report: dict[str, Any] = {"encoding": encoding, "cells": len(table), "score_seconds_warm": round(seconds, 3)}
    for key in NB201_DATASETS:
        truth = getattr(table, key)
        report[key] = {
            "tg-nas": {**correlations(scores, truth), **top_k(scores, truth)},
            **{name: correlations(values, truth) for name, values in baselines.items()},
        }
    report["zc_subset"] = _zc_comparison(scores, table, data_dir)
    report["_scores"] = scores
    return report


def _zc_comparison(scores: np.ndarray, table: NB201Table, data_dir: str | None) -> dict[str, Any]:
    """Spearman rho of TG-NAS and each published proxy on the 9,445 cells the proxies cover."""
    out: dict[str, Any] = {}
    for dataset, key in (("cifar10", "cifar10"), ("imagenet16", "imagenet16")):
        zc = load_zc_proxies(data_dir, dataset)
        rows = np.array([table.index_of(s) for s in zc.arch_strings])
        truth = getattr(table, key)[rows]
        rho = {"tg-nas": correlations(scores[rows], truth)["spearman_rho"]}
        rho.update({name: float(spearmanr(values, truth)[0]) for name, values in zc.proxies.items()})
        out[dataset] = {"cells": len(rows), "spearman_rho": dict(sorted(rho.items(), key=lambda kv: -kv[1]))}
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Zero-shot NAS-Bench-201 ({report['cells']} cells, `{report['encoding']}` encoding, "
        f"size-prior weight {report.get('cost_weight', 0.0)})",
        "",
        "| dataset | proxy | Kendall τ | Spearman ρ |",
        "|---|---|---|---|",
    ]
    for key, label in NB201_DATASETS.items():
        for proxy in ("tg-nas", "params", "flops"):
            m = report[key][proxy]
            lines.append(f"| {label} | {proxy} | {m['kendall_tau']:.3f} | {m['spearman_rho']:.3f} |")
    lines += [
        "",
        "| dataset | precision top 1% | precision top 50 | acc. of predicted best | best possible |",
        "|---|---|---|---|---|",
    ]
    for key, label in NB201_DATASETS.items():
        m = report[key]["tg-nas"]
        lines.append(
            f"| {label} | {m['precision_top1pct']:.3f} | {m['precision_top50']:.2f} | "
            f"{m['accuracy_of_predicted_best']:.2f} | {m['best_possible']:.2f} |"
        )
    for dataset, sub in report["zc_subset"].items():
        lines += [
            "",
            f"Spearman ρ on the {sub['cells']}-cell zero-cost-proxy subset, {NB201_DATASETS[dataset]}:",
            "",
            "| proxy | ρ |",
            "|---|---|",
        ]
        lines += [f"| {name} | {rho:.3f} |" for name, rho in sub["spearman_rho"].items()]
    lines += ["", f"Scoring all cells from arch strings took {report['score_seconds_warm']:.3f} s (warm)."]
    return "\n".join(lines) + "\n"


def rank_scatter(scores: np.ndarray, table: NB201Table, path: Path) -> None:
    """Predicted rank against true rank per dataset (paper Fig. 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    finite = broken_last(scores)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
    for ax, (key, label) in zip(axes, NB201_DATASETS.items(), strict=True):
        ax.scatter(rankdata(getattr(table, key)), rankdata(finite), s=1, alpha=0.25)
        ax.set(title=label, xlabel="true rank", ylabel="predicted rank")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tgnas_jax.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictor", type=Path, help="predictor checkpoint (default: the shipped one)")
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--encoding", choices=("pruned", "paper"), default="pruned")
    parser.add_argument("--cost-weight", type=float, help="override the predictor's size-prior weight (0: GCN alone)")
    parser.add_argument("--out", type=Path, default=Path("results/nb201_zero_shot"), help="output prefix")
    args = parser.parse_args(argv)
    try:
        predictor = load_predictor(args.predictor)
        if args.cost_weight is not None:
            predictor = dataclasses.replace(predictor, cost_weight=args.cost_weight)
        report = evaluate(predictor, args.data_dir, args.encoding)
        report["cost_weight"] = predictor.cost_weight
        scores = report.pop("_scores")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        prefix = str(args.out)
        Path(prefix + ".json").write_text(json.dumps(report, indent=2) + "\n")
        Path(prefix + ".md").write_text(markdown(report))
        rank_scatter(scores, load_nb201(args.data_dir), Path(prefix + ".png"))
    except (DataError, CheckpointError, ValueError, OSError) as err:
        parser.exit(1, f"error: {err}\n")
    print(markdown(report))
    print(f"wrote {args.out}.json, .md and .png")


if __name__ == "__main__":
    main()
