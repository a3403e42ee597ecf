"""Training configs are checked against their annotations and bounds before any data is read."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optax
import pytest

from tgnas_jax import train as train_module
from tgnas_jax.model import ModelConfig
from tgnas_jax.train import (
    BOUNDS,
    ConfigError,
    TrainConfig,
    _field_names,
    learning_rate_schedule,
    main,
    override,
    split_nb101,
    train,
    validate_config,
)


def _literal_fields(cfg: Any, prefix: str = "") -> list[tuple[str, tuple[Any, ...]]]:
    """Every ``Literal`` field of the config, found the way the validator finds them (new fields included)."""
    found = []
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            found += _literal_fields(value, f"{prefix}{f.name}.")
        elif typing.get_origin(hints[f.name]) is Literal:
            found.append((prefix + f.name, typing.get_args(hints[f.name])))
    return found


LITERALS = _literal_fields(TrainConfig())


def test_the_literal_fields_named_in_the_issue_are_found() -> None:
    names = {name for name, _ in LITERALS}
    assert {"loss", "model.direction", "model.norm", "model.readout", "embedding.length", "embedding.features"} <= names


@pytest.mark.parametrize(("name", "choices"), LITERALS, ids=[name for name, _ in LITERALS])
def test_literal_fields_take_their_choices_only(name: str, choices: tuple[Any, ...]) -> None:
    for choice in choices:
        validate_config(override(TrainConfig(), name, str(choice)))
    with pytest.raises(ConfigError) as caught:
        override(TrainConfig(), name, "bogus")
    message = str(caught.value)
    assert message.startswith(f"{name} must be one of") and "'bogus'" in message
    assert all(repr(choice) in message for choice in choices)


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("YES", True), ("1", True), ("false", False), ("no", False), ("0", False)]
)
def test_bools_read_the_usual_spellings(raw: str, expected: bool) -> None:
    assert override(TrainConfig(), "mix_nb201", raw).mix_nb201 is expected


@pytest.mark.parametrize("raw", ["ture", "2", "", "on"])
def test_other_bool_spellings_are_errors_not_false(raw: str) -> None:
    """``mix_nb201=ture`` used to turn NB201 mixing silently off."""
    with pytest.raises(ConfigError, match=r"mix_nb201 must be true or false \(or 1/0, yes/no\)"):
        override(TrainConfig(), "mix_nb201", raw)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("batch_size", "0", "batch_size must be >= 1, got 0"),
        ("batch_size", "1.5", "batch_size must be an integer, got '1.5'"),
        ("epochs", "-1", "epochs must be >= 1"),
        ("model.hidden", "0", "model.hidden must be >= 1"),
        ("model.layers", "-2", "model.layers must be >= 1"),
        ("val_size", "-1", "val_size must be >= 2"),
        ("learning_rate", "nan", "learning_rate must be a finite number, got 'nan'"),
        ("learning_rate", "inf", "learning_rate must be a finite number"),
        ("learning_rate", "0", r"learning_rate must be > 0"),
        ("model.dropout", "1", r"model.dropout must be in \[0, 1\), got 1.0"),
        ("model.dropout", "-0.1", r"model.dropout must be in \[0, 1\)"),
        ("train_fraction", "0", r"train_fraction must be in \(0, 1\], got 0.0"),
        ("train_fraction", "1.01", r"train_fraction must be in \(0, 1\]"),
        ("weight_decay", "-1e-3", "weight_decay must be >= 0"),
        ("embedding.dim", "1000", r"embedding.dim must be in \[1, 384\]"),
        ("seeds", "0,-1", r"seeds must be in \[0, 4294967296\), got -1"),
        ("seeds", "1,1", "distinct seeds"),
        ("seeds", "", "distinct seeds"),
        ("seeds", "0,x", "seeds must be an integer, got 'x'"),
        ("split_seed", str(2**32), "split_seed must be in"),
    ],
)
def test_numbers_are_typed_and_bounded(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(override(TrainConfig(), name, raw))


def test_a_group_of_fields_cannot_be_set_to_a_scalar() -> None:
    with pytest.raises(ConfigError, match="model is a group of fields; set one of model.hidden, model.layers"):
        override(TrainConfig(), "model", "5")
    with pytest.raises(KeyError, match="loss has no sub-fields"):
        override(TrainConfig(), "loss.kind", "mse")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": 5}, "model must be ModelConfig, got 5"),
        ({"loss": "bogus"}, "loss must be one of"),
        ({"epochs": True}, "epochs must be an integer, got True"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"seeds": [0, 1]}, "seeds must be comma-separated values, each an integer"),
        ({"model": ModelConfig(norm="batch")}, "model.norm must be one of 'graph', 'layer', 'none', got 'batch'"),  # type: ignore[arg-type]
    ],
)
def test_configs_built_in_python_are_checked_too(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(dataclasses.replace(TrainConfig(), **change))


def test_defaults_validate_and_bounds_name_real_fields() -> None:
    validate_config(TrainConfig())
    assert set(BOUNDS) <= set(_field_names(TrainConfig()))


def test_train_checks_its_config_before_reading_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        train(dataclasses.replace(TrainConfig(), epochs=0), str(tmp_path / "no-data"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("loss=bogus", "--set loss=bogus: loss must be one of 'mse', 'pairwise', 'mse+pairwise', 'mse+top', got"),
        ("mix_nb201=ture", "--set mix_nb201=ture: mix_nb201 must be true or false"),
        ("model=5", "--set model=5: model is a group of fields"),
        ("model.width=3", "--set model.width=3: unknown config field 'width'"),
        ("learning_rate=nan", "learning_rate must be a finite number"),
        ("model.dropout=1", "--set: model.dropout must be in [0, 1), got 1.0"),
    ],
)
def test_cli_rejects_bad_settings_before_loading_data(
    setting: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_data(*args: object) -> None:
        raise AssertionError("data loaded before the config was checked")

    monkeypatch.setattr(train_module, "load_nb101", no_data)
    with pytest.raises(SystemExit) as exit_info:
        main(["--set", setting, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("python -m tgnas_jax.train: error: ") and message in last


def test_module_entry_point_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tgnas_jax.train", "--set", "loss=bogus", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "loss must be one of" in errors[0]
    assert "Traceback" not in run.stderr and not (tmp_path / "x").exists()


def test_schedule_is_warmup_then_cosine_and_one_step_runs_at_the_peak() -> None:
    """A one-step run used to fail: optax's cosine_decay_schedule requires positive decay_steps."""
    for total in (2, 9, 40, 4_000, 50_000):
        warmup = min(500, max(total // 10, 1))
        expected = optax.warmup_cosine_decay_schedule(0.0, 1e-3, warmup, total)
        steps = np.unique(np.linspace(0, total, 17).astype(int))
        schedule = learning_rate_schedule(1e-3, total)
        np.testing.assert_allclose([schedule(s) for s in steps], [expected(s) for s in steps])
    assert float(learning_rate_schedule(1e-3, 1)(0)) == pytest.approx(1e-3)


TINY = TrainConfig(
    model=ModelConfig(hidden=8, layers=1), epochs=1, batch_size=64, train_fraction=1e-4, val_size=64, seeds=(0,)
)


def test_an_empty_training_split_names_the_fields(data_dir: Path) -> None:
    table = train_module.load_nb101(str(data_dir))
    with pytest.raises(ValueError, match="no NB101 cells left to train on: val_size=10000000 takes all"):
        split_nb101(table, dataclasses.replace(TINY, val_size=10_000_000))


@pytest.mark.slow
def test_a_one_step_run_trains(data_dir: Path) -> None:
    """epochs=1 on a single batch: one optimiser step, which used to die in optax."""
    predictor, report = train(TINY, str(data_dir))
    history = report["members"][0]["history"]
    assert report["train_cells"] == TINY.batch_size and len(history) == 1
    assert np.isfinite(history[0]["loss"]) and len(predictor.members) == 1


def test_fewer_cells_than_a_batch_is_a_clear_error(data_dir: Path) -> None:
    usable = int((train_module.load_nb101(str(data_dir)).test_accuracy >= TINY.min_accuracy).sum())
    with pytest.raises(ValueError, match="10 training cells make no batch of batch_size=64"):
        train(dataclasses.replace(TINY, val_size=usable - 10), str(data_dir))
