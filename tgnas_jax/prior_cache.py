"""The size prior's reference statistics, kept between processes.

Standardising the prior (:class:`tgnas_jax.prior.CostBlend`) scores a fixed sample of 1,024 of the
space's architectures with the GCN: in a fresh process a jitted program traced, lowered and run, half
a second of a warm ``python -m tgnas_jax.search``. What comes out is eight numbers, fixed by what
:func:`blend_key` hashes (the package's code and its dependencies' versions, the backend, the space's
settings, the predictor's weights and operator rows: :func:`tgnas_jax.cachefiles.value_key`), so
they are kept in the cache directory (``$TGNAS_CACHE_DIR/size_prior``) under that key and read back.
A damaged or foreign file is reported once (:class:`CacheWarning`) and the statistics refitted; one
that cannot be written costs only the refit next time. ``$TGNAS_COMPILATION_CACHE=0`` turns it off
with the compilation caches.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import jax

from tgnas_jax.cachefiles import CacheWarning, atomic_write, read_cache_file, value_key, warn_unwritable
from tgnas_jax.compilation import cache_wanted
from tgnas_jax.data import cache_dir
from tgnas_jax.prior import CostBlend

#: Layout of a cache file; bump it when the layout or the meaning of its fields changes.
FORMAT = 1
_FIELDS = tuple(f.name for f in fields(CostBlend))
_SCALES = ("score_std", "cost_std", "conv_std")


def blend_key(*parts: Any) -> str:
    """The key of the statistics ``parts`` determine, on this backend, with this package's code."""
    return value_key(f"size prior {FORMAT}", jax.default_backend(), *parts)


def cache_path(key: str) -> Path:
    return cache_dir() / "size_prior" / f"{key[:32]}.json"


def cached_blend(key: str, fit: Callable[[], CostBlend | None]) -> CostBlend | None:
    """The statistics stored under ``key``, else ``fit()``'s, stored for the next process."""
    if not cache_wanted():
        return fit()
    path = cache_path(key)
    blend, fault = _read(path, key)
    if blend is not None:
        return blend
    if fault is not None:
        warnings.warn(f"size-prior cache {str(path)!r} {fault}; refitted", CacheWarning, stacklevel=4)
    blend = fit()
    if blend is not None:
        text = json.dumps({"format": FORMAT, "key": key, "blend": {f: getattr(blend, f) for f in _FIELDS}})
        try:
            atomic_write(path, lambda handle: handle.write(text.encode()))
        except OSError as err:
            warn_unwritable("size-prior statistics", path, err)
    return blend


def _read(path: Path, key: str) -> tuple[CostBlend | None, str | None]:
    """The stored blend, or ``None`` and why (``None`` when there is no file)."""
    data, fault = read_cache_file(path)
    if data is None:
        return None, fault
    try:
        stored = json.loads(data)
    except ValueError as err:
        return None, f"is unreadable ({err})"
    if not isinstance(stored, dict) or stored.get("format") != FORMAT or stored.get("key") != key:
        return None, f"is not a format-{FORMAT} file of this key"
    values = stored.get("blend")
    if not isinstance(values, dict) or sorted(values) != sorted(_FIELDS):
        return None, f"holds fields {sorted(values) if isinstance(values, dict) else values!r}, not {sorted(_FIELDS)}"
    bad = [f for f in _FIELDS if type(values[f]) not in (int, float) or not math.isfinite(values[f])]
    bad += [f for f in _SCALES if f not in bad and values[f] <= 0]
    if bad:
        return None, f"holds unusable {', '.join(bad)}"
    return CostBlend(**{f: float(values[f]) for f in _FIELDS}), None
