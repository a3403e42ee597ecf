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
from tgnas_jax.spaces import DartsSpace, NB201Space


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch, predictor: Predictor) -> list:
    """The CLI's checkpoint loader, answering with the tiny predictor and noting the path asked for."""
    asked: list = []

    def load(path: Path | None, members: int | None = None) -> Predictor:
        asked.append(path if members is None else (path, members))
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
    assert cli.main(["--predictor", str(tmp_path), "--members", "2", "--json", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert shipped == [(tmp_path, 2)]
    assert "no true accuracies" in stderr and "percentile" not in stdout
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


@pytest.mark.parametrize(("setting", "budget"), [(None, 3.3e6), ("imagenet", 4.7e6)])
def test_darts_sizes_and_budgets_are_those_of_the_setting_network(
    setting: str | None, budget: float, shipped: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CIFAR-10 budget (DARTS-V2 has 3.35 M) used to be checked against the ImageNet network, and reported there."""
    out = tmp_path / "result.json"
    argv = ["--space", "darts", "--method", "evolve", "--population", "8", "--generations", "2"]
    argv += ["--max-params", str(budget), "--json", str(out)] + (["--setting", setting] if setting else [])
    assert cli.main(argv) == 0
    space = DartsSpace(setting=setting or "cifar10")
    payload = json.loads(out.read_text())
    arch = space.parse(payload["arch"])
    assert payload["params"] == space.num_params(arch) <= budget
    assert payload["flops"] == space.num_flops(arch) and payload["network"] == space.network
    stdout = capsys.readouterr().out
    assert f"params          {space.num_params(arch) / 1e6:.3f} M  ({space.network})" in stdout
    assert ("ImageNet mobile network" if setting else "CIFAR-10 network (C=36, 20 cells") in stdout


def test_nb201_dataset_picks_the_network_sizes_count(
    shipped: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    out = tmp_path / "result.json"
    assert cli.main(["--method", "prune", "--dataset", "imagenet16", "--json", str(out)]) == 0
    space = NB201Space(num_classes=120, input_size=16)
    payload = json.loads(out.read_text())
    arch = space.parse(payload["arch"])
    assert (payload["params"], payload["flops"]) == (space.num_params(arch), space.num_flops(arch))
    assert "(ImageNet16-120 network (120 classes, 16x16))" in capsys.readouterr().out


def test_quiet_keeps_only_the_report_and_verbose_adds_details(
    shipped: list, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--method", "prune", "--data-dir", str(data_dir)]
    assert cli.main(argv) == 0
    stdout, stderr = capsys.readouterr()
    assert "prune: score" in stderr and "prune: score" not in stdout  # progress goes to stderr, through logging
    assert cli.main([*argv, "--quiet"]) == 0
    quiet_out, quiet_err = capsys.readouterr()
    assert quiet_err == "" and quiet_out == stdout.replace(_time_line(stdout), _time_line(quiet_out))
    assert cli.main([*argv, "--verbose"]) == 0
    verbose_err = capsys.readouterr().err
    assert "prune: score" in verbose_err and "sizes and budgets count the CIFAR-10 network" in verbose_err


def _time_line(report: str) -> str:
    return next(line for line in report.splitlines() if line.startswith("time"))


def test_plot_writes_an_image_of_every_part(
    shipped: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import matplotlib.image

    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    out = tmp_path / "plots" / "search.png"
    assert cli.main(["--generations", "3", "--plot", str(out)]) == 0
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 200 and image.std() > 0
    assert f"wrote {out}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "spec",
    [
        '{"kind": "cell", "name": "mycell", "edges": [[0, 1], [0, 2], [1, 2]], '
        '"choices": ["none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3"]}',
        '{"kind": "chain", "name": "mychain", "layers": ['
        + ", ".join(['{"choices": ["skip_connect", "nor_conv_3x3", "nor_conv_1x1"], "width": 16}'] * 4)
        + "]}",
    ],
    ids=["cell", "chain"],
)
def test_a_space_spec_file_is_searched(
    spec: str, shipped: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "space.json"
    path.write_text(spec)
    out = tmp_path / "result.json"
    assert cli.main(["--space", str(path), "--generations", "5", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["space"] in ("mycell", "mychain") and payload["params"] > 0 and "network" in payload["network"]
    assert payload["arch"] in capsys.readouterr().out


def test_a_bad_space_spec_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "space.toml"
    path.write_text('kind = "chain"\nname = "m"\n')
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--space", str(path)])
    assert exit_info.value.code == 2 and "missing 1 required positional argument: 'layers'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--space", "nb999"])
    assert "invalid choice: 'nb999'" in capsys.readouterr().err
