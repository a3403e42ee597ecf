"""Compilation: the CPU options every program gets, and the persistent cache (on at import, off on
request, never over a directory the user set)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from tgnas_jax import compilation

PROBE = """
import json, jax
jax.config.update("jax_compilation_cache_dir", {preset!r}) if {preset!r} else None
import tgnas_jax
print(json.dumps({{"dir": jax.config.jax_compilation_cache_dir,
                   "min": jax.config.jax_persistent_cache_min_compile_time_secs}}))
"""


def _probe(tmp_path: Path, preset: str = "", **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "TGNAS_COMPILATION_CACHE"}
    environ.update(TGNAS_CACHE_DIR=str(tmp_path / "cache"), **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(preset=preset)], env=environ, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_import_turns_the_cache_on_in_the_cache_directory(tmp_path: Path) -> None:
    got = _probe(tmp_path)
    assert got["dir"] == str(tmp_path / "cache" / "jax")
    assert got["min"] == compilation.IMPORT_MIN_COMPILE_SECONDS < 1.0  # JAX's default kept none of ours


def test_the_environment_turns_it_off(tmp_path: Path) -> None:
    assert not _probe(tmp_path, TGNAS_COMPILATION_CACHE="0")["dir"]


def test_a_directory_the_user_set_is_kept(tmp_path: Path) -> None:
    got = _probe(tmp_path, preset=str(tmp_path / "mine"))
    assert got["dir"] == str(tmp_path / "mine") and got["min"] == 1.0  # and JAX's threshold, untouched


def _library_fusions(text: str) -> list[set[str]]:
    """The HLO opcodes inside each YNNPACK fusion of a compiled program's text."""
    bodies = []
    for name in re.findall(r"calls=%([\w.]+), .*__ynn_fusion", text):
        body = text.split(f"%{name} ")[1].split("\n}")[0]
        bodies.append(set(re.findall(r"= \S+ (\w+)\(", body)) - {"parameter", "bitcast", "constant"})
    return bodies


def _layers(x: jax.Array, w: jax.Array) -> jax.Array:
    """Two residual matmul + normalisation + relu layers: what XLA fuses into YNNPACK subgraphs by default."""
    h = x
    for _ in range(2):
        z = h @ w
        z = (z - z.mean(1, keepdims=True)) * jax.lax.rsqrt(z.var(1, keepdims=True) + 1e-5)
        h = h + jax.nn.relu(z)
    return h.sum()


def test_programs_hand_xla_library_only_single_matmuls() -> None:
    if compilation.compiler_options() is None:
        pytest.skip("this XLA has no YNNPACK fusion option (not a CPU backend, or an older jax)")
    x, w = np.ones((256, 8, 64), np.float32), np.ones((64, 64), np.float32)
    ours = _library_fusions(compilation.jit(_layers).lower(x, w).compile().as_text())
    assert ours and all(ops == {"dot"} for ops in ours), ours
    defaults = _library_fusions(jax.jit(_layers).lower(x, w).compile().as_text())
    assert any(ops - {"dot"} for ops in defaults), defaults  # what the options turn off
    np.testing.assert_allclose(compilation.jit(_layers)(x, w), jax.jit(_layers)(x, w), rtol=1e-6)
