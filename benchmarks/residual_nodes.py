"""Does a predictor read a ``skip_connect`` node as the residual edge NB101 writes? NB101 labels only.

    python benchmarks/residual_nodes.py --out benchmarks/results/residual_nodes \
        checkpoints/tgnas-nb101 RUN_DIR [RUN_DIR ...]

NB201 and DARTS write a residual as a ``skip_connect`` node; NB101, the training set, as an
``input -> output`` edge. Both compute the same network, so each NB101 validation cell with that
edge is scored twice: as NB101 writes it, and with the edge spliced into
``input -> skip_connect -> output``. A predictor that reads the node as the edge gives both the same
score. Reports, per predictor, Kendall tau of the validation cells either way and the mean score
shift of the rewritten cells in units of the scores' spread. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tgnas_jax import metrics, transfer
from tgnas_jax.graph import ArchGraph
from tgnas_jax.predictor_files import load_predictor


def residual_as_node(graph: ArchGraph) -> ArchGraph | None:
    """``graph`` with its ``input -> output`` edge spliced into a ``skip_connect`` node; None if it has none."""
    source, sink = graph.ops.index("input"), graph.ops.index("output")
    if not graph.adjacency[source, sink]:
        return None
    n = graph.num_nodes
    adjacency = np.zeros((n + 1, n + 1), np.uint8)
    adjacency[:n, :n] = graph.adjacency
    adjacency[source, sink] = 0
    adjacency[source, n] = adjacency[n, sink] = 1
    return ArchGraph(adjacency, (*graph.ops, "skip_connect"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="predictor directories")
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="output prefix for .json and .md")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        predictor = load_predictor(run)
        (val,) = [t for t in transfer.nb101_holdout_sets(predictor, args.data_dir) if t.name == "nb101-val"]
        rewritten = [residual_as_node(g) for g in val.archs]
        has = np.array([g is not None for g in rewritten])
        as_edges = predictor.score_graphs(val.archs)
        as_nodes = as_edges.copy()
        as_nodes[has] = predictor.score_graphs([g for g in rewritten if g is not None])
        truth = val.truth["cifar10"]
        rows.append(
            {
                "predictor": str(run),
                "cells": len(truth),
                "residual_cells": int(has.sum()),
                "kendall_as_edges": metrics.kendall(as_edges, truth),
                "kendall_as_nodes": metrics.kendall(as_nodes, truth),
                "shift_in_sd": float(np.mean(as_nodes[has] - as_edges[has]) / as_edges.std()),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    command = "python benchmarks/residual_nodes.py " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    lines = [
        "# Residual edges written as `skip_connect` nodes (NB101 validation cells; NB201 not read)",
        "",
        f"`{command}`",
        "",
        "| predictor | cells (with a residual edge) | τ, residuals as edges | τ, as `skip_connect` nodes "
        "| mean score shift of the rewritten cells (score sd) |",
        "|---|---|---|---|---|",
        *(
            f"| `{r['predictor']}` | {r['cells']} ({r['residual_cells']}) | {r['kendall_as_edges']:.3f} "
            f"| {r['kendall_as_nodes']:.3f} | {r['shift_in_sd']:+.3f} |"
            for r in rows
        ),
    ]
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}.json and {args.out}.md")


if __name__ == "__main__":
    main()
