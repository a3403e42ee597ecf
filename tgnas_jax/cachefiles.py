"""Cache files shared between processes: a lock per file, atomic replacement, keys, one warning class.

Every cache (parsed benchmark tables, embeddings of unseen operators, the size prior's statistics,
lowered search programs) is an optimisation: a damaged file is reported once with
:class:`CacheWarning` and rebuilt, and a cache that cannot be written only costs the work of redoing
it next time. What the code computes is keyed by :func:`value_key`, whose :func:`code_stamp` changes
with the package's Python sources and the versions of what runs them, so a file another version wrote
is never read. Code of the caller's own (a space subclass, a registered encoding) is outside the
stamp: such results are not kept (:func:`own_code`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import version
from inspect import signature
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from filelock import FileLock

#: The distributions whose code runs inside what the caches keep (traced programs, fitted statistics).
STAMPED_DISTRIBUTIONS = ("jax", "jaxlib", "flax", "evosax", "numpy")

#: How long a process waits for another to finish writing a cache file (an NB101 parse takes ~10 s).
LOCK_TIMEOUT_S = 300.0


class CacheWarning(UserWarning):
    """A cache file was damaged and is rebuilt, or cannot be written and its work will be redone."""


def file_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> FileLock:
    """The inter-process lock of ``path`` (its ``.lock`` sibling); raises ``OSError`` if the folder cannot be made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.with_name(f"{path.name}.lock"), timeout=timeout, **_KEEP_LOCK_FILE)


# filelock 4 deletes the lock file on release unless told not to; a process still waiting on the deleted
# file then "holds" a lock that a newcomer, creating a fresh file, holds too. filelock 3 never deletes it.
_KEEP_LOCK_FILE = {"preserve_lock_file": True} if "preserve_lock_file" in signature(FileLock).parameters else {}


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through a temp file in the same folder and ``os.replace``: a reader sees the old or the new file.

    Not fsynced: a file a crash leaves empty or short is detected as damaged when read, and rebuilt.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def read_cache_file(path: Path) -> tuple[bytes | None, str | None]:
    """A cache file's bytes, or ``None`` and why (``None`` too when it is absent: nothing to report)."""
    try:
        return path.read_bytes(), None
    except (FileNotFoundError, NotADirectoryError):  # absent (a folder that is a file: the write says so)
        return None, None
    except OSError as err:
        return None, f"is unreadable ({err})"


def framed(kind: bytes, key: str, payload: bytes) -> bytes:
    """A keyed cache file's bytes: ``kind`` (its format line), ``key``, the payload's sha256, the payload."""
    return b"\n".join([kind, key.encode(), hashlib.sha256(payload).hexdigest().encode(), payload])


def read_framed(path: Path, kind: bytes, key: str) -> tuple[bytes | None, str | None]:
    """The payload :func:`framed` wrote to ``path``, or ``None`` and why: absent (no reason), unreadable,
    another format or key, or damage."""
    data, fault = read_cache_file(path)
    if data is None:
        return None, fault
    head, _, rest = data.partition(b"\n")
    stored, _, rest = rest.partition(b"\n")
    digest, _, payload = rest.partition(b"\n")
    if head != kind or stored != key.encode():
        return None, f"is not a {kind.decode(errors='replace')!r} file of this key"
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None, "does not match its checksum"
    return payload, None


@functools.cache
def code_stamp() -> str:
    """A digest of the package's Python sources and of :data:`STAMPED_DISTRIBUTIONS`' versions."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    digest.update(repr([version(name) for name in STAMPED_DISTRIBUTIONS]).encode())
    return digest.hexdigest()


def value_key(kind: str, *parts: Any) -> str:
    """The sha256 of ``parts`` by value, with ``kind`` and :func:`code_stamp`: arrays (numpy, jax) by
    dtype, shape and bytes, mappings and sequences element by element, anything else by ``repr``."""
    digest = hashlib.sha256(f"{kind} {code_stamp()}".encode())
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()


def _feed(digest: Any, part: Any) -> None:
    if all(hasattr(part, name) for name in ("__array__", "dtype", "shape")):  # numpy and jax arrays, scalars
        array = np.ascontiguousarray(np.asarray(part))
        digest.update(f"array {array.dtype.str} {array.shape}".encode() + array.tobytes())
    elif isinstance(part, Mapping):
        digest.update(f"map {len(part)}".encode())
        for name in sorted(part, key=repr):
            digest.update(repr(name).encode())
            _feed(digest, part[name])
    elif isinstance(part, list | tuple):
        digest.update(f"seq {type(part).__name__} {len(part)}".encode())
        for item in part:
            _feed(digest, item)
    else:
        digest.update(f"value {part!r}".encode())


def own_code(*objects: Any) -> bool:
    """Whether every object's type is the package's own: the only code :func:`code_stamp` covers."""
    return all(type(obj).__module__.startswith("tgnas_jax.") for obj in objects)


_unwritable: set[tuple[str, str]] = set()


def warn_unwritable(what: str, path: Path, err: OSError) -> None:
    """Warn once per process and folder that ``what`` cannot be kept there (a read-only cache costs speed only)."""
    if (what, str(path.parent)) not in _unwritable:
        _unwritable.add((what, str(path.parent)))
        warnings.warn(
            f"cannot write {what} under {str(path.parent)!r} ({err}); it is redone in every process",
            CacheWarning,
            stacklevel=3,
        )
