"""How long operator embeddings take: MiniLM on 1,000 descriptions (cold and warm) vs the table lookup.

Cold includes tracing and compiling each (batch, length) bucket; warm re-encodes the same
sentences with everything compiled. The lookup rows time scoring-time work: 1,000 operator names
(and a padded batch's vocabulary) served from the shipped table, with no encoder loaded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
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
from tgnas_jax.graph import ArchGraph

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "embedding_speed.json"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="descriptions to embed (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default: %(default)s)")
    args = parser.parse_args(argv)

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
