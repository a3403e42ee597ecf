"""How tgnas-jax compiles: XLA options of its own on CPU, and JAX's persistent compilation cache.

Every program goes through :func:`jit`. On CPU it turns off XLA's fusion of matmuls with their
elementwise neighbours into YNNPACK subgraphs (the default from jax 0.10), which ran the GCN
ensemble 3-4x slower than single matmul calls do (NB201 cells, batch 256: 14.9 ms against 3.7 ms;
at 2,048: 191 ms against 58 ms).

The persistent compilation cache is on by default: a new process reuses what an earlier one compiled.

A search compiles a few XLA programs of several seconds each; with the cache, a second run in a
fresh process loads them instead. ``import tgnas_jax`` turns it on (in the user cache directory, or
``$TGNAS_CACHE_DIR/jax``) unless ``$TGNAS_COMPILATION_CACHE`` is ``0`` / ``off`` / ``false``, or the
process already set a cache directory of its own. JAX decides at a process's first compilation
whether to use the cache, so this is done at import, before anything is compiled.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from tgnas_jax.data import cache_dir

#: Setting it to 0, off, false or no leaves JAX's compilation cache alone.
ENV = "TGNAS_COMPILATION_CACHE"


#: XLA:CPU options of every program: YNNPACK takes single matmuls only, never fused subgraphs.
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


@functools.cache
def compiler_options() -> dict[str, str] | None:
    """:data:`CPU_OPTIONS` on a CPU backend whose XLA knows them, else ``None`` (XLA's defaults)."""
    if jax.default_backend() != "cpu":
        return None
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS).lower(np.float32(0)).compile()
    except jax.errors.JaxRuntimeError:  # an older XLA without the option, or without that value
        return None
    return CPU_OPTIONS


def jit(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``jax.jit(fn, **kwargs)`` compiled with :func:`compiler_options`.

    For top-level programs only: JAX refuses compiler options on a jit traced inside another
    transformation (``jit``, ``grad``, ``lax.map``), so call the plain function there.
    """
    return jax.jit(fn, compiler_options=compiler_options(), **kwargs)


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
