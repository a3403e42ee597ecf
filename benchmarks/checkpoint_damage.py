"""Count what damaged copies of the shipped checkpoint do on load: refused, loaded silently, or crashed.

    python benchmarks/checkpoint_damage.py [--out benchmarks/results/checkpoint_damage.json] [--ablation]

Runs the cases of ``tests/test_checkpoint_integrity.py`` (every file deleted, truncated, flipped;
header fields mistyped; operator vectors and parameters rewritten, some with the manifest resigned)
on copies of ``checkpoints/tgnas-nb101``. The goal: every case refused with CheckpointError, no
silent load, no other exception. The ablation reruns them with the manifest check switched off, to
show what the schema, shape and probe checks catch on their own (``--ablation``: about ten minutes on
two CPU cores, the cases alone about one).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_checkpoint_integrity import damage_cases, damaged_copy, outcome  # noqa: E402

from tgnas_jax import predictor_files  # noqa: E402

GROUPS = ("delete", "truncate", "flip", "header", "resigned header", "op_vectors", "resigned op_vectors")


def group(name: str) -> str:
    return next((g for g in sorted(GROUPS, key=len, reverse=True) if name.startswith(g + " ")), "other")


def run(source: Path) -> dict[str, dict[str, object]]:
    """Per case: outcome and message."""
    results = {}
    for case in damage_cases():
        with tempfile.TemporaryDirectory() as folder:
            result, message = outcome(damaged_copy(source, Path(folder), case))
        results[case.name] = {"group": group(case.name), "outcome": result, "message": message[:300]}
    return results


def table(results: dict[str, dict[str, object]]) -> tuple[list[str], dict[str, Counter[str]]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results.values():
        counts[str(r["group"])][str(r["outcome"])] += 1
        counts["all"][str(r["outcome"])] += 1
    lines = [f"{'group':<22}{'cases':>7}{'refused':>9}{'loaded':>8}{'crashed':>9}"]
    for name, c in counts.items():
        lines.append(f"{name:<22}{c.total():>7}{c['refused']:>9}{c['loaded']:>8}{c['crashed']:>9}")
    return lines, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/checkpoint_damage.json"))
    parser.add_argument("--ablation", action="store_true", help="rerun the cases without the manifest check")
    args = parser.parse_args(argv)
    source = predictor_files.DEFAULT_CHECKPOINT
    start = time.perf_counter()
    report: dict[str, object] = {"checkpoint": source.name, "python": platform.python_version()}
    for label in ("full", "without_manifest") if args.ablation else ("full",):
        if label == "full":
            results = run(source)
        else:
            with mock.patch.object(predictor_files, "_verify_manifest", lambda path, where: None):
                results = run(source)
        lines, counts = table(results)
        print(f"\n{label}:\n" + "\n".join(lines))
        report[label] = {
            "counts": {g: dict(c) | {"cases": c.total()} for g, c in counts.items()},
            "not_refused": {n: r for n, r in results.items() if r["outcome"] != "refused"},
        }
        if label == "full":
            report["cases"] = results
    report["seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    full = report["full"]["counts"]["all"]  # type: ignore[index]
    print(f"\n{report['seconds']} s; wrote {args.out}")
    return 0 if full.get("loaded", 0) == full.get("crashed", 0) == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
