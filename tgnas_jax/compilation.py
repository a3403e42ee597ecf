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
process already set a cache directory of its own. JAX decides at a process's first compilation
whether to use the cache, so this is done at import, before anything is compiled.

The compilation cache still leaves each process to trace and lower its programs before it can look
them up: 1-1.5 s of a warm search on 2 CPU cores. :func:`stored_jit` keeps the lowered program
(``jax.export``'s serialised StableHLO) in the cache directory too, under the same switch.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from tgnas_jax.cachefiles import CacheWarning, atomic_write, value_key
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


#: Layout of a stored program file: this line, the key, the payload's sha256, then the payload.
PROGRAM_FORMAT = b"tgnas-jax lowered program 1"


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
    leaves, tree = jax.tree.flatten(args)
    devices = [(d.platform, d.device_kind) for d in jax.devices()]
    flags = (jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision, compiler_options())
    types = [str(jax.typeof(x)) for x in leaves]
    name = value_key("program", devices, jax.process_count(), flags, str(tree), types, key)
    path = cache_dir() / "programs" / f"{name[:32]}.bin"
    exported, fault = _read_program(path, name)
    if fault is not None:
        warnings.warn(f"stored program {str(path)!r} {fault}; traced again", CacheWarning, stacklevel=3)
    if exported is None:
        try:
            exported = jax.export.export(jax.jit(fn))(*args)
            payload = exported.serialize()
        except Exception as err:  # export refuses what it cannot serialise in many ways
            jax.jit(fn).trace(*args)  # a program that does not trace at all raises its own error here
            warnings.warn(f"cannot store a lowered program ({err}); it is traced in every process", CacheWarning, 3)
            return jit(fn)
        _write_program(path, name, payload)
    return jit(exported.call)


def _read_program(path: Path, name: str) -> tuple[Any, str | None]:
    """The stored ``jax.export.Exported``, or ``None`` and why (``None`` when there is no file)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # absent (a folder that is a file: the write says so)
        return None, None
    except OSError as err:
        return None, f"is unreadable ({err})"
    head, _, rest = data.partition(b"\n")
    stored, _, rest = rest.partition(b"\n")
    digest, _, payload = rest.partition(b"\n")
    if head != PROGRAM_FORMAT or stored != name.encode():
        return None, "is not a program of this format and key"
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None, "does not match its checksum"
    try:
        return jax.export.deserialize(bytearray(payload)), None
    except Exception as err:  # flatbuffers and MLIR raise many types on a payload of another version
        return None, f"cannot be read ({err!r})"


def _write_program(path: Path, name: str, payload: bytes) -> None:
    data = b"\n".join([PROGRAM_FORMAT, name.encode(), hashlib.sha256(payload).hexdigest().encode(), payload])
    try:
        atomic_write(path, lambda handle: handle.write(data))
    except OSError as err:
        warnings.warn(f"cannot store a lowered program at {str(path)!r} ({err}); it is traced again", CacheWarning, 4)
