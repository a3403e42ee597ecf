"""How long operator embeddings take: MiniLM on 1,000 descriptions (cold and warm) vs the table lookup.

Cold includes tracing and compiling each (batch, length) bucket; warm re-encodes the same
sentences with everything compiled. The lookup rows time scoring-time work: 1,000 operator names
(and a padded batch's vocabulary) served from the shipped table, with no encoder loaded.

``--fresh RUNS`` instead times the cold start of issue 11: in new processes, the first operator
the shipped table lacks, embedded on its own ("embed") and scored by the shipped predictor in a
cell ("score"). Paths run interleaved, so load from other work on the machine hits them alike:
"new" is the encoder as shipped, "old" the load it replaced (``from_pretrained`` with its random
init, batches padded to 8 or 64 rows), "new+jax-cache" the new one with jax's persistent
compilation cache warmed by an untimed run, as the search CLI sets it up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from tgnas_jax.batching import Budget
from tgnas_jax.embeddings import (
    KNOWN_OPERATORS,
    LENGTHS,
    MiniLMEncoder,
    OperatorEmbeddings,
    derive_description,
    describe,
    embed_batch,
)
from tgnas_jax.embeddings import encoder as encoder_module
from tgnas_jax.graph import ArchGraph

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_OUT = RESULTS / "embedding_speed.json"
FRESH_OUT = RESULTS / "embedding_fresh_process.json"
#: An operator name no shipped table holds: its sentence is derived, then encoded.
UNSEEN_OP = "sep_conv_9x9"
PATHS = ("old", "new", "new+jax-cache")
SCENARIOS = ("embed", "score")


def descriptions(count: int) -> list[str]:
    """``count`` distinct sentences: the table's, then ones derived from made-up operator names."""
    texts = list(dict.fromkeys(describe(op, length).text for length in LENGTHS for op in KNOWN_OPERATORS))
    kinds = ["conv", "sep_conv", "dw_conv", "dil_conv", "max_pool", "avg_pool", "mbconv", "wavelet", "gabor"]
    for kind, k, e, length in itertools.product(kinds, range(1, 30, 2), (1, 2, 3, 4, 6, 8), LENGTHS):
        if len(texts) >= count:
            break
        texts.append(derive_description(f"{kind}_{k}x{k}_e{e}", length))
    texts = list(dict.fromkeys(texts))[:count]
    if len(texts) < count:
        raise ValueError(f"only {len(texts)} distinct descriptions; extend the generator")
    return texts


def timed(fn: Callable[[], object], repeats: int = 1) -> float:
    """Best wall time of ``repeats`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def nb201_like_cells(count: int, rng: np.random.Generator) -> list[ArchGraph]:
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    adjacency = np.zeros((6, 6), np.uint8)
    for s, r in [(0, 1), (0, 2), (0, 4), (1, 3), (2, 5), (3, 5), (4, 5)]:
        adjacency[s, r] = 1
    return [ArchGraph(adjacency, ("input", *rng.choice(ops, 4), "output")) for _ in range(count)]


def legacy_encoder() -> MiniLMEncoder:
    """The encoder as loaded before issue 11: ``from_pretrained`` random-initialises, then overwrites."""
    from transformers import AutoTokenizer, FlaxBertModel

    path = encoder_module.minilm_model_dir()
    max_length = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
    model = FlaxBertModel.from_pretrained(path, local_files_only=True)
    return MiniLMEncoder(model, model.params, AutoTokenizer.from_pretrained(path, local_files_only=True), max_length)


def child(path: str, scenario: str) -> dict[str, float]:
    """One fresh process's timings in seconds (run as ``--child``, after this module's imports)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if path == "old":
        encoder_module.BATCH_BUCKETS = (8, 64)
        encoder_module.shared_encoder = legacy_encoder
    times = {}
    start = time.perf_counter()
    if scenario == "embed":
        table = OperatorEmbeddings.load(cache_path=None)
        if table.describe(UNSEEN_OP).text in {key.description for key in table.keys()}:
            raise SystemExit(f"the shipped table holds the sentence of {UNSEEN_OP!r}; pick another unseen name")
        times["table load"] = time.perf_counter() - start
        start = time.perf_counter()
        table.lookup([UNSEEN_OP])
        times["first unseen op embedded"] = time.perf_counter() - start
    else:
        from tgnas_jax.predictor_files import load_predictor

        predictor = load_predictor()
        times["predictor load"] = time.perf_counter() - start
        start = time.perf_counter()
        cell = ArchGraph(np.eye(4, k=1, dtype=np.uint8), ("input", "conv3x3-bn-relu", UNSEEN_OP, "output"))
        predictor.score_graphs([cell])
        times["cell with unseen op scored"] = time.perf_counter() - start
    return times


def run_child(path: str, scenario: str, scratch: Path) -> dict[str, float]:
    """``child`` in a new interpreter, with an empty embedding cache; adds the process's wall time."""
    env = dict(os.environ, TGNAS_CACHE_DIR=tempfile.mkdtemp(dir=scratch))
    if path == "new+jax-cache":
        env.update(JAX_COMPILATION_CACHE_DIR=str(scratch / "jax"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", path, scenario], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{path} {scenario} child failed:\n{done.stderr}")
    return {**json.loads(done.stdout.splitlines()[-1]), "process wall": wall}


def fresh(runs: int, out: Path) -> int:
    """Time ``runs`` fresh processes per path and scenario, interleaved, and report medians."""
    samples: dict[str, dict[str, list[dict[str, float]]]] = {s: {p: [] for p in PATHS} for s in SCENARIOS}
    with tempfile.TemporaryDirectory() as scratch:
        for scenario in SCENARIOS:
            run_child("new+jax-cache", scenario, Path(scratch))  # untimed: fills the compilation cache
        for run, scenario in itertools.product(range(runs), SCENARIOS):
            for path in PATHS[run % len(PATHS) :] + PATHS[: run % len(PATHS)]:  # rotate who goes first
                samples[scenario][path].append(run_child(path, scenario, Path(scratch)))
                print(f"run {run + 1}/{runs} {scenario:<5} {path:<13} {samples[scenario][path][-1]}", flush=True)
    medians = {
        scenario: {path: {k: statistics.median(t[k] for t in times) for k in times[0]} for path, times in rows.items()}
        for scenario, rows in samples.items()
    }
    for scenario, rows in medians.items():
        names = list(rows["new"])
        print(f"\n{scenario}: median of {runs} fresh processes (s)")
        print(f"{'path':<14}" + "".join(f"{name:>28}" for name in names))
        for path, row in rows.items():
            print(f"{path:<14}" + "".join(f"{row[name]:>28.2f}" for name in names))
    result = {
        "unseen_op": UNSEEN_OP,
        "runs": runs,
        "median_s": medians,
        "samples_s": samples,
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="descriptions to embed (default: %(default)s)")
    parser.add_argument("--out", type=Path, help=f"JSON results (default: {DEFAULT_OUT}, with --fresh {FRESH_OUT})")
    parser.add_argument(
        "--fresh", type=int, metavar="RUNS", help="time the cold start in RUNS fresh processes per path"
    )
    parser.add_argument("--child", nargs=2, metavar=("PATH", "SCENARIO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.fresh:
        return fresh(args.fresh, args.out or FRESH_OUT)
    args.out = args.out or DEFAULT_OUT

    texts = descriptions(args.count)
    rows: dict[str, float] = {}
    table = OperatorEmbeddings.load(cache_path=None)
    names = [KNOWN_OPERATORS[i % len(KNOWN_OPERATORS)] for i in range(args.count)]
    rows["table lookup, 1,000 known op names (s)"] = timed(lambda: table.lookup(names), repeats=20)
    graphs = nb201_like_cells(256, np.random.default_rng(0))
    budget = Budget.fitting(graphs)
    rows["embed_batch, 256 NB201 cells (s)"] = timed(lambda: embed_batch(graphs, budget, table), repeats=20)

    start = time.perf_counter()
    encoder = MiniLMEncoder.load()
    rows["encoder load (s)"] = time.perf_counter() - start
    rows[f"encode {len(texts)} descriptions, cold: compile + run (s)"] = timed(lambda: encoder.encode(texts))
    rows[f"encode {len(texts)} descriptions, warm (s)"] = timed(lambda: encoder.encode(texts), repeats=3)
    rows["encode 1 description, warm (s)"] = timed(lambda: encoder.encode([texts[0]]), repeats=5)

    warm = rows[f"encode {len(texts)} descriptions, warm (s)"]
    lookup = rows["table lookup, 1,000 known op names (s)"]
    width = max(map(len, rows))
    print(f"{'measurement':<{width}}  {'value':>10}")
    for name, value in rows.items():
        print(f"{name:<{width}}  {value:>10.4f}")
    print(f"warm encoding: {len(texts) / warm:,.0f} sentences/s; table lookup: {args.count / lookup:,.0f} names/s")

    result = {
        "count": len(texts),
        "timings_s": rows,
        "compiled_shapes": sorted(encoder.compiled_shapes),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "jax": jax.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
