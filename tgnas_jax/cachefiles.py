"""Cache files shared between processes: a lock per file, atomic replacement, and one warning class.

Both caches (parsed benchmark tables, embeddings of unseen operators) are optimisations: a damaged
file is reported once with :class:`CacheWarning` and rebuilt, and a cache that cannot be written
only costs the work of redoing it next time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from inspect import signature
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

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
