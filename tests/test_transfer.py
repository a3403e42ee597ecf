"""The transfer benchmark's sets, baselines and report, on the real tables with a tiny predictor."""

import dataclasses

import numpy as np
import pytest

from tgnas_jax import transfer
from tgnas_jax.graph import ArchGraph
from tgnas_jax.train import TrainConfig


def test_depth_and_operator_counts():
    adjacency = np.zeros((5, 5), np.uint8)
    for a, b in ((0, 1), (1, 2), (2, 4), (0, 3), (3, 4)):
        adjacency[a, b] = 1
    graph = ArchGraph(adjacency, ("input", "conv", "pool", "conv", "output"))
    assert transfer.depth(graph) == 2
    assert transfer.count_ops(graph, lambda op: op == "conv") == 2
    assert transfer.depth(ArchGraph(np.array([[0, 1], [0, 0]]), ("input", "output"))) == 0


@pytest.fixture(scope="module")
def nb301(data_dir):
    return transfer.nb301_set(str(data_dir))


def test_nb301_set_has_its_baselines_and_proxies(nb301):
    assert len(nb301) == 725 and set(nb301.truth) == {"cifar10"}
    assert {"params", "flops", "normal_depth", "convs", "normal_sep_convs"} <= set(nb301.baselines)
    assert all(len(v) == 725 and np.isfinite(v).all() for v in nb301.baselines.values())
    assert "synflow" in nb301.proxies["cifar10"].scorers


def test_log_flops_are_the_stored_ones_or_the_spaces_count(nb301):
    space, counted = nb301.space, nb301.all_log_flops()
    np.testing.assert_allclose(np.exp(counted[:5]), [space.num_flops(space.parse(a)) for a in nb301.archs[:5]])
    stored = dataclasses.replace(nb301, log_flops=np.arange(725.0))
    np.testing.assert_array_equal(stored.all_log_flops(), np.arange(725.0))


def test_run_reports_every_figure_with_intervals_and_member_spread(nb301, make_tiny_predictor):
    report = transfer.run(make_tiny_predictor(), nb301, resamples=20)
    entry = report["datasets"]["cifar10"]
    assert set(entry["all"]) == {*transfer.PREDICTOR_ROWS, *nb301.baselines}
    rho = entry["all"]["params"]["spearman"]
    assert rho["lo"] <= rho["value"] <= rho["hi"] and rho["delta_lo"] <= rho["delta_hi"]
    assert entry["all"]["params"]["spearman"]["value"] == pytest.approx(0.486, abs=0.005)
    assert entry["members"]["gcn"]["spearman"]["n"] == 2
    assert set(entry["proxies"]["correlation"]) >= {"tg-nas", "nwot", "accuracy"}
    # the size prior is on in "tg-nas", off in "gcn"
    assert not np.allclose(report["_scores"]["tg-nas"], report["_scores"]["gcn"])


def test_residual_encoding_changes_the_graphs_not_the_baselines(data_dir, nb301):
    residual = transfer.nb301_set(str(data_dir), encoding="residual")
    assert residual.space.encoding == "residual"
    for name, values in nb301.baselines.items():
        np.testing.assert_array_equal(values, residual.baselines[name])


def test_nb101_holdout_rebuilds_the_predictors_split(data_dir, make_tiny_predictor):
    cfg = dataclasses.replace(TrainConfig(), val_size=300, transfer_op="maxpool3x3")
    predictor = make_tiny_predictor(metadata={"train_config": dataclasses.asdict(cfg)})
    val, held_out = transfer.load_sets(["nb101-holdout"], predictor, str(data_dir))
    assert (val.name, len(val)) == ("nb101-val", 300)
    assert held_out.name == "nb101-without-maxpool3x3" and len(held_out) == 20_000
    assert all("maxpool3x3" in g.ops for g in held_out.archs[:100])
    assert 50 <= val.truth["cifar10"].min() and val.truth["cifar10"].max() <= 100  # percent, like the other sets
    report = transfer.run(predictor, val, resamples=10)
    scores = report["_scores"]
    assert not np.allclose(scores["tg-nas"], scores["gcn"])  # the size prior reads the table's FLOPs


def test_sets_refuse_what_they_cannot_evaluate(data_dir, make_tiny_predictor):
    with pytest.raises(ValueError, match="no training config"):
        transfer.load_sets(["nb101-holdout"], make_tiny_predictor(), str(data_dir))
    with pytest.raises(ValueError, match="unknown benchmark set"):
        transfer.load_sets(["nb999"], make_tiny_predictor(), str(data_dir))
    mixed = make_tiny_predictor(metadata={"train_config": {"mix_nb201": True}})
    with pytest.raises(ValueError, match="trained on NB201 labels"):
        transfer.load_sets(["all"], mixed, str(data_dir))
