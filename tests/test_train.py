"""A tiny real training run on NB101: it must learn, resume, and be reproducible."""

import dataclasses
import json

import numpy as np
import pytest

import tgnas_jax.train as train_module
from tgnas_jax.data import load_nb101
from tgnas_jax.model import ModelConfig
from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.train import TrainConfig, claim_run_dir, feature_noise_scales, main, override, split_nb101, train
from tgnas_jax.training import insert_identity_nodes
from tgnas_jax.transfer import load_sets

TINY = TrainConfig(
    model=ModelConfig(hidden=32, layers=2),
    epochs=3,
    batch_size=128,
    train_fraction=0.01,
    val_size=1000,
    seeds=(0,),
)


@pytest.fixture(scope="module")
def tiny_run(data_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    predictor, report = train(TINY, str(data_dir), run_dir)
    return predictor, report, run_dir


def test_tiny_run_reduces_loss_and_ranks_held_out_cells(tiny_run):
    _, report, _ = tiny_run
    history = report["members"][0]["history"]
    assert len(history) == TINY.epochs
    assert history[-1]["loss"] < history[0]["loss"]
    assert report["val"]["kendall_tau"] > 0.2


def test_training_is_deterministic_and_resumes_from_its_checkpoint(data_dir, tiny_run):
    predictor, _, run_dir = tiny_run
    table = load_nb101(str(data_dir))
    rows = np.arange(200)
    expected = predictor.score([table.graph(i) for i in rows])
    # Same run directory: every epoch is already checkpointed, so this only restores.
    resumed, report = train(TINY, str(data_dir), run_dir)
    assert len(report["members"][0]["history"]) == TINY.epochs  # kept from the first run
    with pytest.raises(ValueError, match="another training config"):
        train(dataclasses.replace(TINY, epochs=TINY.epochs + 1), str(data_dir), run_dir)
    np.testing.assert_allclose(resumed.score([table.graph(i) for i in rows]), expected, rtol=1e-5, atol=1e-5)


def test_split_keeps_transfer_operator_out_of_training(data_dir):
    table = load_nb101(str(data_dir))
    split = split_nb101(table, dataclasses.replace(TINY, transfer_op="maxpool3x3"))
    pool = table.op_names.index("maxpool3x3")
    assert not (table.ops[split.train] == pool).any()
    assert (table.ops[split.transfer] == pool).any(axis=1).all()
    assert not np.intersect1d(split.train, split.val).size
    with pytest.raises(ValueError, match="not an NB101 operator"):
        split_nb101(table, dataclasses.replace(TINY, transfer_op="sep_conv_3x3"))


def test_command_lineoverrides_are_typed():
    cfg = override(TrainConfig(), "model.hidden", "32")
    cfg = override(cfg, "seeds", "0,1,2")
    cfg = override(cfg, "transfer_op", "none")
    assert cfg.model.hidden == 32 and cfg.seeds == (0, 1, 2) and cfg.transfer_op is None
    with pytest.raises(KeyError, match="unknown config field"):
        override(cfg, "model.width", "3")


def test_nb201_mixing_adds_its_operators_and_bars_nb201_evaluation(data_dir, tmp_path):
    cfg = dataclasses.replace(TINY, epochs=1, train_fraction=0.002, mix_nb201=True)
    predictor, report = train(cfg, str(data_dir))
    assert report["train_cells"] > 15_000  # NB201's trainable cells joined the NB101 ones
    assert {"nor_conv_3x3", "avg_pool_3x3", "skip_connect"} <= set(predictor.op_vectors)
    predictor.save(tmp_path / "mixed", metadata={"train_config": dataclasses.asdict(cfg)})
    with pytest.raises(ValueError, match="trained on NB201 labels"):
        load_sets(["nb201"], load_predictor(tmp_path / "mixed"), str(data_dir))


def test_cli_progress_goes_to_stderr_and_quiet_leaves_only_the_report(data_dir, tmp_path, capsys):
    sets = ["epochs=1", "train_fraction=0.002", "val_size=200", "seeds=0", "model.hidden=16"]
    argv = ["--out", str(tmp_path / "out"), "--data-dir", str(data_dir), *(f"--set={s}" for s in sets)]
    main([*argv, "--quiet"])
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["members"][0]["seed"] == 0
    main(argv)  # the same run again: its checkpoint restores, and says so
    out, err = capsys.readouterr()
    assert "seed 0: resuming after epoch 0" in err and f"wrote the predictor to {tmp_path / 'out'}" in err
    assert json.loads(out)["members"][0]["seed"] == 0


def test_feature_noise_is_scaled_to_each_block_of_columns():
    rng = np.random.default_rng(0)
    embedding, attributes = rng.normal(scale=0.1, size=(5, 6)), rng.normal(scale=2.0, size=(5, 2))
    vectors = np.concatenate([embedding, attributes], axis=1).astype(np.float32)
    one = feature_noise_scales(vectors, 0.5, [8])
    spread = np.sqrt(np.mean(np.sum((vectors - vectors.mean(axis=0)) ** 2, axis=1)))
    np.testing.assert_allclose(one, np.full(8, 0.5 * spread / np.sqrt(8)), rtol=1e-6)
    two = feature_noise_scales(vectors, 0.5, [6, 2])
    assert len(set(two[:6].tolist())) == len(set(two[6:].tolist())) == 1
    assert two[6] > 5 * two[0]  # each block blurred on its own scale
    assert not feature_noise_scales(vectors, 0.0, [6, 2]).any()
    with pytest.raises(ValueError, match=r"feature blocks \[6\] cover 6 of 8 columns"):
        feature_noise_scales(vectors, 0.5, [6])


def _contract_identities(adjacency: np.ndarray, ops: np.ndarray, identity_op: int) -> np.ndarray:
    """Each identity node replaced by the edge it sits on."""
    adjacency = adjacency.astype(int)
    for node in np.flatnonzero(ops == identity_op):
        (sender,), (receiver,) = np.flatnonzero(adjacency[:, node]), np.flatnonzero(adjacency[node])
        adjacency[sender, receiver], adjacency[:, node], adjacency[node] = 1, 0, 0
    return adjacency


def test_identity_nodes_are_spliced_into_edges_and_compute_the_same_cell():
    rng = np.random.default_rng(0)
    cells, slots, identity = 400, 9, 7
    used = rng.integers(2, 8, cells)
    real = np.arange(slots)[None] < used[:, None]
    # Random DAGs over each cell's real nodes (upper triangular), ops 0 ... 4.
    edges = np.triu(rng.random((cells, slots, slots)) < 0.4, 1) & real[:, :, None] & real[:, None, :]
    adjacency = edges.astype(np.uint8)
    ops = np.where(real, rng.integers(0, 5, (cells, slots)), -1).astype(np.int32)
    mask = real.astype(np.float32)
    before = (adjacency.copy(), ops.copy(), mask.copy())
    spliced, new_ops, new_mask = insert_identity_nodes(adjacency, ops, mask, identity, 3, rng)
    for given, kept in zip(before, (adjacency, ops, mask), strict=True):
        np.testing.assert_array_equal(given, kept)  # the inputs are left alone
    added = (new_ops == identity).sum(axis=1)
    room = np.minimum(slots - used, adjacency.sum(axis=(1, 2)))
    assert (added <= np.minimum(room, 3)).all() and set(added[room >= 3]) == {0, 1, 2, 3}
    np.testing.assert_array_equal(new_mask, new_ops >= 0)
    np.testing.assert_array_equal(np.where(new_ops == identity, -1, new_ops), ops)  # only free slots filled
    for b in range(cells):
        np.testing.assert_array_equal(_contract_identities(spliced[b], new_ops[b], identity), adjacency[b])


def test_identity_nodes_are_spliced_into_the_training_batches(data_dir, monkeypatch):
    spliced = []

    def recording(*args):
        cells = insert_identity_nodes(*args)
        spliced.append((cells[1] == args[3]).sum())
        return cells

    monkeypatch.setattr(train_module, "insert_identity_nodes", recording)
    cfg = dataclasses.replace(TINY, epochs=2, identity_nodes=2)
    predictor, report = train(cfg, str(data_dir))
    vocab = list(load_nb101(str(data_dir)).op_names) + ["skip_connect"]
    assert len(spliced) == cfg.epochs * (report["train_cells"] // cfg.batch_size)  # every batch of every epoch
    assert all(n > 0 for n in spliced)
    assert sorted(predictor.op_vectors) == sorted(vocab)
    assert report["val"]["kendall_tau"] > 0.2


def test_a_run_dir_stamped_before_a_field_was_added_still_resumes(tmp_path):
    run_dir = tmp_path / "run"
    claim_run_dir(run_dir, TINY).release()
    stamp = run_dir / "train_config.json"
    older = json.loads(stamp.read_text())
    del older["identity_nodes"]
    stamp.write_text(json.dumps(older))
    claim_run_dir(run_dir, TINY).release()  # the missing field at its default: the same training
    stamp.write_text(json.dumps(older))
    with pytest.raises(ValueError, match="another training config"):
        claim_run_dir(run_dir, dataclasses.replace(TINY, identity_nodes=2))
    stamp.write_text("{not json")
    with pytest.raises(ValueError, match="has an unreadable train_config.json"):
        claim_run_dir(run_dir, TINY)


def test_a_distilled_step_trains_towards_the_teacher_not_the_labels():
    import jax
    import jax.numpy as jnp
    import optax

    from tgnas_jax.batching import DenseCells
    from tgnas_jax.model import GCN
    from tgnas_jax.training import Cells, Teacher, TrainState, make_train_step

    rng = np.random.default_rng(0)
    adjacency = np.triu(rng.integers(0, 2, (16, 5, 5)), 1).astype(np.uint8)
    ops = rng.integers(0, 3, (16, 5)).astype(np.int32)
    mask = np.ones((16, 5), np.float32)
    op_table = jnp.asarray(rng.normal(size=(3, 8)), jnp.float32)
    graph = DenseCells(jnp.asarray(adjacency), jnp.asarray(ops), jnp.asarray(mask))
    model = GCN(ModelConfig(hidden=8, layers=2))
    members = [model.init(jax.random.PRNGKey(k), graph, op_table)["params"] for k in (1, 2)]
    teacher = Teacher(model, jax.tree.map(lambda *xs: jnp.stack(xs), *members))
    taught = np.mean([model.apply({"params": p}, graph, op_table) for p in members], axis=0)
    params = model.init(jax.random.PRNGKey(3), graph, op_table)["params"]
    mine = model.apply({"params": params}, graph, op_table)
    labels = jnp.asarray(rng.normal(size=16), jnp.float32)
    optimizer = optax.sgd(0.0)
    state = TrainState(step=jnp.array(0), params=params, opt_state=optimizer.init(params))
    cells = Cells(graph.adjacency, graph.ops, graph.mask, labels)
    for distill, target in ((1.0, taught), (0.5, 0.5 * labels + 0.5 * taught), (0.0, labels)):
        step = make_train_step(model, optimizer, "mse", distill=distill)
        _, loss = step(state, cells, op_table, jax.random.PRNGKey(0), teacher)
        np.testing.assert_allclose(float(loss), float(np.mean((mine - target) ** 2)), rtol=1e-5)
    with pytest.raises(ValueError, match="needs a teacher"):
        make_train_step(model, optimizer, "mse", distill=1.0)(state, cells, op_table, jax.random.PRNGKey(0))


def test_substitution_replaces_only_operation_nodes_with_drawn_operators():
    ops = np.array([[0, 2, 3, 1, -1], [0, 1, -1, -1, -1]], np.int32)
    eligible = np.array([False, False, True, True, False, False, False])
    choices = np.array([5, 6])
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(train_module.substitute_ops(ops, eligible, choices, 0.0, rng), ops)
    every = train_module.substitute_ops(ops, eligible, choices, 1.0, rng)
    replaced = np.isin(ops, [2, 3])
    assert np.isin(every[replaced], choices).all()
    np.testing.assert_array_equal(every[~replaced], ops[~replaced])  # input, output and padding stay
    assert "maxpool3x3" in train_module.SUBSTITUTES and "input" not in train_module.SUBSTITUTES


def test_a_student_copies_a_teacher_of_its_own_split_only(data_dir, tiny_run, tmp_path):
    teacher, _, _ = tiny_run
    teacher.save(tmp_path / "teacher", metadata={"train_config": dataclasses.asdict(TINY)})
    cfg = dataclasses.replace(TINY, epochs=2, teacher=str(tmp_path / "teacher"), distill_ops=0.5)
    student, report = train(cfg, str(data_dir))
    assert len(student.members) == 1 and sorted(student.op_vectors) == sorted(teacher.op_vectors)
    assert report["val"]["kendall_tau"] > 0.2
    with pytest.raises(ValueError, match=r"another split: transfer_op=None \(this run: 'maxpool3x3'\)"):
        train(dataclasses.replace(cfg, transfer_op="maxpool3x3"), str(data_dir))
    with pytest.raises(train_module.ConfigError, match="distill_ops needs a teacher and distill=1"):
        train(dataclasses.replace(cfg, distill=0.5), str(data_dir))
