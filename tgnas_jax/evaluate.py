"""The transfer benchmark: ``python -m tgnas_jax.evaluate``; :data:`DESCRIPTION` says what it reports."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tgnas_jax import strictjson, transfer
from tgnas_jax._cli import LOGGER, HelpFormatter, add_predictor_options, add_verbosity, configure_logging
from tgnas_jax.data import NB201_DATASETS, DataError
from tgnas_jax.metrics import finite_scores
from tgnas_jax.predictor import Predictor
from tgnas_jax.predictor_files import CheckpointError, load_predictor

#: Figures in the markdown tables, with their headings.
FIGURES = {
    "spearman": "ρ",
    "kendall": "τ",
    "best": "acc. of predicted best",
    "top10": "mean acc. of top 10",
    "p_top1pct": "precision top 1%",
    "p_top50": "precision top 50",
    "best_percentile": "percentile of best",
}
DATASET_NAMES = {**NB201_DATASETS, "cifar10": "CIFAR-10"}
DESCRIPTION = """\
The transfer benchmark. Scores every architecture of each benchmark set with a predictor and
reports, per set and dataset, Spearman rho, Kendall tau and the top-of-ranking figures a search
depends on (true accuracy of the predicted best, mean of the predicted top 10, precision at the
top 1% and top 50, percentile of the predicted best), each with a bootstrap 95% interval; the
data-free baselines (#params, FLOPs, depth, convolution counts) and the published zero-cost
proxies beside them; the spread over the ensemble's members (one training seed each). Writes
PREFIX.json, PREFIX.md and PREFIX_scatter.png, PREFIX_rho.png, PREFIX_heatmap.png; the markdown
report also goes to stdout.

NB201 is a zero-shot test set: nothing is tuned on it, and a predictor trained on its labels
(mix_nb201) is refused there."""
EPILOG = """\
example:
  python -m tgnas_jax.evaluate --space all --out benchmarks/results/transfer/tgnas-nb101"""


def evaluate(
    predictor: Predictor,
    sets: Sequence[str],
    data_dir: str | None = None,
    resamples: int = 200,
    encoding: str = "pruned",
) -> list[dict[str, Any]]:
    """The transfer report of every named set (scores kept under ``_scores`` for the plots)."""
    reports = []
    for tset in transfer.load_sets(sets, predictor, data_dir, encoding):
        LOGGER.info("%s: scoring %d architectures, %d bootstrap resamples", tset.name, len(tset), resamples)
        report = transfer.run(predictor, tset, resamples=resamples)
        report["_truth"] = tset.truth
        reports.append(report)
    return reports


def _interval(entry: dict[str, float], digits: int) -> str:
    return f"{entry['value']:.{digits}f} [{entry['lo']:.{digits}f}, {entry['hi']:.{digits}f}]"


def markdown(reports: Sequence[dict[str, Any]], header: dict[str, Any]) -> str:
    lines = [
        f"# Transfer benchmark: `{header['predictor']}`",
        "",
        f"`{header['command']}`",
        "",
        f"`{header['encoding']}` encoding; size-prior weights {header['cost_weight']} (log FLOPs), "
        f"{header['conv_weight']} (convolutions); "
        f"{header['members']} ensemble members; "
        f"{header['resamples']} bootstrap resamples (95% intervals in brackets). `tg-nas`: the GCN "
        "blended with the size prior (what `Predictor.score` returns); `gcn`: the GCN alone; "
        "Δρ: tg-nas minus that row, paired bootstrap interval. Ties in a baseline are broken at "
        "random in expectation.",
    ]
    for report in reports:
        for dataset, entry in report["datasets"].items():
            figures = entry["all"]
            lines += [
                "",
                f"## {report['set']} · {DATASET_NAMES.get(dataset, dataset)} ({report['size']} architectures)",
                "",
                "| scorer | " + " | ".join(FIGURES.values()) + " | Δρ vs it |",
                "|---" * (len(FIGURES) + 2) + "|",
            ]
            for name, row in figures.items():
                cells = [
                    _interval(row[m], 3 if m in ("spearman", "kendall", "p_top1pct", "p_top50") else 2) for m in FIGURES
                ]
                delta = row["spearman"]
                gap = f"[{delta['delta_lo']:+.3f}, {delta['delta_hi']:+.3f}]" if "delta_lo" in delta else ""
                lines.append(f"| {name} | " + " | ".join(cells) + f" | {gap} |")
            for name, spread in entry["members"].items():
                cells = [f"{spread[m]['mean']:.3f} ± {spread[m]['std']:.3f}" for m in FIGURES]
                lines.append(f"| {name} (members, mean ± sd) | " + " | ".join(cells) + " | |")
            if "proxies" in entry:
                sub = entry["proxies"]
                lines += [
                    "",
                    f"Published zero-cost proxies, on the {sub['size']} architectures they cover:",
                    "",
                    "| scorer | ρ | τ | Δρ (tg-nas minus it) |",
                    "|---|---|---|---|",
                ]
                ranked = sorted(sub["figures"].items(), key=lambda kv: -kv[1]["spearman"]["value"])
                for name, row in ranked:
                    delta = row["spearman"]
                    gap = f"[{delta['delta_lo']:+.3f}, {delta['delta_hi']:+.3f}]" if "delta_lo" in delta else ""
                    lines.append(
                        f"| {name} | {_interval(row['spearman'], 3)} | {_interval(row['kendall'], 3)} | {gap} |"
                    )
    return "\n".join(lines) + "\n"


def _panels(reports: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    return [(r["set"], r, d) for r in reports for d in r["datasets"]]


def plot(reports: Sequence[dict[str, Any]], prefix: str) -> list[Path]:
    """Rank scatter per set and dataset, rho bar chart, and the proxy correlation heatmaps (paper Fig. 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    panels = _panels(reports)
    written = []
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False, constrained_layout=True)
    for ax, (name, report, dataset) in zip(axes[0], panels, strict=True):
        truth = report["_truth"][dataset]
        scores = finite_scores(report["_scores"]["tg-nas"])
        x, y = rankdata(truth) / len(truth), rankdata(scores) / len(truth)
        ax.hexbin(x, y, gridsize=40, bins="log", cmap="viridis", mincnt=1)
        ax.plot([0, 1], [0, 1], color="white", lw=1, ls="--")
        figures = report["datasets"][dataset]["all"]["tg-nas"]
        ax.set(title=f"{name} · {DATASET_NAMES.get(dataset, dataset)}", xlabel="true rank", ylabel="predicted rank")
        ax.text(
            0.03, 0.95, f"ρ {figures['spearman']['value']:.3f}\nτ {figures['kendall']['value']:.3f}",
            transform=ax.transAxes, va="top", color="white", fontsize=10,
        )  # fmt: skip
    written.append(Path(prefix + "_scatter.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False, constrained_layout=True)
    for ax, (name, report, dataset) in zip(axes[0], panels, strict=True):
        rows = report["datasets"][dataset]["all"]
        order = sorted(rows, key=lambda k: -rows[k]["spearman"]["value"])
        values = [rows[k]["spearman"]["value"] for k in order]
        errors = np.array(
            [[v - rows[k]["spearman"]["lo"], rows[k]["spearman"]["hi"] - v] for k, v in zip(order, values, strict=True)]
        ).T
        colours = ["tab:red" if k in transfer.PREDICTOR_ROWS else "tab:gray" for k in order]
        ax.barh(order[::-1], values[::-1], xerr=errors[:, ::-1], color=colours[::-1])
        ax.set(title=f"{name} · {DATASET_NAMES.get(dataset, dataset)}", xlabel="Spearman ρ with accuracy")
    written.append(Path(prefix + "_rho.png"))
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    heat = [(n, r, d) for n, r, d in panels if "proxies" in r["datasets"][d]]
    if heat:
        fig, axes = plt.subplots(1, len(heat), figsize=(7 * len(heat), 6.2), squeeze=False, constrained_layout=True)
        for ax, (name, report, dataset) in zip(axes[0], heat, strict=True):
            matrix = report["datasets"][dataset]["proxies"]["correlation"]
            names = list(matrix)
            values = np.array([[matrix[a][b] for b in names] for a in names])
            image = ax.imshow(values, vmin=-1, vmax=1, cmap="RdBu_r")
            ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
            ax.set_yticks(range(len(names)), names, fontsize=8)
            for i in range(len(names)):
                for j in range(len(names)):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=5.5)
            ax.set_title(f"Spearman ρ between scorers: {name} · {DATASET_NAMES.get(dataset, dataset)}")
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.7)
        written.append(Path(prefix + "_heatmap.png"))
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tgnas_jax.evaluate", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--space", action="append", choices=(*transfer.SETS, "all"), help="benchmark set, repeatable (default: all)"
    )
    add_predictor_options(parser)
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument(
        "--cost-weight",
        type=float,
        help="size-prior weight of log FLOPs (default: the predictor's own, 0.5 for the shipped one)",
    )
    parser.add_argument(
        "--conv-weight",
        type=float,
        help="size-prior weight of the convolution count (default: the predictor's own, 0.5 for the shipped one); "
        "both weights 0: the GCN alone",
    )
    parser.add_argument(
        "--encoding",
        choices=("pruned", "residual", "paper"),
        default="pruned",
        help="how NB201 / DARTS cells become graphs ('paper' is NB201 only; see NB201Space)",
    )
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples, at least 10")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("transfer"),
        metavar="PREFIX",
        help="output prefix for .json, .md and .png (default: ./transfer, in the current folder)",
    )
    add_verbosity(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resamples < 10:
        parser.error(f"--resamples must be at least 10, got {args.resamples}")
    configure_logging(args)
    sets = args.space or ["all"]
    try:
        predictor = load_predictor(args.predictor, args.members)
        weights = {"cost_weight": args.cost_weight, "conv_weight": args.conv_weight}
        predictor = dataclasses.replace(predictor, **{k: v for k, v in weights.items() if v is not None})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        reports = evaluate(predictor, sets, args.data_dir, args.resamples, args.encoding)
        header = {
            "predictor": str(args.predictor or "shipped tgnas-nb101"),
            "command": "python -m tgnas_jax.evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
            "cost_weight": predictor.cost_weight,
            "conv_weight": predictor.conv_weight,
            "encoding": args.encoding,
            "members": len(predictor.members),
            "resamples": args.resamples,
        }
        prefix = str(args.out)
        Path(prefix + ".json").write_text(strictjson.dumps({**header, "sets": reports}, indent=1) + "\n")
        Path(prefix + ".md").write_text(markdown(reports, header))
        plots = plot(reports, prefix)
    except (DataError, CheckpointError, ValueError, OSError) as err:
        parser.exit(1, f"error: {err}\n")
    print(markdown(reports, header))
    LOGGER.info("wrote %s.json, %s.md, %s", prefix, prefix, ", ".join(str(p) for p in plots))


if __name__ == "__main__":
    main()
