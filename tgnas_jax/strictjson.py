"""JSON that strict parsers accept: NaN and infinities become ``null``, numpy values plain numbers.

Python's ``json`` writes ``NaN`` / ``-Infinity`` by default, which JavaScript, ``jq`` and most
other languages reject; a broken cell's ``-inf`` score or an empty prune history would otherwise
leak them. Everything the project writes as JSON goes through :func:`dumps`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def strict(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and numpy scalars / arrays as Python numbers / lists.

    Mapping keys starting with ``_`` are private and dropped.
    """
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        return strict(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`strict` ``(value)``; refuses (``ValueError``) anything still non-finite."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)
