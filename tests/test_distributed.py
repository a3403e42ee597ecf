"""``python -m tgnas_jax.score`` across processes: two jax.distributed CPU processes on loopback, one part each.

Their parts, in process order, are the one-process table: global indices, global ranks, the same scores.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tgnas_jax import score as cli
from tgnas_jax.spaces import NB201Space

SPACE = NB201Space()
CELLS = [SPACE.format(a) for a in SPACE.samples(23, seed=11)]
#: An invalid line (written with its error under --skip-invalid) and a broken cell (-inf), each in its own part.
INPUT = [CELLS[0], "|nor_conv_3x3~0|+|bogus~0|", *CELLS[1:], "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rows(text: str, fmt: str) -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


def _same(got: list[dict], want: list[dict]) -> None:
    assert [{k: v for k, v in r.items() if k != "score"} for r in got] == [
        {k: v for k, v in r.items() if k != "score"} for r in want
    ]
    for a, b in zip(got, want, strict=True):
        assert (a["score"] in ("", None)) == (b["score"] in ("", None))
        if a["score"] not in ("", None):
            assert float(a["score"]) == pytest.approx(float(b["score"]), rel=1e-5, abs=1e-6)


def _launch(argv: list[str], timeout: float = 240) -> list[tuple[int, str]]:
    """``python -m tgnas_jax.score ARGV`` as processes 0 and 1 of two, two CPU devices each: exit codes and stderr."""
    # Two devices each: every process also spreads its batches over its own devices (parallel.py).
    forced = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    env = {k: v for k, v in os.environ.items() if k != "TGNAS_DATA_DIR"} | forced
    hosts = ["--num-processes", "2", "--coordinator", f"127.0.0.1:{_free_port()}"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tgnas_jax.score", *argv, *hosts, "--process-id", str(i)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        logs = [p.communicate(timeout=timeout)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [(p.returncode, log) for p, log in zip(procs, logs, strict=True)]


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "extra"), [("csv", []), ("jsonl", ["--top", "5"])])
def test_two_processes_write_the_parts_of_one_table(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, extra: list[str]
) -> None:
    source = tmp_path / "cells.txt"
    source.write_text("\n".join(INPUT) + "\n")
    common = [str(source), "--space", "nb201", "--predictor", str(tiny), "--skip-invalid", "--chunk-size", "8", *extra]
    monkeypatch.delenv("TGNAS_DATA_DIR", raising=False)
    assert cli.main([*common, "--out", str(tmp_path / f"one.{fmt}"), "-q"]) == 0
    want = _rows((tmp_path / f"one.{fmt}").read_text(), fmt)

    ran = _launch([*common, "--out", str(tmp_path / f"two.{fmt}")])
    assert [code for code, _ in ran] == [0, 0], [log[-2000:] for _, log in ran]
    for i, (_, log) in enumerate(ran):
        assert f"process {i} of 2, 2 local devices" in log
    parts = [_rows((tmp_path / f"two.part{i}-of-2.{fmt}").read_text(), fmt) for i in range(2)]
    got = parts[0] + parts[1]
    if extra:  # --top K: each part holds its own of the global K best; merged, they sort by rank
        got.sort(key=lambda r: r["rank"])
    else:
        assert [int(r["index"]) for r in parts[0]] == list(range(len(INPUT) // 2))
    _same(got, want)


@pytest.mark.slow
def test_an_invalid_line_stops_every_process(tiny: Path, tmp_path: Path) -> None:
    source = tmp_path / "cells.txt"
    source.write_text("\n".join(INPUT) + "\n")  # the invalid line is in process 0's block
    ran = _launch([str(source), "--space", "nb201", "--predictor", str(tiny), "--out", str(tmp_path / "s.csv")])
    assert [code for code, _ in ran] == [1, 1], [log[-2000:] for _, log in ran]
    assert "line 2:" in ran[0][1] and "process 0 failed" in ran[1][1]
    assert not list(tmp_path.glob("s.*"))


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["-", "--out", "s.csv", "--num-processes", "2", "--process-id", "0"], "not stdin"),
        (["cells.txt", "--num-processes", "2", "--process-id", "0"], "give --out FILE"),
        (["cells.txt", "--out", "s.csv", "--num-processes", "2"], "go together"),
        (["cells.txt", "--out", "s.csv", "--num-processes", "2", "--process-id", "2"], "below --num-processes (2)"),
    ],
)
def test_bad_host_options_stop_before_jax_distributed_starts(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--space", "nb201"])
    assert stop.value.code == 2 and says in capsys.readouterr().err


def test_part_names_keep_the_suffix() -> None:
    assert cli.part_path(Path("out/s.csv"), 1, 4) == Path("out/s.part1-of-4.csv")
    assert cli.part_path(Path("s"), 0, 2) == Path("s.part0-of-2")
