"""Which data-free features should the size prior blend? Measured on the selection sets only.

    python benchmarks/prior_selection.py --full checkpoints/tgnas-nb101 --transfer RUN_DIR \
        --out benchmarks/results/prior_selection

The shipped prior is ``z(GCN) + w * z(log FLOPs)``. This scores ``z(GCN) + w * z(log FLOPs) +
c * z(convolution count)`` (convolution nodes of the scored graphs) over a grid of ``w`` and ``c``:
Kendall tau on NB301 (with the ``--full`` predictor) and on the NB101 operator-transfer hold-out
(with ``--transfer``, a predictor trained with ``transfer_op``), and their mean, the selection rule
of ``benchmarks/results/transfer_selection_top.md``. The NB201 labels are not read. Writes OUT.json
and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tgnas_jax import metrics, transfer
from tgnas_jax.predictor import Predictor
from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.prior import CostBlend

FLOP_WEIGHTS = (0.25, 0.5, 1.0)
CONV_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def _terms(predictor: Predictor, tset: transfer.TransferSet) -> tuple[np.ndarray, ...]:
    """GCN score, log FLOPs and convolution count of a set's architectures, and their CIFAR-10 truth."""
    gcn = predictor.score(tset.archs, tset.space, prior=False)
    return gcn, tset.all_log_flops(), tset.all_convolutions(), tset.truth["cifar10"]


def selection_sets(doc: str) -> tuple[argparse.Namespace, dict[str, tuple[Predictor, transfer.TransferSet]]]:
    """The command line both prior benchmarks share, and their two sets with the predictor each is scored by:
    NB301 with ``--full``, the NB101 operator-transfer hold-out with ``--transfer``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", type=Path, required=True, help="predictor trained on all of NB101 (for NB301)")
    parser.add_argument("--transfer", type=Path, required=True, help="predictor trained with transfer_op set")
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="output prefix for .json and .md")
    args = parser.parse_args()
    held_out = load_predictor(args.transfer)
    holdouts = [t for t in transfer.nb101_holdout_sets(held_out, args.data_dir) if t.name.startswith("nb101-without")]
    if not holdouts:
        parser.error(f"{args.transfer} holds out no operator (train it with --set transfer_op=...)")
    return args, {
        "nb301": (load_predictor(args.full), transfer.nb301_set(args.data_dir)),
        holdouts[0].name: (held_out, holdouts[0]),
    }


def main() -> None:
    args, chosen = selection_sets(__doc__)
    sets = {name: _terms(predictor, tset) for name, (predictor, tset) in chosen.items()}
    rows = []
    for w in FLOP_WEIGHTS:
        for c in CONV_WEIGHTS:
            # Each term standardised on the set itself.
            blends = {name: CostBlend.fit(w, c, g, f, n).apply(g, f, n) for name, (g, f, n, _) in sets.items()}
            taus = {name: metrics.kendall(blends[name], sets[name][3]) for name in sets}
            rows.append({"flops_weight": w, "conv_weight": c, **taus, "mean": float(np.mean(list(taus.values())))})
            print(json.dumps(rows[-1]), flush=True)
    command = "python benchmarks/prior_selection.py " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    names = list(sets)
    best = max(rows, key=lambda r: r["mean"])
    lines = [
        "# Size-prior features (NB301 and the NB101 operator-transfer hold-out; NB201 not read)",
        "",
        f"`{command}`",
        "",
        "Kendall τ of `z(GCN) + w · z(log FLOPs) + c · z(convolution count)`.",
        "",
        "| w (FLOPs) | c (convolutions) | " + " | ".join(names) + " | mean |",
        "|---" * (3 + len(names)) + "|",
        *(
            f"| {r['flops_weight']} | {r['conv_weight']} | "
            + " | ".join(f"{r[n]:.3f}" for n in names)
            + f" | {'**' if r is best else ''}{r['mean']:.3f}{'**' if r is best else ''} |"
            for r in rows
        ),
    ]
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}.json and {args.out}.md")


if __name__ == "__main__":
    main()
