"""Data-parallel scoring: four forced CPU devices give the one-device scores, each device scoring its share.

The device count is fixed when jax starts, so the four-device side runs this file as a script.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import tgnas_jax
from tgnas_jax import parallel
from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.spaces import NB201Space

SPACE = NB201Space()
#: Not a multiple of 4, so the last chunk is padded; the broken cell scores -inf on any device.
CELLS = [SPACE.format(a) for a in SPACE.samples(37, seed=5)] + ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
DENSE_SEED, DENSE_ROWS = 7, 21
#: A random search: its population is scored by Problem.scores inside the jitted search, spread like the rest.
SEARCH = {"method": "random", "population": 8, "evaluations": 30}


def _report(path: str) -> dict:
    """What the four-device process measures: which devices each scoring call's results live on, and the scores."""
    predictor = load_predictor(path)
    spans: dict[str, list[list[int]]] = {"packed": [], "encoded": []}

    def spy(fn, kind):
        def call(*args):
            out = fn(*args)
            first = out[0] if isinstance(out, tuple) else out  # the encoded program returns the prior's terms
            spans[kind].append(sorted(d.id for d in first.sharding.device_set))
            return out

        return call

    predictor._ensemble_packed = spy(predictor._ensemble_packed, "packed")
    encoded = predictor._encoded_scoring(SPACE, None)
    predictor._encoded[predictor._space_key(SPACE, None)] = dataclasses.replace(
        encoded, program=spy(encoded.program, "encoded")
    )
    scores = predictor.score(CELLS, SPACE)
    graphs = predictor.score_graphs([SPACE.to_graphs(SPACE.parse(c))[0] for c in CELLS])
    odd = jax.jit(lambda x: parallel.over_devices(lambda y: y * 2.0, x))(np.arange(6.0))
    found = tgnas_jax.search("nb201", predictor, **SEARCH)
    return {
        "devices": len(jax.devices()),
        "spans": spans,
        "scores": [float(s) for s in scores],
        "graphs": [float(s) for s in graphs],
        "dense": [float(s) for s in _dense(predictor)],
        "odd": odd.tolist(),
        "odd_devices": len(odd.sharding.device_set),
        "search": [found.arch_text, found.score],
    }


def _dense(predictor, batch_size=None):
    rng = np.random.default_rng(DENSE_SEED)
    adjacency = np.triu(rng.integers(0, 2, (DENSE_ROWS, 5, 5)), 1).astype(np.uint8)
    ops = rng.integers(0, 3, (DENSE_ROWS, 5)).astype(np.int32)
    return predictor.score_dense(
        adjacency, ops, np.ones((DENSE_ROWS, 5), np.float32), ("input", "output", "conv3x3-bn-relu"), batch_size
    )


def test_one_device_runs_unsplit() -> None:
    assert len(jax.local_devices()) == 1 and parallel.device_count() == 1
    assert parallel.round_up(5) == 5 and parallel.split([1, 2, 3]) == [[1, 2, 3]]


def test_rows_per_call_fit_the_node_budget() -> None:
    budget = parallel.NODES_PER_CALL["cpu"]
    assert parallel.rows_per_call(8) == budget // 8 and parallel.rows_per_call(budget * 10) == 1
    sizes = [parallel.rows_per_call(n) for n in range(1, 100)]
    assert sizes == sorted(sizes, reverse=True) and all(s & (s - 1) == 0 for s in sizes)  # powers of two


@pytest.mark.parametrize("total", [5, 8, 13])
def test_chunks_give_the_whole_batch_result(total: int) -> None:
    rows = np.arange(total * 3.0).reshape(total, 3)
    calls = []

    def fn(x, y):
        calls.append(x.shape[0])
        return x.sum(axis=1) * y

    got = jax.jit(lambda x, y: parallel.in_chunks(fn, 4, x, y))(rows, np.arange(total, dtype=np.float64))
    np.testing.assert_allclose(got, rows.sum(axis=1) * np.arange(total))
    assert calls == [min(total, 4)]  # traced once, at chunk size (or the whole batch when it is smaller)


def test_over_devices_in_chunks_scores_as_one_call(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    predictor = load_predictor(tiny)
    whole = _dense(predictor)
    chunks = []

    def spy(fn, rows, *batch):
        chunks.append((rows, batch[0].shape[0]))
        return in_chunks(fn, rows, *batch)

    in_chunks = parallel.in_chunks
    monkeypatch.setattr(parallel, "in_chunks", spy)
    monkeypatch.setitem(parallel.NODES_PER_CALL, "cpu", 20)  # chunks of 4 rows of 5 nodes
    predictor = load_predictor(tiny)
    np.testing.assert_allclose(_dense(predictor, batch_size=DENSE_ROWS), whole, rtol=1e-6, atol=1e-6)
    assert chunks == [(4, DENSE_ROWS)]  # 21 rows in 6 chunks, the last padded


@pytest.mark.slow
def test_four_devices_score_as_one(tiny: Path, tmp_path: Path) -> None:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    env["TGNAS_CACHE_DIR"] = str(tmp_path)  # the child's stored programs and statistics stay in the test's folder
    child = subprocess.run(
        [sys.executable, __file__, str(tiny)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    got = json.loads(child.stdout.strip().splitlines()[-1])
    assert got["devices"] == 4
    for kind, spans in got["spans"].items():
        assert spans and all(span == [0, 1, 2, 3] for span in spans), kind
    assert got["odd"] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0] and got["odd_devices"] == 4

    predictor = load_predictor(tiny)
    expected = predictor.score(CELLS, SPACE)
    assert np.isneginf(expected[-1])
    np.testing.assert_allclose(got["scores"], expected, rtol=1e-5, atol=1e-6)
    graphs = predictor.score_graphs([SPACE.to_graphs(SPACE.parse(c))[0] for c in CELLS])
    np.testing.assert_allclose(got["graphs"], graphs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["dense"], _dense(predictor), rtol=1e-5, atol=1e-6)
    alone = tgnas_jax.search("nb201", predictor, **SEARCH)
    assert got["search"][0] == alone.arch_text
    assert got["search"][1] == pytest.approx(alone.score, rel=1e-5, abs=1e-6)


if __name__ == "__main__":  # the four-device side of test_four_devices_score_as_one
    print(json.dumps(_report(sys.argv[1])))
