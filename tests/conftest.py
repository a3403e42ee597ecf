"""Shared fixtures: the benchmark data directory, skipped cleanly when it is absent."""

from pathlib import Path

import pytest

from tgnas_jax.data import DataError, resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    try:
        return resolve_data_dir()
    except DataError as err:
        pytest.skip(f"benchmark tables unavailable ({err})")
