"""The transfer-benchmark CLI: strict JSON, markdown, plots, and one-line errors."""

import json

import pytest

from tgnas_jax.evaluate import main


def test_cli_writes_json_markdown_and_plots(data_dir, tmp_path, make_tiny_predictor):
    make_tiny_predictor().save(tmp_path / "tiny")
    out = tmp_path / "out" / "r"
    main(["--space", "nb301", "--predictor", str(tmp_path / "tiny"), "--data-dir", str(data_dir)]
         + ["--resamples", "10", "--out", str(out)])  # fmt: skip
    text = (tmp_path / "out" / "r.json").read_text()
    report = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    (nb301,) = report["sets"]
    assert nb301["set"] == "nb301" and nb301["size"] == 725
    assert {"tg-nas", "gcn", "params"} <= set(nb301["datasets"]["cifar10"]["all"])
    markdown = (tmp_path / "out" / "r.md").read_text()
    assert markdown.startswith("# Transfer benchmark") and "| nwot |" in markdown
    for suffix in ("_scatter.png", "_rho.png", "_heatmap.png"):
        assert (tmp_path / "out" / f"r{suffix}").stat().st_size > 10_000


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
