"""``python -m tgnas_jax.search``: sizes, seeds and the output path are checked before anything is loaded or run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tgnas_jax.search import __main__ as cli
from tgnas_jax.search.api import SearchResult


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks must fail first: loading the predictor or searching is a test failure."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the CLI got past its argument checks")

    monkeypatch.setattr(cli, "load_predictor", refuse)
    monkeypatch.setattr(cli, "search", refuse)


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # Used to try to allocate ~70 TB, then fail inside XLA.
        (
            ["--population", "1000000000"],
            "--population: must be at most 16,384, got 1,000,000,000; that search would need ~70 TB of memory "
            "and 61,000,000,000 predictor queries (~17.7 days",
        ),
        (["--space", "darts", "--population", "100000"], "~23 GB of memory"),
        (["--generations", "1000000000"], "--generations: must be at most 100,000, got 1,000,000,000"),
        (["--population", "10000", "--generations", "20000"], "(--generations + 1): must be at most 100,000,000"),
        (["--population", "1" + "0" * 100], "more than ~"),  # past float range: no OverflowError
        (["--seed", "1e23"], "--seed: expected an integer in [0, 2**32), got '1e23'"),
        (["--seed", str(10**23)], "--seed: must be in [0, 2**32), got 100000000000000000000000"),  # was OverflowError
        (["--seed", "-1"], "--seed: must be in [0, 2**32), got -1"),
        (["--seed", str(2**32)], "--seed: must be in [0, 2**32)"),
        (["--setting", "imagenet"], "--setting: only the darts space has one; --space is nb201"),
        (["--space", "nb101", "--dataset", "cifar100"], "--dataset: only the nb201 space has one; --space is nb101"),
        (["--space", "darts", "--dataset", "cifar100"], "--dataset: only the nb201 space has one; --space is darts"),
        (["--space", "darts", "--setting", "cifar100"], "--setting: invalid choice: 'cifar100'"),
        (["--plot", "/proc/forbidden/search.png"], "--plot: cannot write '/proc/forbidden/search.png'"),
        (["--plot", "search.xyz"], "--plot: cannot write 'search.xyz': matplotlib writes no .xyz files; use .png"),
        (["--plot", "search"], "--plot: cannot write 'search': no suffix tells matplotlib the format; use .png"),
    ],
)
def test_sizes_and_seeds_are_bounded(
    argv: list[str], message: str, nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    last = _error(argv, capsys)
    assert last.startswith("python -m tgnas_jax.search: error: argument ") and message in last


def test_the_largest_allowed_sizes_pass_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    reached = []
    monkeypatch.setattr(cli, "load_predictor", lambda path, members: reached.append(path) or sys.exit(0))
    argv = ["--population", str(cli.MAX_POPULATION), "--generations", "1", "--seed", str(2**32 - 1)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0 and reached == [None]


def test_json_path_is_checked_before_the_search(
    tmp_path: Path, nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A search of minutes used to end in a traceback when its JSON could not be written."""
    assert _error(["--json", str(tmp_path)], capsys).endswith(f"cannot write '{tmp_path}': it is a directory")
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    last = _error(["--json", str(blocker / "deeper" / "out.json")], capsys)
    assert f"cannot write '{blocker / 'deeper' / 'out.json'}': '{blocker}' is not a directory" in last


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_json_in_a_read_only_folder_is_refused(
    tmp_path: Path, nothing_runs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    assert "is not writable" in _error(["--json", str(folder / "out.json")], capsys)


def test_json_to_a_new_folder_passes_the_check(tmp_path: Path) -> None:
    assert cli.unwritable(tmp_path / "new" / "folders" / "out.json") is None
    assert not (tmp_path / "new").exists()  # the check creates nothing


def test_a_failed_write_after_the_search_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Should the path become unwritable during the search, the CLI still reports it in one line."""
    result = SearchResult("nb201", "prune", ("none",) * 6, "|none~0|+...", 0.5, 1, 1, 0.1, 1)
    monkeypatch.setattr(cli, "load_predictor", lambda path, members: None)
    monkeypatch.setattr(cli, "search", lambda *args, **kwargs: result)
    monkeypatch.setattr(cli, "has_truth", lambda space: False)
    monkeypatch.setattr(cli, "unwritable", lambda path: None)
    assert cli.main(["--method", "prune", "--json", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"error: could not write '{tmp_path}': Is a directory"
