"""Batch scoring at scale (issue 11): end-to-end cells/s from text, peak memory, and the forward vs the matmul limit.

Two parts, on whatever device JAX gives (the same script runs on CPU, GPU or TPU):

* **End to end.** For each space (NB201, NB101, DARTS, a declarative chain), N and ensemble size
  (``--members``: all, and the first member alone), a fresh process loads the shipped predictor,
  warms up on 256 other architectures, then scores N architecture strings it has never seen
  through ``tgnas_jax.score_stream`` (parse, choices, GCN, size prior). Reported: cells/s
  (median of ``--repeats``) and the process's peak RSS. Timings of the forward: medians of
  ``--forward-repeats``.
* **Forward.** The 4-member ensemble's (and its first member's) jitted forward on dense
  NB201-sized cells at batch sizes 256 .. 16,384, against (interleaved, same run) a reference
  forward written the way the official TG-NAS PyTorch GCN computes (dense normalised adjacency
  matmuls, one model), and against the device's float32 matmul limit (a 2048^3 matmul). FLOPs per
  cell come from XLA's cost analysis. All three compile with the library's XLA options
  (``tgnas_jax.compilation``), so the ratios compare programs, not compiler settings.

``python benchmarks/scale.py`` prints markdown tables and writes ``benchmarks/results/scale.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax import compilation, parallel

RESULTS = Path(__file__).resolve().parent / "results"
#: The chain space of the end-to-end runs: 12 MobileNet-style layers.
CHAIN = {
    "kind": "chain",
    "name": "mobile12",
    "layers": [
        {"choices": ["identity", "ir_k3_e3", "ir_k5_e6"] if stride == 1 else ["ir_k3_e3", "ir_k5_e6"], "stride": stride,
         "width": width}
        for stride, width in [(1, 16), (2, 24), (1, 24), (1, 24), (2, 40), (1, 40), (1, 40), (2, 80), (1, 80),
                              (1, 80), (1, 80), (2, 160)]
    ],
}  # fmt: skip

#: Run in a fresh process: ``SPACE N SEED SPEC MEMBERS`` (0: all) -> one JSON line.
CHILD = r"""
import json, resource, sys, time
import numpy as np
import tgnas_jax
from tgnas_jax.spaces import get_space
from tgnas_jax.spaces.declarative import space_from_spec

name, count, seed, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[5])
space = space_from_spec(json.loads(sys.argv[4])) if name == "chain" else get_space(name)
predictor = tgnas_jax.load_predictor(members=members or None)
rng = np.random.default_rng(seed)
texts = [space.format(space.sample(rng)) for _ in range(count + 256)]
for _ in tgnas_jax.score_stream(predictor, texts[count:], space):  # warm-up: compile, size prior
    pass
start = time.perf_counter()
total = sum(len(s) for s in tgnas_jax.score_stream(predictor, iter(texts[:count]), space))
seconds = time.perf_counter() - start
print(json.dumps({"n": total, "seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def end_to_end(space: str, count: int, seed: int, members: int, root: Path | None = None) -> dict:
    """:data:`CHILD`'s result in a fresh process, importing tgnas_jax from checkout ``root`` if given."""
    argv = [sys.executable, "-c", CHILD, space, str(count), str(seed), json.dumps(CHAIN), str(members)]
    env = None if root is None else {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env)
    if out.returncode:
        raise RuntimeError(f"{space} N={count}{f' in {root}' if root else ''} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def matmul_limit(repeats: int) -> float:
    """Float32 FLOP/s of a 2048^3 matmul on the default device (median)."""
    a = jnp.ones((2048, 2048), jnp.float32)
    f = compilation.jit(lambda x: x @ x)
    f(a).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * 2048**3 / statistics.median(times)


def reference_forward(dim: int, hidden: int, layers: int):
    """The official TG-NAS GCN's computation: dense normalised adjacency, ``relu(A @ H @ W)`` layers, mean, linear."""
    keys = jax.random.split(jax.random.PRNGKey(0), layers + 1)
    weights = [jax.random.normal(k, (dim if i == 0 else hidden, hidden)) * 0.1 for i, k in enumerate(keys[:-1])]
    head = jax.random.normal(keys[-1], (hidden, 1)) * 0.1

    def forward(adjacency: jax.Array, features: jax.Array) -> jax.Array:
        a = adjacency + jnp.eye(adjacency.shape[-1])
        a = a / a.sum(axis=-1, keepdims=True)
        h = features
        for w in weights:
            h = jax.nn.relu(a @ h @ w)
        return (h.mean(axis=1) @ head)[:, 0]

    return compilation.jit(forward)


def forward_rows(batches: list[int], repeats: int) -> tuple[float, list[dict]]:
    from tgnas_jax import load_predictor
    from tgnas_jax.spaces import NB201Space

    predictor = load_predictor()
    space = NB201Space()
    graphs = [space.to_graphs(a)[0] for a in space.samples(max(batches), seed=7)]
    n = max(g.num_nodes for g in graphs)
    vocab = tuple(dict.fromkeys(op for g in graphs for op in g.ops))
    adjacency = np.zeros((len(graphs), n, n), np.uint8)
    ops = np.zeros((len(graphs), n), np.int32)
    mask = np.zeros((len(graphs), n), np.float32)
    for i, g in enumerate(graphs):
        adjacency[i, : g.num_nodes, : g.num_nodes] = g.adjacency
        ops[i, : g.num_nodes] = [vocab.index(op) for op in g.ops]
        mask[i, : g.num_nodes] = 1
    table = predictor.op_table(vocab)
    output_id = jnp.asarray(vocab.index("output"))
    cfg = predictor.model_config
    reference = reference_forward(table.shape[1], cfg.hidden, cfg.layers)
    first = jax.tree.map(lambda x: x[:1], predictor._stacked)  # the first member alone
    limit = matmul_limit(repeats)
    # FLOPs per cell of a program of one chunk: a bigger batch loops over chunks (parallel.in_chunks),
    # and XLA's cost analysis counts a loop's body once.
    chunk = [jnp.asarray(x[: parallel.rows_per_call(n)]) for x in (adjacency, ops, mask)]
    cost = predictor._ensemble_dense.lower(predictor._stacked, *chunk, table, output_id).compile().cost_analysis()
    flops_per_cell = (cost[0] if isinstance(cost, list) else cost).get("flops", float("nan")) / len(chunk[0])
    rows = []
    for batch in batches:
        args = [jnp.asarray(x[:batch]) for x in (adjacency, ops, mask)]
        ours = functools.partial(predictor._ensemble_dense, predictor._stacked, op_table=table, output_id=output_id)
        one = functools.partial(predictor._ensemble_dense, first, op_table=table, output_id=output_id)
        dense = (args[0].astype(jnp.float32), table[args[1]] * args[2][..., None])
        runs = {"ensemble": (ours, args), "member": (one, args), "reference": (reference, dense)}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for fn, inputs in runs.values():
            fn(*inputs).block_until_ready()
        for _ in range(repeats):  # interleaved, so machine load hits all alike
            for name, (fn, inputs) in runs.items():
                start = time.perf_counter()
                fn(*inputs).block_until_ready()
                times[name].append(time.perf_counter() - start)
        seconds, reference_seconds = statistics.median(times["ensemble"]), statistics.median(times["reference"])
        rows.append(
            {
                "batch": batch,
                "cells_per_s": batch / seconds,
                "member_cells_per_s": batch / statistics.median(times["member"]),
                "reference_cells_per_s": batch / reference_seconds,
                "flops_per_cell": flops_per_cell,
                "fraction_of_limit": flops_per_cell * batch / seconds / limit,
            }
        )
    return limit, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="N per space")
    parser.add_argument("--darts-sizes", type=int, nargs="+", default=[1_000, 10_000], help="N for DARTS")
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per end-to-end row")
    parser.add_argument("--forward-repeats", type=int, default=21, help="interleaved timings per forward row")
    parser.add_argument(
        "--members", type=int, nargs="+", default=[0, 1], help="ensemble members end to end (0: all; load_predictor)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "scale")
    args = parser.parse_args(argv)
    device = jax.devices()[0]
    header = {
        "command": "python benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": f"{device.platform} {device.device_kind}",
        "devices": jax.device_count(),
        "machine": platform.processor() or platform.machine(),
    }
    ends = []
    for space, members in itertools.product(("nb201", "nb101", "darts", "chain"), args.members):
        for count in args.darts_sizes if space == "darts" else args.sizes:
            runs = [end_to_end(space, count, seed, members) for seed in range(args.repeats)]
            row = {
                "space": space,
                "members": members or "all",
                "n": count,
                "cells_per_s": statistics.median(r["n"] / r["seconds"] for r in runs),
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_rss_mb": max(r["rss_mb"] for r in runs),
            }
            ends.append(row)
            print(json.dumps(row), flush=True)
    limit, forwards = forward_rows(args.batches, args.forward_repeats)
    lines = [
        f"# Batch scoring at scale\n\n`{header['command']}` on {header['device']} ({header['devices']} device(s))\n",
        "## End to end from text (fresh process, architectures not scored before)\n",
        "| space | members | N | cells/s | seconds | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['space']} | {r['members']} | {r['n']:,} | {r['cells_per_s']:,.0f} | {r['seconds']:.2f} | "
            f"{r['peak_rss_mb']:,.0f} |"
            for r in ends
        ),
        f"\n## Ensemble forward (matmul limit {limit / 1e9:.0f} GFLOP/s)\n",
        "| batch | cells/s | reference GCN cells/s | ratio | one member cells/s | its ratio | FLOPs/cell | "
        "fraction of limit |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['batch']:,} | {r['cells_per_s']:,.0f} | {r['reference_cells_per_s']:,.0f} | "
            f"{r['cells_per_s'] / r['reference_cells_per_s']:.2f} | {r['member_cells_per_s']:,.0f} | "
            f"{r['member_cells_per_s'] / r['reference_cells_per_s']:.2f} | {r['flops_per_cell']:,.0f} | "
            f"{r['fraction_of_limit']:.1%} |"
            for r in forwards
        ),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {**header, "matmul_flops_per_s": limit, "end_to_end": ends, "forward": forwards}
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(text)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for space, members in dict.fromkeys((r["space"], r["members"]) for r in ends):
        points = [(r["n"], r["seconds"]) for r in ends if (r["space"], r["members"]) == (space, members)]
        ax.loglog(*zip(*points, strict=True), marker="o", label=f"{space}, members: {members}")
    ax.set(xlabel="architectures (N)", ylabel="seconds, end to end", title="Scoring time vs N")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
