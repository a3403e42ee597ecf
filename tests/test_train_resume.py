"""Killed at any moment, a resumed training run must be the uninterrupted one, dropout and feature
noise included; and a second process on a busy run directory must be refused at once."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from filelock import FileLock
from jax.experimental.compilation_cache import compilation_cache
from orbax.checkpoint._src.path import atomicity

import tgnas_jax.train as train_module
from tgnas_jax.data import load_nb101
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import fit_reduction, operator_vectors
from tgnas_jax.train import TrainConfig, main, split_nb101, train
from tgnas_jax.training import make_predict, predict_all

pytestmark = pytest.mark.slow

#: tests/test_train.py's TINY with two members (so a kill can fall between them) and dropout: with
#: feature noise (on by default) the RNG key drives every step.
CFG = TrainConfig(
    model=ModelConfig(hidden=32, layers=2, dropout=0.1),
    epochs=3,
    batch_size=128,
    train_fraction=0.01,
    val_size=1000,
    seeds=(0, 1),
)
#: One member suffices for the kills inside member 0 (members train independently).
ONE = dataclasses.replace(CFG, seeds=(0,))
SETS = [
    "model.hidden=32",
    "model.layers=2",
    "model.dropout=0.1",
    "epochs=3",
    "batch_size=128",
    "train_fraction=0.01",
    "val_size=1000",
    "seeds=0",
]
CACHE_OPTIONS = {
    "jax_compilation_cache_dir": None,
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": 0,
}


class Killed(BaseException):
    """Stands for SIGKILL: a BaseException, so no ``except Exception`` on the way can handle it."""


@pytest.fixture(scope="module", autouse=True)
def compile_cache(tmp_path_factory):
    """Each train() call compiles the same steps again (~10 s); a persistent cache makes that ~1 s.
    The JAX options are restored afterwards, for the other test modules."""
    path = tmp_path_factory.mktemp("jax_cache")
    saved = {name: getattr(jax.config, name) for name in CACHE_OPTIONS}
    compilation_cache.reset_cache()
    for name, value in {**CACHE_OPTIONS, "jax_compilation_cache_dir": str(path)}.items():
        jax.config.update(name, value)
    yield path
    for name, value in saved.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()


@pytest.fixture(scope="module")
def val_scores(data_dir):
    """Scores of the validation cells under a member's parameters, as ``train`` validates them."""
    table = load_nb101(str(data_dir))
    cells = train_module._dense(table, split_nb101(table, CFG).val)
    op_table = jnp.asarray(operator_vectors(list(table.op_names), CFG.embedding, fit_reduction(CFG.embedding)))
    predict = make_predict(GCN(CFG.model))  # compiled once for every run of the module
    return lambda params: predict_all(predict, params, *cells, op_table)


@pytest.fixture(scope="module")
def reference(data_dir, val_scores):
    """The uninterrupted run (without checkpoints, as nothing is resumed) and its members' validation scores."""
    predictor, report = train(CFG, str(data_dir))
    return predictor, report, [val_scores(member) for member in predictor.members]


def assert_same_run(reference, predictor, report, val_scores, run_dir: Path) -> None:
    """Each member bitwise the same as the reference's: parameters, validation scores and history,
    in the report and in the readable copy on disk."""
    ref_predictor, ref_report, ref_scores = reference
    assert len(predictor.members) == len(report["members"])
    for i, (member, metrics) in enumerate(zip(predictor.members, report["members"], strict=True)):
        leaves = jax.tree_util.tree_leaves
        for ref_leaf, leaf in zip(leaves(ref_predictor.members[i]), leaves(member), strict=True):
            np.testing.assert_array_equal(np.asarray(leaf), np.asarray(ref_leaf))
        np.testing.assert_array_equal(val_scores(member), ref_scores[i])
        history = ref_report["members"][i]["history"]
        assert [h["epoch"] for h in metrics["history"]] == list(range(CFG.epochs))
        assert metrics["history"] == history
        assert json.loads((run_dir / f"member_{CFG.seeds[i]}" / "history.json").read_text()) == history


def epochs_on_disk(member_dir: Path) -> tuple[list[int], list[int]]:
    """The committed checkpoint steps, and the epochs of the readable history copy."""
    steps = sorted(int(p.name) for p in member_dir.iterdir() if p.name.isdigit())
    history = json.loads((member_dir / "history.json").read_text()) if (member_dir / "history.json").exists() else []
    return steps, [h["epoch"] for h in history]


def kill_at_commit(monkeypatch, epoch: int, after: bool) -> None:
    """Kill member 0's save of ``epoch`` just before orbax commits it (renames the finished temporary
    directory into place), or just after."""
    commit = atomicity.on_commit_callback

    async def dying_commit(tmp_dir, **kwargs):
        final = Path(tmp_dir.get_final())
        if after:
            await commit(tmp_dir, **kwargs)
        if final.name == str(epoch) and final.parent.name == "member_0":
            raise Killed
        if not after:
            await commit(tmp_dir, **kwargs)

    monkeypatch.setattr(atomicity, "on_commit_callback", dying_commit)


def test_kill_during_checkpoint_save_resumes_identically(data_dir, reference, val_scores, tmp_path, monkeypatch):
    """(a) The interrupted save is lost whole (its epoch retrained), never half-read."""
    kill_at_commit(monkeypatch, epoch=1, after=False)
    with pytest.raises(Killed):
        train(ONE, str(data_dir), tmp_path)
    member_dir = tmp_path / "member_0"
    assert epochs_on_disk(member_dir) == ([0], [0])
    assert any(".orbax-checkpoint-tmp" in p.name for p in member_dir.iterdir())  # the save the kill cut short
    monkeypatch.undo()
    predictor, report = train(ONE, str(data_dir), tmp_path)
    assert_same_run(reference, predictor, report, val_scores, tmp_path)
    assert not any(".orbax-checkpoint-tmp" in p.name for p in member_dir.iterdir())


def test_kill_right_after_checkpoint_commit_loses_no_history(data_dir, reference, val_scores, tmp_path, monkeypatch):
    """(b) The history travels inside the checkpoint step: a kill after the commit, before the readable
    history.json copy is updated, still resumes with every epoch (the old gap gave ``[0, 2]``)."""
    kill_at_commit(monkeypatch, epoch=1, after=True)
    with pytest.raises(Killed):
        train(ONE, str(data_dir), tmp_path)
    # Epoch 1 committed (epoch 0 not yet pruned); the readable copy still ends at epoch 0.
    assert epochs_on_disk(tmp_path / "member_0") == ([0, 1], [0])
    monkeypatch.undo()
    predictor, report = train(ONE, str(data_dir), tmp_path)
    assert_same_run(reference, predictor, report, val_scores, tmp_path)


def test_sigkill_mid_epoch_resumes_identically(data_dir, reference, val_scores, tmp_path):
    """(c) A real SIGKILL half-way through member 0's second epoch, in a ``python -m tgnas_jax.train``
    process: the resumed run restarts that epoch with the checkpointed RNG key."""
    table = load_nb101(str(data_dir))
    steps_per_epoch = len(split_nb101(table, ONE).train) // CFG.batch_size
    # The child kills itself from inside its train step: the moment is exact, and the product has no hook.
    child = textwrap.dedent(
        """
        import os, signal, sys
        import tgnas_jax.train as train_module

        make_train_step, kill_at = train_module.make_train_step, int(sys.argv[1])

        def make_dying_step(*args, **kwargs):
            step, calls = make_train_step(*args, **kwargs), [0]

            def dying_step(*step_args):
                calls[0] += 1
                if calls[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return step(*step_args)

            return dying_step

        train_module.make_train_step = make_dying_step
        train_module.main(sys.argv[2:])
        """
    )
    out = tmp_path / "out"
    sets = [arg for item in SETS for arg in ("--set", item)]
    env = {
        **os.environ,
        "TGNAS_DATA_DIR": str(data_dir),
        "JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    kill_at = steps_per_epoch + steps_per_epoch // 2 + 1
    done = subprocess.run(
        [sys.executable, "-c", child, str(kill_at), "--out", str(out), *sets],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    run_dir = out / "run"
    assert epochs_on_disk(run_dir / "member_0") == ([0], [0])
    predictor, report = train(ONE, str(data_dir), run_dir)
    assert_same_run(reference, predictor, report, val_scores, run_dir)


def test_kill_between_members_resumes_identically(data_dir, reference, val_scores, tmp_path, monkeypatch):
    """(d) After member 0 finished and before member 1 started: member 0 is restored, not retrained."""
    train_member = train_module.train_member

    def dying_train_member(*args, **kwargs):
        if args[4] == 1:  # the seed
            raise Killed
        return train_member(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_member", dying_train_member)
    with pytest.raises(Killed):
        train(CFG, str(data_dir), tmp_path)
    assert epochs_on_disk(tmp_path / "member_0") == ([2], [0, 1, 2])
    assert not (tmp_path / "member_1").exists()
    monkeypatch.undo()
    predictor, report = train(CFG, str(data_dir), tmp_path)
    assert_same_run(reference, predictor, report, val_scores, tmp_path)


def test_second_process_on_a_run_dir_is_refused_at_once(data_dir, tmp_path, capsys):
    """While another process holds the run directory, main exits 1 with one line, before reading any data."""
    run_dir = tmp_path / "out" / "run"
    run_dir.mkdir(parents=True)
    with FileLock(run_dir / ".lock"):
        started = time.perf_counter()
        with pytest.raises(SystemExit) as exit_info:
            main(["--out", str(tmp_path / "out"), "--data-dir", str(data_dir)])
        elapsed = time.perf_counter() - started
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: run directory") and "in use by another training process" in err
    assert err.count("\n") == 1
    assert elapsed < 5
    assert not (run_dir / "train_config.json").exists()  # refused before it touched the directory


def test_checkpoints_without_rng_key_are_refused(data_dir, tmp_path):
    """A run directory of the older format (state only) cannot resume exactly, so it must not resume."""
    manager = ocp.CheckpointManager((tmp_path / "member_0").absolute())
    manager.save(0, args=ocp.args.StandardSave({"step": np.zeros(())}))
    manager.wait_until_finished()
    with pytest.raises(ValueError, match="predates checkpointed RNG keys"):
        train(ONE, str(data_dir), tmp_path)
