"""JAX's persistent compilation cache, on by default: a new process reuses what an earlier one compiled.

A search compiles a few XLA programs of several seconds each; with the cache, a second run in a
fresh process loads them instead. ``import tgnas_jax`` turns it on (in the user cache directory, or
``$TGNAS_CACHE_DIR/jax``) unless ``$TGNAS_COMPILATION_CACHE`` is ``0`` / ``off`` / ``false``, or the
process already set a cache directory of its own. JAX decides at a process's first compilation
whether to use the cache, so this is done at import, before anything is compiled.
"""

from __future__ import annotations

import os

import jax

from tgnas_jax.data import cache_dir

#: Setting it to 0, off, false or no leaves JAX's compilation cache alone.
ENV = "TGNAS_COMPILATION_CACHE"


def cache_wanted() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def enable_compilation_cache(min_compile_seconds: float | None = None) -> bool:
    """Turn the cache on (unless ``$TGNAS_COMPILATION_CACHE`` says no or a directory is already set).

    ``min_compile_seconds``: keep only programs that took at least this long to compile (``None``:
    JAX's default; the command lines keep everything). Returns whether tgnas-jax set the cache.
    """
    ours = str(cache_dir() / "jax")
    if not cache_wanted() or jax.config.jax_compilation_cache_dir not in (None, "", ours):
        return False
    jax.config.update("jax_compilation_cache_dir", ours)
    if min_compile_seconds is not None:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    return True
