"""The benchmark tables (NAS-Bench-101, NAS-Bench-201), read from a data directory.

The directory is ``--data-dir`` when given, else ``$TGNAS_DATA_DIR``; its layout is that of the
project's shared data (``nb101/derived/nb101_decoded.npz``, ``nb201/...``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TGNAS_DATA_DIR"


class DataError(ValueError):
    """A benchmark file that is missing or does not hold what it should."""


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: the argument, else ``$TGNAS_DATA_DIR``; it must exist."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not chosen:
        raise DataError(f"no data directory: pass --data-dir or set {DATA_DIR_ENV}")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        source = "--data-dir" if data_dir is not None else DATA_DIR_ENV
        raise DataError(f"data directory {str(path)!r} (from {source}) does not exist")
    return path
