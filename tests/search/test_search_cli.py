"""``python -m tgnas_jax.search``: the report, the JSON, true accuracies when the table is there, clear errors."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tgnas_jax.predictor import Predictor
from tgnas_jax.search import __main__ as cli


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch, predictor: Predictor) -> list:
    """The CLI's checkpoint loader, answering with the tiny predictor and noting the path asked for."""
    asked: list = []

    def load(path: Path | None) -> Predictor:
        asked.append(path)
        return predictor

    monkeypatch.setattr(cli, "load_predictor", load)
    return asked


def test_default_search_reports_and_writes_json(
    shipped: list, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    assert cli.main(["--data-dir", str(data_dir), "--json", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert shipped == [None]  # the shipped predictor
    assert "prune:" in stderr and "evolve:" in stderr  # progress
    for label in ("architecture    |", "score", "params", "FLOPs", "time", "CIFAR-10", "CIFAR-100", "ImageNet16-120"):
        assert label in stdout
    payload = json.loads(out.read_text())
    assert payload["space"] == "nb201" and payload["method"] == "hybrid" and payload["seed"] == 0
    assert set(payload["parts"]) == {"prune", "evolve"}
    assert payload["arch"] in stdout and payload["params"] > 0 and payload["seconds"] > 0
    assert set(payload["true_accuracy"]) == {"cifar10", "cifar100", "imagenet16"}
    assert 0 < payload["true_accuracy"]["cifar10"]["percentile"] <= 100


def test_without_the_benchmark_table_the_accuracies_are_skipped_with_a_note(
    shipped: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    out = tmp_path / "result.json"
    assert cli.main(["--predictor", str(tmp_path), "--json", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert shipped == [tmp_path]
    assert "no true accuracies" in stderr and "CIFAR-10" not in stdout
    assert json.loads(out.read_text())["true_accuracy"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--population", "0"], "--population: must be at least 4, got 0"),
        (["--population", "-3"], "--population: must be at least 4, got -3"),
        (["--generations", "zero"], "--generations: expected an integer, got 'zero'"),
        (["--space", "nb999"], "--space: invalid choice: 'nb999'"),
        (["--max-params", "-1"], "--max-params: must be a positive number"),
        (["--max-params", "10"], "max_params=10 is below every nb201 architecture: the smallest achievable is 73,306"),
    ],
)
def test_bad_options_are_argparse_errors(
    argv: list[str], message: str, shipped: list, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_checkpoint_is_named_by_the_module_entry_point(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tgnas_jax.search", "--predictor", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        check=False,
        env={"TGNAS_CACHE_DIR": str(tmp_path / "cache"), "PATH": ""},
    )
    assert run.returncode == 1
    assert "no predictor checkpoint at" in run.stderr and "nowhere" in run.stderr


def test_a_damaged_data_directory_that_was_asked_for_fails_before_the_search(
    shipped: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tgnas_jax.data import NB201_FILE

    (tmp_path / NB201_FILE).parent.mkdir(parents=True)
    (tmp_path / NB201_FILE).write_bytes(bytes(range(256)))  # a binary file where the NB201 table should be
    assert cli.main(["--predictor", str(tmp_path), "--data-dir", str(tmp_path)]) == 1
    stdout, stderr = capsys.readouterr()
    assert stderr.startswith("error: ") and "nb201/" in stderr
    assert stdout == ""  # no search ran
    assert cli.main(["--predictor", str(tmp_path), "--data-dir", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc, where no file can be created")
def test_a_json_path_no_file_can_be_created_at_is_refused_before_the_search(
    shipped: list, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--json", "/proc/forbidden/result.json"])
    assert exit_info.value.code == 2
    stdout, stderr = capsys.readouterr()
    assert "argument --json: cannot write" in stderr and stdout == ""


def test_json_is_strict_when_the_history_holds_broken_scores(
    shipped: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A history starting on broken cells (-inf) is written as null, never as -Infinity."""
    real_search = cli.search

    def search_with_broken_start(*args, **kwargs):
        result = real_search(*args, **kwargs)
        return dataclasses.replace(result, history=(-math.inf, *result.history))

    monkeypatch.setattr(cli, "search", search_with_broken_start)
    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    out = tmp_path / "result.json"
    assert cli.main(["--method", "evolve", "--generations", "2", "--json", str(out)]) == 0

    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name}")

    payload = json.loads(out.read_text(), parse_constant=refuse)
    assert payload["history"][0] is None and all(isinstance(h, float) for h in payload["history"][1:])
