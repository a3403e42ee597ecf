"""``python -m tgnas_jax.embed``: sentences, the similarity table, derived and overridden sentences."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tgnas_jax.embed import main
from tgnas_jax.embeddings import DescriptionFallbackWarning, MissingWeightsError, shared_encoder


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(tmp_path))
    return tmp_path / "operator_embeddings.npz"


def _similarities(out: str) -> dict[str, list[float]]:
    rows = out.split("cosine similarity")[1].splitlines()[2:]
    return {row.split()[0]: [float(x) for x in row.split()[1:]] for row in rows if row.strip()}


def test_known_operators_print_sentences_and_similarities(capsys, private_cache):
    assert main(["conv3x3-bn-relu", "conv5x5", "maxpool3x3"]) == 0
    out = capsys.readouterr().out
    assert "'Convolution 3x3'" in out and "'Max pooling 3x3'" in out and "derived" not in out
    sims = _similarities(out)
    assert sims["conv3x3-bn-relu"][0] == pytest.approx(1.0, abs=1e-3)
    assert sims["conv3x3-bn-relu"][1] > sims["conv3x3-bn-relu"][2]
    assert not private_cache.exists()  # nothing had to be embedded


def test_lengths_are_selectable(capsys):
    assert main(["nor_conv_1x1", "none", "--length", "medium"]) == 0
    out = capsys.readouterr().out
    assert "'Convolution 1 by 1 kernel, Batchnorm, ReLU'" in out and "'Doing nothing'" in out


@pytest.mark.slow
def test_unknown_and_overridden_operators(capsys, private_cache):
    try:
        shared_encoder()
    except MissingWeightsError as err:
        pytest.skip(str(err))
    with pytest.warns(DescriptionFallbackWarning, match="wavelet_7x7"):
        assert main(["wavelet_7x7", "nor_conv_3x3", "mine", "--describe", "mine=A learned gating layer"]) == 0
    out = capsys.readouterr().out
    assert "'Wavelet 7x7'  (derived from the name)" in out
    assert "'A learned gating layer'  (from --describe)" in out
    assert set(_similarities(out)) == {"wavelet_7x7", "nor_conv_3x3", "mine"}
    assert private_cache.is_file()


@pytest.mark.parametrize("argv", [["none", "--describe", "no-equals-sign"], ["none", "--length", "huge"], [""], []])
def test_bad_arguments_exit_with_usage(capsys, argv):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_runs_as_a_module(private_cache):
    env = {**os.environ, "TGNAS_CACHE_DIR": str(private_cache.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "tgnas_jax.embed", "skip_connect", "none", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "'Residual connection'" in done.stdout and "cosine similarity" in done.stdout
    assert done.stderr == ""


def test_help_is_plain_text_with_defaults_and_an_example(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out and ":func:" not in out
    assert "(default: short)" in out and "--describe OP=TEXT" in out
    assert "example:\n  python -m tgnas_jax.embed " in out


def test_a_known_operator_described_twice_takes_the_last_sentence(capsys):
    assert main(["none", "--describe", "none=Nothing at all", "--describe", "none=Doing nothing", "--no-cache"]) == 0
    assert "'Doing nothing'  (from --describe)" in capsys.readouterr().out  # a table sentence: nothing to embed
