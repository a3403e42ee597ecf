"""Predictor grids: paper Table 2 (description length x embedding size), Fig. 2 (training
fraction), and the design study the shipped predictor was selected from.

    python benchmarks/predictor_grid.py --grid table2|fraction|design [--epochs N] [--seeds 0,1]

Each configuration is trained on NB101 and reported on the NB101 hold-out, the NB101
operator-transfer hold-out (cells using ``maxpool3x3``, kept out of training, for the design
grid), the 725 NB301 (DARTS-space) architectures, and zero-shot on all 15,625 NB201 cells.
Selection reads the NB101 and NB301 columns only; the NB201 columns are measurements of the
outcome. Writes ``benchmarks/results/grid_<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from tgnas_jax import metrics, transfer
from tgnas_jax.model import ModelConfig
from tgnas_jax.train import TrainConfig, override, train

RESULTS = Path(__file__).resolve().parent / "results"


def grid(name: str, base: TrainConfig) -> dict[str, TrainConfig]:
    if name == "table2":
        emb = base.embedding
        return {
            f"{length}/{dim}": dataclasses.replace(base, embedding=dataclasses.replace(emb, length=length, dim=dim))
            for dim in (384, 64)
            for length in ("short", "medium", "long")
        } | {"onehot": dataclasses.replace(base, embedding=dataclasses.replace(emb, features="onehot"))}
    if name == "fraction":
        return {
            f"{fraction:.0%}": dataclasses.replace(base, train_fraction=fraction) for fraction in (0.9, 0.5, 0.1, 0.01)
        }
    if name == "design":
        base = dataclasses.replace(base, transfer_op="maxpool3x3")
        variants: dict[str, dict[str, Any]] = {
            "base config": {},
            "pairwise loss": {"loss": "pairwise"},
            "mse+pairwise loss": {"loss": "mse+pairwise"},
            "symmetrised propagation": {"model": dataclasses.replace(base.model, direction="both")},
            "mean readout": {"model": dataclasses.replace(base.model, readout="mean")},
            "layer norm": {"model": dataclasses.replace(base.model, norm="layer")},
            "normalised embeddings": {"embedding": dataclasses.replace(base.embedding, normalize=True)},
            "2 layers": {"model": dataclasses.replace(base.model, layers=2)},
            "global readout": {"model": dataclasses.replace(base.model, readout="global")},
            "hidden 64": {"model": dataclasses.replace(base.model, hidden=64)},
            "hidden 256": {"model": dataclasses.replace(base.model, hidden=256)},
            "dropout 0.1": {"model": dataclasses.replace(base.model, dropout=0.1)},
            "weight decay 1e-2": {"weight_decay": 1e-2},
            "8 epochs": {"epochs": 2 * base.epochs},
        }
        return {label: dataclasses.replace(base, **changes) for label, changes in variants.items()}
    raise SystemExit(f"unknown grid {name!r}: choose table2, fraction or design")


def run(cfg: TrainConfig, data_dir: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    predictor, nb101 = train(cfg, data_dir)
    row: dict[str, Any] = {
        "nb101_val_tau": nb101["val"]["kendall_tau"],
        "nb101_val_rho": nb101["val"]["spearman_rho"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    if "transfer" in nb101:
        row["nb101_transfer_tau"] = nb101["transfer"]["kendall_tau"]
    if cfg.embedding.features == "onehot":
        row["nb201"] = "n/a: one-hot features cannot represent NB201's operators"
        return row
    for tset in transfer.load_sets(["nb301", "nb201"], predictor, data_dir):
        scores = transfer.predictor_scores(predictor, tset)["tg-nas"]
        for key, truth in tset.truth.items():
            row[f"{tset.name}_{key}_tau"] = metrics.kendall(scores, truth)
            row[f"{tset.name}_{key}_rho"] = metrics.spearman(scores, truth)
    return row


def _cell(column: str, value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) and column != "seconds" else str(value)


def markdown(name: str, rows: dict[str, dict[str, Any]], command: str) -> str:
    columns = list(dict.fromkeys(k for row in rows.values() for k in row))
    lines = [
        f"# Predictor grid `{name}`",
        "",
        f"`{command}`",
        "",
        "| config | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for label, row in rows.items():
        cells = [_cell(column, row.get(column, "")) for column in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", required=True, choices=("table2", "fraction", "design"))
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--seeds", default="0", help="comma-separated ensemble seeds per configuration")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override the base config")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    args = parser.parse_args()
    # The GCN alone (cost_weight 0): the grids compare what the network learnt. Each results file
    # records its full base config; the design grids there ran on an earlier base (width 128).
    base = TrainConfig(
        model=ModelConfig(),
        cost_weight=0.0,
        epochs=args.epochs,
        train_fraction=args.train_fraction,
        seeds=tuple(int(s) for s in args.seeds.split(",")),
    )
    for item in args.set:
        field, _, raw = item.partition("=")
        base = override(base, field, raw)
    command = (
        f"python benchmarks/predictor_grid.py --grid {args.grid} --epochs {args.epochs} "
        f"--train-fraction {args.train_fraction} --seeds {args.seeds}"
    )
    rows: dict[str, dict[str, Any]] = {}
    RESULTS.mkdir(exist_ok=True)
    for label, cfg in grid(args.grid, base).items():
        rows[label] = run(cfg, args.data_dir)
        print(label, json.dumps(rows[label]), flush=True)
        payload = {"command": command, "base": dataclasses.asdict(base), "rows": rows}
        (RESULTS / f"grid_{args.grid}{args.tag}.json").write_text(json.dumps(payload, indent=2) + "\n")
        (RESULTS / f"grid_{args.grid}{args.tag}.md").write_text(markdown(args.grid, rows, command))
    print(markdown(args.grid, rows, command))


if __name__ == "__main__":
    main()
