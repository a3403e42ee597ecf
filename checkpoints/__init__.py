"""The shipped predictors and operator-embedding table, as package data of ``tgnas_jax.checkpoints``.

The files stay in the repository's top-level ``checkpoints/`` folder; pyproject.toml maps that folder
into the package, so a wheel carries them and an editable install reads them where they are.
"""

from importlib.resources import files
from pathlib import Path


def shipped_path(name: str) -> Path:
    """``name`` (a predictor folder or a file) among the shipped checkpoints, as a path on disk."""
    return Path(str(files(__name__) / name))
