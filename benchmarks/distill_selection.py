"""Does one distilled network rank as well as the ensemble it copies? Measured on the selection sets only.

    python benchmarks/distill_selection.py --teacher-full checkpoints/tgnas-nb101 \
        --teacher-transfer RUN_4_MEMBERS_WITH_TRANSFER_OP --student-full RUN --student-transfer RUN \
        --out benchmarks/results/distill_selection

Each student run is saved by ``python -m tgnas_jax.train --set teacher=TEACHER`` (``distill``); every
member of it is one student, trained with its own seed, and is scored alone. The teachers are the
ensembles they copied, on the same NB101 split. Scores are blended with the shipped size prior
(``z(GCN) + 0.5 · z(log FLOPs) + 0.5 · z(convolutions)``, each term standardised on the set; DARTS
cells weighed 18 : 2) on NB301 (full-data predictors) and on the NB101 operator-transfer hold-out
(predictors trained with ``transfer_op``). The NB201 labels are not read.

The rule, fixed before the students were scored: a student replaces the ensemble if the mean over
its seeds of the selection rule's figure (the mean of the two sets' Kendall tau) is at least the
teacher ensemble's minus 0.005, and at least the mean of the teacher's members scored alone (else a
single member, already shipped as ``members=1``, does as well). Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tgnas_jax import metrics, transfer
from tgnas_jax.predictor import Predictor
from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.prior import CostBlend

#: How far below the teacher a student's rule figure may fall and still count as level.
TOLERANCE = 0.005


def _figures(predictor: Predictor, tset: transfer.TransferSet) -> dict[str, float]:
    """Kendall tau, Spearman rho and the top 1%'s mean truth percentile at the shipped prior."""
    gcn = predictor.score(tset.archs, tset.space, prior=False)
    log_flops, convs, truth = tset.all_log_flops(), tset.all_convolutions(), tset.truth["cifar10"]
    blend = CostBlend.fit(predictor.cost_weight, predictor.conv_weight, gcn, log_flops, convs)
    scores = blend.apply(gcn, log_flops, convs)
    top = np.argsort(-scores)[: max(1, len(scores) // 100)]
    percentile = (np.argsort(np.argsort(truth))[top] + 0.5).mean() / len(truth)
    return {
        "kendall": metrics.kendall(scores, truth),
        "spearman": metrics.spearman(scores, truth),
        "top1pct_percentile": float(percentile),
    }


def _summary(per_member: list[dict[str, float]]) -> dict[str, Any]:
    keys = per_member[0]
    out: dict[str, Any] = {k: float(np.mean([m[k] for m in per_member])) for k in keys}
    out.update(
        {f"{k}_sd": float(np.std([m[k] for m in per_member], ddof=1)) if len(per_member) > 1 else 0.0 for k in keys}
    )
    out["each"] = per_member
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for role in ("teacher", "student"):
        parser.add_argument(f"--{role}-full", type=Path, required=True, help=f"{role} trained on all of NB101 (NB301)")
        parser.add_argument(f"--{role}-transfer", type=Path, required=True, help=f"{role} trained with transfer_op set")
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="output prefix for .json and .md")
    args = parser.parse_args()
    teacher_transfer = load_predictor(args.teacher_transfer)
    holdout = next(
        (t for t in transfer.nb101_holdout_sets(teacher_transfer, args.data_dir) if t.name.startswith("nb101-without")),
        None,
    )
    if holdout is None:
        parser.error(f"{args.teacher_transfer} holds out no operator (train it with --set transfer_op=...)")
    runs = {
        "nb301": (
            transfer.nb301_set(args.data_dir),
            load_predictor(args.teacher_full),
            load_predictor(args.student_full),
        ),
        holdout.name: (holdout, teacher_transfer, load_predictor(args.student_transfer)),
    }
    sets: dict[str, Any] = {}
    for name, (tset, teacher, student) in runs.items():
        sets[name] = {
            "teacher_ensemble": _figures(teacher, tset),
            "teacher_members": _summary([_figures(m, tset) for m in transfer.member_predictors(teacher)]),
            "students": _summary([_figures(m, tset) for m in transfer.member_predictors(student)]),
        }
        print(name, json.dumps({k: v.get("kendall") for k, v in sets[name].items()}), flush=True)
    names = list(sets)

    def rule(role: str) -> float:
        return float(np.mean([sets[n][role]["kendall"] for n in names]))

    teacher, members, students = rule("teacher_ensemble"), rule("teacher_members"), rule("students")
    passes = students >= teacher - TOLERANCE and students >= members
    command = "python benchmarks/distill_selection.py " + " ".join(sys.argv[1:])
    result = {
        "command": command,
        "sets": sets,
        "rule": {"teacher_ensemble": teacher, "teacher_members": members, "students": students, "passes": passes},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(result, indent=1) + "\n")

    def cell(figures: dict[str, Any], key: str) -> str:
        sd = figures.get(f"{key}_sd")
        return f"{figures[key]:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")

    rows = [
        f"| {label} | "
        + " | ".join(f"{cell(sets[n][role], 'kendall')} | {cell(sets[n][role], 'top1pct_percentile')}" for n in names)
        + f" | {rule(role):.3f} |"
        for label, role in (
            ("teacher ensemble", "teacher_ensemble"),
            ("teacher members, each alone", "teacher_members"),
            ("distilled students, each alone", "students"),
        )
    ]
    lines = [
        "# One distilled network against the ensemble it copies (NB301, NB101 operator transfer; NB201 not read)",
        "",
        f"`{command}`",
        "",
        "Shipped size prior; ± is the sd over members (seeds). Rule, fixed before the run: the students' mean",
        f"of the two τ at least the teacher ensemble's − {TOLERANCE} and at least the teacher members'.",
        "",
        "| predictor | " + " | ".join(f"{n} τ | {n} top-1% percentile" for n in names) + " | rule (mean τ) |",
        "|---" * (2 + 2 * len(names)) + "|",
        *rows,
        "",
        f"**{'Passes' if passes else 'Does not pass'}**: students {students:.3f}, teacher ensemble {teacher:.3f}, "
        f"teacher members {members:.3f}.",
    ]
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
