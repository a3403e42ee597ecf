import json

import jax
import numpy as np
import pytest

from tgnas_jax.batching import dense_batch
from tgnas_jax.evaluate import correlations, main, top_k
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor


def test_broken_cells_rank_last_in_correlations():
    truth = np.array([1.0, 2.0, 3.0, 0.5])
    scores = np.array([1.0, 2.0, 3.0, -np.inf])
    assert correlations(scores, truth)["spearman_rho"] == pytest.approx(1.0)


def test_top_k_reads_the_predicted_favourites():
    truth = np.arange(200, dtype=float)
    metrics = top_k(truth[::-1].copy(), truth)  # exactly wrong ranking
    assert metrics["precision_top50"] == 0.0
    assert metrics["accuracy_of_predicted_best"] == 0.0
    assert top_k(truth, truth)["precision_top1pct"] == 1.0


def test_cli_writes_json_markdown_and_plot(data_dir, tmp_path):
    cfg = ModelConfig(hidden=8, layers=1)
    ops = ("input", "output", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    rng = np.random.default_rng(0)
    vectors = {op: rng.normal(size=6).astype(np.float32) for op in ops}
    example = dense_batch(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
    params = GCN(cfg).init(jax.random.PRNGKey(0), example, np.stack(list(vectors.values())))["params"]
    Predictor(cfg, EmbeddingConfig(), (params,), vectors).save(tmp_path / "tiny")
    main(["--predictor", str(tmp_path / "tiny"), "--data-dir", str(data_dir), "--out", str(tmp_path / "out" / "r")])
    report = json.loads((tmp_path / "out" / "r.json").read_text())
    assert report["cells"] == 15625
    assert set(report["cifar10"]) == {"tg-nas", "params", "flops"}
    assert report["cifar10"]["params"]["spearman_rho"] == pytest.approx(0.753, abs=0.01)
    assert "nwot" in report["zc_subset"]["cifar10"]["spearman_rho"]
    assert (tmp_path / "out" / "r.md").read_text().startswith("# Zero-shot NAS-Bench-201")
    assert (tmp_path / "out" / "r.png").stat().st_size > 10_000


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "r")])
    assert exit_info.value.code == 1
    assert "error: data directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--predictor", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])
    assert "predictor.json is missing" in capsys.readouterr().err
