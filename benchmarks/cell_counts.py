"""How should a DARTS architecture's two cell scores combine? Measured on NB301 only.

    python benchmarks/cell_counts.py --out benchmarks/results/cell_counts [--predictor DIR]

DARTS's CIFAR-10 network stacks 18 normal cells and 2 reduction cells. This scores the NB301
architectures' normal and reduction cells with the GCN and compares combinations of the two:
each cell type once (the mean), each as often as the network has it (``DartsSpace.cell_counts``),
and one type alone; and for the size prior's convolution term, convolutions counted once per cell
type or over the whole network. Kendall tau and Spearman rho of the GCN alone and of the shipped
blend ``z(GCN) + w · z(log FLOPs) + c · z(convolutions)`` (each term standardised on the set).
NB201 is not read: it has one cell type. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tgnas_jax import metrics, transfer
from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.prior import CostBlend, convolution_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictor", type=Path, help="predictor directory (default: the shipped one)")
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="output prefix for .json and .md")
    args = parser.parse_args()
    predictor = load_predictor(args.predictor)
    nb301 = transfer.nb301_set(args.data_dir)
    space = nb301.space
    graphs = [space.to_graphs(space.parse(a) if isinstance(a, str) else a) for a in nb301.archs]
    normal = predictor.score([(g[0],) for g in graphs])
    reduce = predictor.score([(g[1],) for g in graphs])
    convs = np.array([[convolution_count((g,)) for g in pair] for pair in graphs], np.float64)
    truth, log_flops = nb301.truth["cifar10"], nb301.all_log_flops()
    counts = np.asarray(space.cell_counts, np.float64)
    combinations = {
        "each cell type once (mean)": np.array([0.5, 0.5]),
        f"as the network repeats them ({counts[0]:.0f} : {counts[1]:.0f})": counts / counts.sum(),
        "normal cell alone": np.array([1.0, 0.0]),
        "reduction cell alone": np.array([0.0, 1.0]),
    }
    conv_terms = {"per cell type": convs.sum(axis=1), "over the network": convs @ counts}
    w, c = predictor.cost_weight, predictor.conv_weight
    rows = []
    for name, weights in combinations.items():
        gcn = weights[0] * normal + weights[1] * reduce
        for conv_name, conv in conv_terms.items():
            blend = CostBlend.fit(w, c, gcn, log_flops, conv).apply(gcn, log_flops, conv)
            rows.append(
                {
                    "cells": name,
                    "convolutions": conv_name,
                    "gcn_kendall": metrics.kendall(gcn, truth),
                    "gcn_spearman": metrics.spearman(gcn, truth),
                    "blend_kendall": metrics.kendall(blend, truth),
                    "blend_spearman": metrics.spearman(blend, truth),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    command = "python benchmarks/cell_counts.py " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    lines = [
        "# Combining a DARTS architecture's cell scores (NB301, 725 architectures; NB201 not read)",
        "",
        f"`{command}`",
        "",
        f"Blend: `z(GCN) + {w} · z(log FLOPs) + {c} · z(convolutions)`, each term standardised on the set.",
        "",
        "| GCN score of an architecture | convolutions counted | GCN τ | GCN ρ | blend τ | blend ρ |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['cells']} | {r['convolutions']} | {r['gcn_kendall']:.3f} | {r['gcn_spearman']:.3f} "
            f"| {r['blend_kendall']:.3f} | {r['blend_spearman']:.3f} |"
            for r in rows
        ),
    ]
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}.json and {args.out}.md")


if __name__ == "__main__":
    main()
