"""The transfer-benchmark CLI: strict JSON, markdown, plots, and one-line errors."""

import json

import pytest

from tgnas_jax import evaluate
from tgnas_jax.evaluate import main


def test_cli_writes_json_markdown_and_plots(data_dir, tmp_path, make_tiny_predictor, capsys, monkeypatch):
    make_tiny_predictor().save(tmp_path / "tiny")
    reports = []
    real = evaluate.evaluate

    def evaluate_once(*args):
        """The second, quiet, run reuses the first run's reports: only what it prints is under test."""
        if not reports:
            reports.extend(real(*args))
        return reports

    monkeypatch.setattr(evaluate, "evaluate", evaluate_once)
    out = tmp_path / "out" / "r"
    argv = ["--space", "nb301", "--predictor", str(tmp_path / "tiny"), "--data-dir", str(data_dir)]
    main([*argv, "--resamples", "10", "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert stdout.startswith("# Transfer benchmark")  # the report on stdout, progress through logging on stderr
    assert "nb301: scoring 725 architectures" in stderr and f"wrote {out}.json" in stderr
    text = (tmp_path / "out" / "r.json").read_text()
    report = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    (nb301,) = report["sets"]
    assert nb301["set"] == "nb301" and nb301["size"] == 725
    assert {"tg-nas", "gcn", "params"} <= set(nb301["datasets"]["cifar10"]["all"])
    markdown = (tmp_path / "out" / "r.md").read_text()
    assert markdown.startswith("# Transfer benchmark") and "| nwot |" in markdown
    for suffix in ("_scatter.png", "_rho.png", "_heatmap.png"):
        assert (tmp_path / "out" / f"r{suffix}").stat().st_size > 10_000
    main([*argv, "--resamples", "10", "--out", str(tmp_path / "quiet"), "--quiet"])
    stdout, stderr = capsys.readouterr()
    assert stdout.startswith("# Transfer benchmark") and stderr == ""


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "r")])
    assert exit_info.value.code == 1
    assert "error: data directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--predictor", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])
    assert "predictor.json is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--space", "nb301", "--encoding", "paper", "--out", str(tmp_path / "r")])
    assert exit_info.value.code == 1 and "encoding must be one of" in capsys.readouterr().err
