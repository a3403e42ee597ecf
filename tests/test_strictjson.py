"""Strict JSON: what the project writes parses in strict parsers (no NaN / Infinity)."""

import json
import math

import numpy as np
import pytest

from tgnas_jax import strictjson


def _strict_loads(text: str):
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_and_private_keys_go():
    value = {"a": [1.0, math.inf, -math.inf, math.nan], "_scores": [1], "b": {"c": 2}}
    assert strictjson.strict(value) == {"a": [1.0, None, None, None], "b": {"c": 2}}


def test_numpy_values_are_written_as_plain_numbers():
    value = {"scores": np.array([1.5, -np.inf], np.float32), "best": np.float32(2.5), "n": np.int64(3)}
    assert _strict_loads(strictjson.dumps(value)) == {"scores": [1.5, None], "best": 2.5, "n": 3}


def test_the_standard_library_would_have_written_what_strict_parsers_reject():
    with pytest.raises(ValueError, match="Infinity"):
        _strict_loads(json.dumps({"history": [-math.inf, 1.0]}))
    assert _strict_loads(strictjson.dumps({"history": [-math.inf, 1.0]})) == {"history": [None, 1.0]}
