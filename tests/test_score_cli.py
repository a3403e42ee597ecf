"""``python -m tgnas_jax.score``: file or stdin in, CSV / JSONL / Parquet out, ranks, --top, truth, errors."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from tgnas_jax import score as cli
from tgnas_jax.spaces import DartsSpace, NB201Space
from tgnas_jax.spaces.darts import PUBLISHED

SPACE = NB201Space()
CELLS = [SPACE.format(a) for a in SPACE.samples(40, seed=3)]
BROKEN = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def loaded(tiny: Path):
    from tgnas_jax.predictor_files import load_predictor

    return load_predictor(tiny)


@pytest.fixture(autouse=True)
def _reuse_the_loaded_predictor(monkeypatch: pytest.MonkeyPatch, tiny: Path, loaded) -> None:
    """Each CLI call would load (and so compile) its own copy; the checkpoint path is still checked."""

    def load(path: Path | None, members: int | None = None):
        assert path == tiny and members is None
        return loaded

    monkeypatch.setattr(cli, "load_predictor", load)


@pytest.fixture(scope="module")
def expected(loaded) -> np.ndarray:
    return loaded.score([*CELLS, BROKEN], SPACE)


@pytest.fixture
def cells_file(tmp_path: Path) -> Path:
    path = tmp_path / "cells.txt"
    path.write_text("# NB201 cells\n" + "\n".join([*CELLS, "", BROKEN]) + "\n")
    return path


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, tiny: Path) -> int:
    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    return cli.main([*argv, "--predictor", str(tiny), "--chunk-size", "16"])


def _strict(text: str):
    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_csv_rows_keep_input_order_with_scores_and_ranks(
    cells_file: Path, tmp_path: Path, tiny: Path, expected: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "scores.csv"
    assert _run([str(cells_file), "--space", "nb201", "--out", str(out)], monkeypatch, tiny) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["arch"] for r in rows] == [*CELLS, BROKEN] and [int(r["index"]) for r in rows] == list(range(41))
    scores = np.array([float(r["score"]) for r in rows])
    np.testing.assert_allclose(scores[:-1], expected[:-1], rtol=1e-5, atol=1e-5)
    assert rows[-1]["score"] == "-inf" and int(rows[-1]["rank"]) == 41  # a broken cell ranks last
    ranks = [int(r["rank"]) for r in rows]
    assert sorted(ranks) == list(range(1, 42))
    assert ranks[int(np.argmax(scores))] == 1


def test_chunking_does_not_change_a_score(cells_file: Path, tiny: Path, monkeypatch, capsys) -> None:
    outputs = []
    for chunk in ("5", "1000"):
        assert cli.main([str(cells_file), "--space", "nb201", "--predictor", str(tiny), "--chunk-size", chunk]) == 0
        outputs.append(capsys.readouterr().out)
    tables = [list(csv.DictReader(io.StringIO(out))) for out in outputs]
    for table in tables[1:]:
        assert [r["rank"] for r in table] == [r["rank"] for r in tables[0]]
        np.testing.assert_allclose(
            [float(r["score"]) for r in table], [float(r["score"]) for r in tables[0]], 1e-5, 1e-5
        )


def test_stdin_to_jsonl_is_strict_and_top_k_comes_best_first(
    tiny: Path, expected: np.ndarray, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(("\n".join([BROKEN, *CELLS]) + "\n").encode())))
    assert _run(["--space", "nb201", "--to", "jsonl", "--top", "3"], monkeypatch, tiny) == 0
    rows = [_strict(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    best = np.argsort(-expected[:-1], kind="stable")[:3]
    assert [r["arch"] for r in rows] == [CELLS[i] for i in best]
    assert [r["index"] for r in rows] == [i + 1 for i in best]  # the broken cell came first in the input


def test_broken_cells_are_null_in_json(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text(BROKEN + "\n" + CELLS[0] + "\n")
    assert _run([str(source), "--space", "nb201", "--out", str(out)], monkeypatch, tiny) == 0
    rows = [_strict(line) for line in out.read_text().splitlines()]
    assert rows[0]["score"] is None and rows[0]["rank"] == 2 and math.isfinite(rows[1]["score"])


def test_csv_and_jsonl_inputs_read_the_named_column(tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    table, lines = tmp_path / "runs.csv", tmp_path / "runs.jsonl"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "cell"])
        writer.writerows([[f"run{i}", c] for i, c in enumerate(CELLS[:5])])
    lines.write_text("".join(json.dumps({"cell": c, "n": i}) + "\n" for i, c in enumerate(CELLS[:5])))
    outputs = []
    for source in (table, lines):
        assert _run([str(source), "--space", "nb201", "--column", "cell"], monkeypatch, tiny) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == 6


def test_darts_genotypes_score_like_the_api(tiny: Path, loaded, tmp_path: Path, monkeypatch, capsys) -> None:
    space = DartsSpace()
    genotypes = [space.format(g) for g in PUBLISHED.values()]
    source = tmp_path / "genotypes.txt"
    source.write_text("\n".join(genotypes) + "\n")
    assert _run([str(source), "--space", "darts"], monkeypatch, tiny) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    np.testing.assert_allclose([float(r["score"]) for r in rows], loaded.score(genotypes, space), rtol=1e-6)


def test_true_accuracies_join_when_the_table_is_reachable(tiny: Path, data_dir: Path, cells_file: Path, capsys):
    from tgnas_jax.data import load_nb201

    assert cli.main([str(cells_file), "--space", "nb201", "--predictor", str(tiny), "--data-dir", str(data_dir)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    table = load_nb201(data_dir)
    row = table.index_of(CELLS[0])
    for name in ("cifar10", "cifar100", "imagenet16"):
        assert float(rows[0][name]) == pytest.approx(float(getattr(table, name)[row]), abs=1e-4)


def test_parquet_output_reads_back(cells_file: Path, tmp_path: Path, tiny: Path, expected, monkeypatch) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet output needs pyarrow (the test extra has it)")
    out = tmp_path / "scores.parquet"
    assert _run([str(cells_file), "--space", "nb201", "--out", str(out)], monkeypatch, tiny) == 0
    table = pq.read_table(out).to_pydict()
    assert table["arch"] == [*CELLS, BROKEN] and table["score"][-1] == -math.inf
    np.testing.assert_allclose(table["score"][:-1], expected[:-1], rtol=1e-5, atol=1e-5)


def test_an_invalid_line_stops_with_its_line_number_and_writes_nothing(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "in.txt", tmp_path / "out.csv"
    source.write_text(f"{CELLS[0]}\n|bogus~0|\n{CELLS[1]}\n")
    assert _run([str(source), "--space", "nb201", "--out", str(out)], monkeypatch, tiny) == 1
    err = capsys.readouterr().err
    assert f"{source} line 2: bad NB201 arch string" in err and "--skip-invalid" in err
    assert not out.exists() and list(tmp_path.iterdir()) == [source]  # no output, no temporary file left


def test_skip_invalid_writes_the_error_and_ranks_the_rest(tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "in.txt"
    source.write_text(f"{CELLS[0]}\n|bogus~0|\n{CELLS[1]}\n")
    assert _run([str(source), "--space", "nb201", "--skip-invalid"], monkeypatch, tiny) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert rows[1]["score"] == "" and rows[1]["rank"] == "" and "bad NB201 arch string" in rows[1]["error"]
    assert sorted(int(rows[i]["rank"]) for i in (0, 2)) == [1, 2] and rows[0]["error"] == ""
    assert "1 invalid" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--space", "nb201", "--top", "0"], "--top: must be in [1,"),
        (["--space", "nb201", "--chunk-size", "x"], "--chunk-size: expected an integer"),
        (["--space", "nb999"], "invalid choice: 'nb999'"),
        (["--space", "nb201", "--to", "parquet"], "Parquet output needs a file"),
        (["--space", "nb201", "--out", "/proc/forbidden/x.csv"], "argument --out: cannot write"),
        (["/no/such/file.txt", "--space", "nb201"], "input '/no/such/file.txt' is not a file"),
        (["--space", "nb201", "--quiet", "--verbose"], "not allowed with argument"),
        (["--space", "nb201", "--members", "0"], "--members: must be at least 1, got 0"),
        (["--space", "nb201", "--members", "two"], "--members: expected an integer, got 'two'"),
    ],
)
def test_bad_options_exit_2_naming_the_problem(argv, message, capsys, tmp_path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(tmp_path / "cells.txt") if a == "CELLS" else a for a in argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_bad_records_name_their_line(tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    cases = {
        "no_column.csv": ("name,arch2\na,b\n", "no column 'arch' in the CSV header"),
        "bad.jsonl": ('{"arch": "x"}\n{oops\n', "line 2: not JSON"),
        "number.jsonl": ('{"arch": 5}\n', "line 1: the field 'arch' is 5, not an architecture string"),
        "latin1.txt": (b"\xff\xfe|x|\n", "line 1: not UTF-8 text"),
    }
    for name, (content, message) in cases.items():
        source = tmp_path / name
        source.write_bytes(content if isinstance(content, bytes) else content.encode())
        assert _run([str(source), "--space", "nb201"], monkeypatch, tiny) == 1
        assert message in capsys.readouterr().err, name


def test_help_is_plain_text_with_an_example(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "python -m tgnas_jax.score cells.txt --space nb201" in text and "``" not in text and ":class:" not in text


def test_describe_overrides_reach_the_scores(hash_embedded, tmp_path: Path, monkeypatch, capsys) -> None:
    """--describe gives an operator another sentence for this run: scores of cells using it change, others not."""
    predictor, encoder = hash_embedded
    monkeypatch.setattr(cli, "load_predictor", lambda path, members: predictor)
    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    source = tmp_path / "in.txt"
    conv = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    pool = "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"
    source.write_text(f"{conv}\n{pool}\n")
    runs = []
    for extra in ([], ["--describe", "nor_conv_3x3=A learned wavelet transform"]):
        assert cli.main([str(source), "--space", "nb201", "--no-prior", *extra]) == 0
        runs.append({r["arch"]: float(r["score"]) for r in csv.DictReader(io.StringIO(capsys.readouterr().out))})
    assert runs[0][conv] != runs[1][conv] and runs[0][pool] == runs[1][pool]
    assert "A learned wavelet transform" in encoder.encoded


def test_no_prior_scores_the_gcn_alone(cells_file: Path, tiny: Path, loaded, monkeypatch, capsys) -> None:
    assert _run([str(cells_file), "--space", "nb201", "--no-prior"], monkeypatch, tiny) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = loaded.score([*CELLS, BROKEN], SPACE, prior=False)
    np.testing.assert_allclose([float(r["score"]) for r in rows][:-1], expected[:-1], rtol=1e-5, atol=1e-5)


def test_members_scores_with_the_first_members_only(cells_file: Path, tiny: Path, monkeypatch, capsys) -> None:
    from tgnas_jax.predictor_files import load_predictor

    monkeypatch.setattr(cli, "load_predictor", load_predictor)
    assert _run([str(cells_file), "--space", "nb201", "--members", "1"], monkeypatch, tiny) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = load_predictor(tiny, members=1).score(CELLS, SPACE)
    np.testing.assert_allclose([float(r["score"]) for r in rows][:-1], expected, rtol=1e-5, atol=1e-5)
    assert _run([str(cells_file), "--space", "nb201", "--members", "3"], monkeypatch, tiny) == 1
    assert "members=3, but the checkpoint's ensemble has 2" in capsys.readouterr().err


def test_a_space_spec_file_is_scored(tiny: Path, loaded, tmp_path: Path, monkeypatch, capsys) -> None:
    from tgnas_jax.spaces import load_space

    spec = tmp_path / "cell.toml"
    spec.write_text('kind = "cell"\nname = "c"\nedges = [[0, 1], [1, 2], [0, 2]]\nchoices = ["nor_conv_3x3", "none"]\n')
    source = tmp_path / "in.txt"
    source.write_text("nor_conv_3x3,nor_conv_3x3,none\nnone,none,nor_conv_3x3\n")
    assert _run([str(source), "--space", str(spec)], monkeypatch, tiny) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = loaded.score(source.read_text().split(), load_space(spec))
    np.testing.assert_allclose([float(r["score"]) for r in rows], expected, rtol=1e-5, atol=1e-5)
