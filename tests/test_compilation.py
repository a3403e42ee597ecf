"""The persistent compilation cache: on at import, off on request, never over a directory the user set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert _probe(tmp_path)["dir"] == str(tmp_path / "cache" / "jax")


def test_the_environment_turns_it_off(tmp_path: Path) -> None:
    assert not _probe(tmp_path, TGNAS_COMPILATION_CACHE="0")["dir"]


def test_a_directory_the_user_set_is_kept(tmp_path: Path) -> None:
    assert _probe(tmp_path, preset=str(tmp_path / "mine"))["dir"] == str(tmp_path / "mine")
