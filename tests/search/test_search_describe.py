"""``search(..., describe=...)``: the search scores with the caller's sentences, as ``Predictor.score`` does."""

from __future__ import annotations

import pytest

from tgnas_jax.search import search

WAVELET = {"nor_conv_3x3": "A learned wavelet filter"}


def test_search_scores_with_the_callers_descriptions(hash_embedded):
    predictor, encoder = hash_embedded
    described = search("nb201", predictor, method="random", evaluations=64, describe=WAVELET)
    assert encoder.encoded == ["A learned wavelet filter"]
    expected = predictor.score([described.arch], "nb201", describe=WAVELET)[0]
    assert described.score == pytest.approx(float(expected), abs=1e-4)
    plain = search("nb201", predictor, method="random", evaluations=64)  # the same draws, the table's sentences
    assert plain.score == pytest.approx(float(predictor.score([plain.arch], "nb201")[0]), abs=1e-4)
    assert plain.score != pytest.approx(described.score, abs=1e-4)


def test_bad_descriptions_are_refused_before_searching(hash_embedded):
    predictor, encoder = hash_embedded
    with pytest.raises(TypeError, match="must map operator names to sentences"):
        search("nb201", predictor, describe="nor_conv_3x3=wavelet")
    assert encoder.encoded == []
