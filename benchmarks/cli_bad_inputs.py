"""Bad command lines, each in a fresh process: every one must fail with a one-line error, never exit 0
and never print a traceback.

    python benchmarks/cli_bad_inputs.py [--data-dir DIR] [--out benchmarks/results/cli_bad_inputs]

The invocations are the issue's list of bad training options, search sizes and seeds, unreadable
or damaged benchmark tables (a CSV missing its last 40 bytes, a binary CSV) and unwritable outputs,
for ``train``, ``search``, ``evaluate``, ``embed`` and ``score`` (bad options, unreadable, binary
or invalid input files, bad space specs). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tgnas_jax.data import NB201_FILE, resolve_data_dir


def damaged_data_dirs(source: Path, root: Path) -> dict[str, Path]:
    """Copies of the data directory (links, except the NB201 table) with a truncated / binary NB201 CSV."""
    out = {}
    for name, damage in (("truncated", lambda b: b[:-40]), ("binary", lambda b: bytes(range(256)) * 64)):
        target = root / name
        for path in source.rglob("*"):
            if path.is_file():
                (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                if path.relative_to(source) == NB201_FILE:
                    (target / NB201_FILE).write_bytes(damage(path.read_bytes()))
                else:
                    os.symlink(path, target / path.relative_to(source))
        out[name] = target
    return out


def invocations(data: Path, damaged: dict[str, Path], tmp: Path) -> list[tuple[str, list[str]]]:
    train = ["tgnas_jax.train", "--out", str(tmp / "never")]
    bad_sets = [
        "loss=bogus", "model.direction=bogus", "model.norm=bogus", "model.readout=bogus", "model.layers=-1",
        "model.dropout=2", "embedding.features=bogus", "mix_nb201=ture", "batch_size=0", "model.hidden=0",
        "learning_rate=nan", "model=5", "epochs=0", "val_size=-1", "noequals", "model.width=3", "seeds=a",
        "feature_noise=-1", "cost_weight=inf", "train_fraction=0",
    ]  # fmt: skip
    cases = [(f"train --set {s}", [*train, "--set", s]) for s in bad_sets]
    search = ["tgnas_jax.search", "--data-dir", str(data)]
    for args in (
        ["--population", "1000000000"], ["--seed", "1e23"], ["--population", "10000000"],
        ["--generations", "1000000000"], ["--space", "bogus"], ["--method", "bogus"], ["--seed", "-1"],
        ["--json", "/proc/forbidden/x.json"], ["--max-params", "-5"], ["--max-params", "abc"],
        ["--max-params", "10"], ["--predictor", "/nonexistent"], ["--population", "0"],
        ["--setting", "imagenet"], ["--space", "darts", "--dataset", "cifar100"], ["--plot", "/proc/forbidden/x.png"],
        ["--plot", "x.xyz"], ["-q", "-v"],
    ):  # fmt: skip
        cases.append(("search " + " ".join(args), [*search, *args]))
    cases += [
        ("search --data-dir /nonexistent", ["tgnas_jax.search", "--data-dir", "/nonexistent"]),
        *[(f"search, {k} NB201 CSV", ["tgnas_jax.search", "--data-dir", str(v)]) for k, v in damaged.items()],
    ]
    evaluate = ["tgnas_jax.evaluate", "--space", "nb301", "--resamples", "10", "--out", str(tmp / "ev" / "r")]
    for args in (
        ["--space", "bogus"], ["--predictor", "/nonexistent"], ["--data-dir", "/nonexistent"], ["--resamples", "0"],
        ["--encoding", "bogus"], ["--encoding", "paper"], ["--cost-weight", "abc"], ["--out", "/proc/forbidden/r"],
    ):  # fmt: skip
        cases.append(("evaluate " + " ".join(args), [*evaluate, "--data-dir", str(data), *args]))
    cases += [
        (
            f"evaluate, {k} NB201 CSV",
            ["tgnas_jax.evaluate", "--space", "nb201", "--data-dir", str(v), "--out", str(tmp / "r")],
        )
        for k, v in damaged.items()
    ]
    cases += [
        ("embed (no operator)", ["tgnas_jax.embed"]),
        ("embed --length bogus", ["tgnas_jax.embed", "--length", "bogus", "conv3x3"]),
        ("embed --describe without =", ["tgnas_jax.embed", "--describe", "conv3x3", "conv3x3"]),
    ]
    files = {
        "cells.txt": "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|\n",
        "binary.txt": bytes(range(256)) * 64,
        "invalid.txt": "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|\n|bogus~0|\n",
        "nocolumn.csv": "name,cell\na,b\n",
        "badjson.jsonl": '{"arch": 5}\n{oops\n',
        "spec.json": '{"kind": "chain", "name": "m", "layers": [{"choices": ["identity"], "stride": 2}]}',
    }
    for name, content in files.items():
        (tmp / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    score = ["tgnas_jax.score", str(tmp / "cells.txt"), "--space", "nb201"]
    for args in (
        ["--top", "0"], ["--chunk-size", "0"], ["--out", "/proc/forbidden/x.csv"], ["--to", "parquet"],
        ["--to", "bogus"], ["--format", "bogus"], ["--data-dir", "/nonexistent"], ["--predictor", "/nonexistent"],
        ["--process-id", "1"], ["--num-processes", "2", "--process-id", "2", "--out", str(tmp / "s.csv")],
        ["--describe", "noequals"], ["-q", "-v"],
    ):  # fmt: skip
        cases.append(("score " + " ".join(args), [*score, *args]))
    cases += [
        ("score (no --space)", ["tgnas_jax.score", str(tmp / "cells.txt")]),
        ("score --space bogus", ["tgnas_jax.score", str(tmp / "cells.txt"), "--space", "bogus"]),
        ("score, no such input", ["tgnas_jax.score", str(tmp / "absent.txt"), "--space", "nb201"]),
        *[
            (f"score, {name}", ["tgnas_jax.score", str(tmp / name), "--space", "nb201"])
            for name in ("binary.txt", "invalid.txt", "nocolumn.csv", "badjson.jsonl")
        ],
        *[(f"score, {k} NB201 CSV", [*score, "--data-dir", str(v)]) for k, v in damaged.items()],
        ("score --space bad spec", ["tgnas_jax.score", str(tmp / "cells.txt"), "--space", str(tmp / "spec.json")]),
        ("search --space bad spec", ["tgnas_jax.search", "--space", str(tmp / "spec.json")]),
    ]
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "cli_bad_inputs")
    args = parser.parse_args()
    data = resolve_data_dir(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        damaged = damaged_data_dirs(data, Path(tmp) / "data")
        for label, argv in invocations(data, damaged, Path(tmp)):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", *argv], capture_output=True, text=True, timeout=600, cwd=tmp,
                env={**os.environ, "TGNAS_CACHE_DIR": str(Path(tmp) / "cache")},
            )  # fmt: skip
            message = [line for line in done.stderr.strip().splitlines() if line.strip()]
            rows.append({
                "invocation": label,
                "exit": done.returncode,
                "traceback": "Traceback" in done.stderr,
                "message": message[-1][:200] if message else "",
                "seconds": round(time.perf_counter() - started, 1),
            })  # fmt: skip
            print(f"{done.returncode:3d} {'TRACEBACK ' if rows[-1]['traceback'] else ''}{label}: {rows[-1]['message']}")
    summary = {
        "invocations": len(rows),
        "exit_0": sum(r["exit"] == 0 for r in rows),
        "tracebacks": sum(r["traceback"] for r in rows),
        "one_line_errors": sum(r["exit"] != 0 and not r["traceback"] for r in rows),
    }
    print(json.dumps(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/cli_bad_inputs.py " + " ".join(sys.argv[1:])
    Path(f"{args.out}.json").write_text(
        json.dumps({"command": command, "summary": summary, "rows": rows}, indent=1) + "\n"
    )
    print(f"wrote {args.out}.json")


if __name__ == "__main__":
    main()
