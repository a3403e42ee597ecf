"""Streaming: chunks in order, exceptions where they belong, a stopped consumer stops the reader."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tgnas_jax.spaces import NB201Space, SpaceError
from tgnas_jax.streaming import chunked, prefetched, score_stream


def test_chunked_splits_in_order_and_checks_the_size():
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="chunk size"):
            list(chunked(range(3), bad))


def test_prefetched_converts_every_item_in_order():
    assert list(prefetched(iter(range(100)), lambda x: x * x)) == [x * x for x in range(100)]


def test_an_error_while_reading_surfaces_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for value in prefetched(items(), lambda x: x):
            seen.append(value)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_the_reader():
    read = []

    def endless():
        i = 0
        while True:
            read.append(i)
            yield i
            i += 1

    for value in prefetched(endless(), lambda x: x):
        if value == 3:
            break
    assert not any(t.name == "tgnas-prefetch" for t in threading.enumerate())
    assert len(read) <= 6  # at most a couple of items beyond what was consumed


def test_score_stream_equals_scoring_the_whole_list(make_tiny_predictor):
    predictor, space = make_tiny_predictor(), NB201Space()
    archs = [space.format(a) for a in space.samples(50, seed=4)]
    chunks = list(score_stream(predictor, (a for a in archs), "nb201", chunk_size=16))
    assert [len(c) for c in chunks] == [16, 16, 16, 2]
    np.testing.assert_allclose(np.concatenate(chunks), predictor.score(archs, space), rtol=1e-5, atol=1e-5)


def test_score_stream_raises_on_a_bad_architecture(make_tiny_predictor):
    archs = ["|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|bogus~0|"]
    with pytest.raises(SpaceError, match="bad NB201 arch string"):
        list(score_stream(make_tiny_predictor(), archs, "nb201"))
