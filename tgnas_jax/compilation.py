"""How tgnas-jax compiles: XLA options of its own on CPU, JAX's persistent compilation cache, and
lowered programs kept between processes.

Every program goes through :func:`jit`. On CPU it turns off XLA's fusion of matmuls with their
elementwise neighbours into YNNPACK subgraphs (the default from jax 0.10), which ran the GCN
ensemble 3-4x slower than single matmul calls do (NB201 cells, batch 256: 14.9 ms against 3.7 ms;
at 2,048: 191 ms against 58 ms).

The persistent compilation cache is on by default: a new process reuses what an earlier one compiled.

A search compiles a few XLA programs of several seconds each; with the cache, a second run in a
fresh process loads them instead. ``import tgnas_jax`` turns it on (in the user cache directory, or
``$TGNAS_CACHE_DIR/jax``) unless ``$TGNAS_COMPILATION_CACHE`` is ``0`` / ``off`` / ``false``, or the
process already set a cache directory of its own. It keeps programs that took at least
:data:`IMPORT_MIN_COMPILE_SECONDS` to compile (JAX's default, 1 s, kept none of ``load_predictor``'s and
a first ``score``'s on 2 CPU cores: 4.0 s of every process, 1.7 s with them kept;
``benchmarks/api_startup.py``); the command lines keep
every program. JAX decides at a process's first compilation
whether to use the cache, so this is done at import, before anything is compiled.

The compilation cache still leaves each process to trace and lower its programs before it can look
them up: 1-1.5 s of a warm search on 2 CPU cores. :func:`stored_jit` keeps the lowered program
(``jax.export``'s serialised StableHLO) in the cache directory too, under the same switch.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from tgnas_jax.cachefiles import (
    CacheWarning,
    atomic_write,
    framed,
    read_framed,
    value_key,
    warn_unwritable,
)
from tgnas_jax.data import cache_dir

#: Setting it to 0, off, false or no leaves JAX's compilation cache alone.
ENV = "TGNAS_COMPILATION_CACHE"
#: The shortest compile ``import tgnas_jax`` has the cache keep (a user's own programs in the process too).
IMPORT_MIN_COMPILE_SECONDS = 0.1


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


#: Layout of a stored program file: this line, the key, the payload's sha256, then the payload.
PROGRAM_FORMAT = b"tgnas-jax lowered program 1"
#: JAX settings that change what a trace lowers to (numerics, random streams, partitioner): in the key.
KEYED_FLAGS = (
    "jax_enable_x64",
    "jax_default_matmul_precision",
    "jax_numpy_rank_promotion",
    "jax_default_prng_impl",
    "jax_threefry_partitionable",
    "jax_use_shardy_partitioner",
)


def argument_signature(args: tuple[Any, ...]) -> tuple[str, tuple[str, ...]]:
    """The tree and types of ``args``: what a stored program takes, and nothing else."""
    leaves, tree = jax.tree.flatten(args)
    return str(tree), tuple(str(jax.typeof(x)) for x in leaves)


def stored_jit(fn: Callable[..., tuple[Any, ...]], args: tuple[Any, ...], *key: Any) -> Any:
    """:func:`jit` of ``fn`` for arguments shaped as ``args``, its lowered program kept between processes.

    ``key``: whatever the trace reads that ``args`` do not show (settings, sizes, closed-over tables'
    origins); the file's key adds the arguments' tree and types, the backend and devices, JAX's
    numerics flags and the package's code (:func:`tgnas_jax.cachefiles.value_key`). ``fn`` returns a
    tuple of arrays. A damaged file is reported (:class:`CacheWarning`) and replaced; with the
    compilation cache turned off (:data:`ENV`), or a program ``jax.export`` cannot serialise (also
    reported), this is plain :func:`jit`.
    """
    if not cache_wanted():
        return jit(fn)
    devices = ([(d.platform, d.device_kind) for d in jax.local_devices()], jax.device_count(), jax.process_count())
    flags = [getattr(jax.config, flag, None) for flag in KEYED_FLAGS]
    name = value_key("program", devices, flags, argument_signature(args), key)
    path = cache_dir() / "programs" / f"{name[:32]}.bin"
    exported, fault = _read_program(path, name)
    if exported is not None:
        program = jit(exported.call)
        try:  # what the stored program checks of this process (devices, partitioner) fails here, not later
            program.trace(*args).lower()
            return program
        except Exception as err:  # jax raises many types for a program of another configuration
            fault = f"does not fit this process ({err})"
    if fault is not None:
        warnings.warn(f"stored program {str(path)!r} {fault}; traced again", CacheWarning, stacklevel=3)
    try:
        payload = jax.export.export(jax.jit(fn))(*args).serialize()
    except Exception as err:  # export refuses what it cannot serialise in many ways
        jax.jit(fn).trace(*args)  # a program that does not trace at all raises its own error here
        warnings.warn(f"cannot store a lowered program ({err}); it is traced in every process", CacheWarning, 3)
        return jit(fn)
    try:
        atomic_write(path, lambda handle: handle.write(framed(PROGRAM_FORMAT, name, payload)))
    except OSError as err:
        warn_unwritable("lowered programs", path, err)
    return jit(jax.export.deserialize(bytearray(payload)).call)


def stored_jit_by_type(fn: Callable[..., Any], *key: Any) -> Callable[..., Any]:
    """:func:`stored_jit` of ``fn`` for whatever arguments it is called with: one program per tree and
    types of arguments, made on the first call with them and kept for this process."""
    programs: dict[tuple[str, tuple[str, ...]], Any] = {}

    def call(*args: Any) -> Any:
        signature = argument_signature(args)
        if signature not in programs:
            programs[signature] = stored_jit(fn, args, *key)
        return programs[signature](*args)

    return call


def _read_program(path: Path, name: str) -> tuple[Any, str | None]:
    """The stored ``jax.export.Exported``, or ``None`` and why (``None`` when there is no file)."""
    payload, fault = read_framed(path, PROGRAM_FORMAT, name)
    if payload is None:
        return None, fault
    try:
        return jax.export.deserialize(bytearray(payload)), None
    except Exception as err:  # flatbuffers and MLIR raise many types on a payload of another version
        return None, f"cannot be read ({err!r})"
