"""Design selection on the selection sets only: NB101 hold-outs and NB301, never NB201.

    python benchmarks/transfer_selection.py --out benchmarks/results/transfer_selection_noise \
        RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a predictor saved by ``python -m tgnas_jax.train`` (its ensemble members are its
training seeds). For each, and for each size-prior weight, the table gives Kendall tau and
Spearman rho of the ensemble (and the members' mean and spread) on the NB301 architectures and on
the NB101 cells the run held out (its random validation split, and its operator-transfer split
when it has one). The NB201 labels are not read. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tgnas_jax import metrics, transfer
from tgnas_jax.predictor_files import load_predictor

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def _figures(predictor: Any, tset: transfer.TransferSet) -> dict[str, Any]:
    """Per weight, tau / rho of ``z(gcn) + w * z(log FLOPs)``, standardised over the set itself."""
    truth, log_flops = tset.truth["cifar10"], tset.all_log_flops()
    ensemble = predictor.score(tset.archs, tset.space, prior=False)
    members = [m.score(tset.archs, tset.space, prior=False) for m in transfer.member_predictors(predictor)]
    out: dict[str, Any] = {}
    for weight in WEIGHTS:

        def blend(gcn: np.ndarray, weight: float = weight) -> np.ndarray:
            return transfer.standardise(gcn) + weight * transfer.standardise(log_flops)

        taus = np.array([metrics.kendall(blend(s), truth) for s in members])
        out[str(weight)] = {
            "kendall": metrics.kendall(blend(ensemble), truth),
            "spearman": metrics.spearman(blend(ensemble), truth),
            "member_kendall_mean": float(taus.mean()),
            "member_kendall_sd": float(taus.std(ddof=1)) if len(taus) > 1 else 0.0,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="predictor directories saved by tgnas_jax.train")
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="output prefix for .json and .md")
    args = parser.parse_args()
    rows: dict[str, Any] = {}
    nb301 = transfer.nb301_set(args.data_dir)
    for run in args.runs:
        predictor = load_predictor(run)
        config = predictor.metadata.get("train_config", {})
        sets = [nb301, *transfer.nb101_holdout_sets(predictor, args.data_dir)]
        rows[run.name] = {
            "config": {k: config.get(k) for k in ("feature_noise", "transfer_op", "mix_nb201", "seeds", "epochs")},
            **{tset.name: _figures(predictor, tset) for tset in sets},
        }
        print(run.name, json.dumps({k: v["0.5"]["kendall"] for k, v in rows[run.name].items() if k != "config"}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/transfer_selection.py " + " ".join(sys.argv[1:])
    Path(f"{args.out}.json").write_text(json.dumps({"command": command, "runs": rows}, indent=1) + "\n")
    lines = [
        "# Design selection (NB101 hold-outs and NB301; NB201 not read)",
        "",
        f"`{command}`",
        "",
        "Kendall τ of the ensemble (members: mean ± sd), per size-prior weight w.",
        "",
        "| run | feature noise | transfer op | set | " + " | ".join(f"w={w}" for w in WEIGHTS) + " |",
        "|---" * (4 + len(WEIGHTS)) + "|",
    ]
    for name, row in rows.items():
        config = row["config"]
        for set_name, figures in row.items():
            if set_name == "config":
                continue
            cells = [
                f"{figures[str(w)]['kendall']:.3f} ({figures[str(w)]['member_kendall_mean']:.3f} ± "
                f"{figures[str(w)]['member_kendall_sd']:.3f})"
                for w in WEIGHTS
            ]
            lines.append(
                f"| {name} | {config['feature_noise']} | {config['transfer_op']} | {set_name} | "
                + " | ".join(cells)
                + " |"
            )
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}.json and {args.out}.md")


if __name__ == "__main__":
    main()
