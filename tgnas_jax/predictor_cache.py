"""A verified checkpoint's parameters, kept between processes.

Every :func:`tgnas_jax.load_predictor` checks the folder's files against its sha256 manifest; then a
first load imports orbax and restores the parameters (0.4 s together on 2 cores), checks them against
the header's model (0.1 s) and scores probe cells (0.25 s): two thirds of ``load_predictor`` in a warm
``python -m tgnas_jax.search``. All of that is fixed by the bytes the manifest pins and by this
package's code, so once a load has passed, its parameters are kept (``$TGNAS_CACHE_DIR/predictors``: an
npz framed by :func:`tgnas_jax.cachefiles.framed`, under a key of the manifest, the backend and the code
stamp) and later loads read them instead. orbax stays the checkpoint format; this keeps what reading
it gave. A damaged cache file is reported once (:class:`CacheWarning`) and the checkpoint read in full;
``$TGNAS_COMPILATION_CACHE=0`` turns it off with the other caches.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from tgnas_jax.cachefiles import (
    CacheWarning,
    atomic_write,
    framed,
    read_framed,
    value_key,
    warn_unwritable,
)
from tgnas_jax.compilation import cache_wanted
from tgnas_jax.data import cache_dir

#: The format line of a cache file; bump it when the layout or the meaning of its arrays changes.
FORMAT = b"tgnas-jax predictor parameters 1"
_SEP = "/"


def members_key(manifest: bytes) -> str | None:
    """The key of the parameters a checkpoint with this (verified) manifest holds; ``None``: not cached."""
    if not cache_wanted():
        return None
    return value_key(FORMAT.decode(), jax.default_backend(), manifest)


def cache_path(key: str) -> Path:
    return cache_dir() / "predictors" / f"{key[:32]}.npz"


def cached_members(key: str, count: int) -> list[dict[str, Any]] | None:
    """The ``count`` members a passed load stored under ``key``, or ``None`` (reported if damaged)."""
    path = cache_path(key)
    members, fault = _read(path, key, count)
    if fault is not None:
        warnings.warn(f"predictor cache {str(path)!r} {fault}; the checkpoint is read in full", CacheWarning, 4)
    return members


def store_members(key: str, members: list[Any]) -> None:
    """Keep the members of a load that passed every check, for the next process."""
    arrays = {
        f"{i}{_SEP}{name}": np.asarray(value)
        for i, member in enumerate(members)
        for name, value in traverse_util.flatten_dict(member, sep=_SEP).items()
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = cache_path(key)
    try:
        atomic_write(path, lambda handle: handle.write(framed(FORMAT, key, buffer.getvalue())))
    except OSError as err:
        warn_unwritable("verified predictor parameters", path, err)


def _read(path: Path, key: str, count: int) -> tuple[list[dict[str, Any]] | None, str | None]:
    payload, fault = read_framed(path, FORMAT, key)
    if payload is None:
        return None, fault
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except Exception as err:  # numpy and zipfile raise many types
        return None, f"cannot be read ({err!r})"
    flat: list[dict[str, np.ndarray]] = [{} for _ in range(count)]
    for name, value in arrays.items():
        index, _, leaf = name.partition(_SEP)
        if not index.isdigit() or int(index) >= count or not leaf:
            return None, f"holds {name!r}, not a leaf of one of {count} members"
        flat[int(index)][leaf] = value
    if not all(flat):
        return None, f"does not hold all {count} members"
    return [traverse_util.unflatten_dict(member, sep=_SEP) for member in flat], None
