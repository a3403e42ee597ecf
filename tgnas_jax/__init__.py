"""tgnas-jax: TG-NAS zero-cost architecture scoring and search, in JAX.

The curated API: graphs and batching, the predictor, streaming scores, search, and (via
``tgnas_jax.spaces``) the spaces.
"""

from tgnas_jax.batching import Budget, DenseCells, pad_batch, unpad_batch
from tgnas_jax.compilation import IMPORT_MIN_COMPILE_SECONDS, enable_compilation_cache
from tgnas_jax.graph import ArchGraph, GraphError, prune
from tgnas_jax.predictor import EmbeddingConfig, Predictor
from tgnas_jax.predictor_files import CheckpointError, load_predictor
from tgnas_jax.search import SearchResult, search
from tgnas_jax.streaming import score_stream

# Importing compiles nothing, and JAX reads the setting at a process's first compilation.
enable_compilation_cache(IMPORT_MIN_COMPILE_SECONDS)

#: The release; pyproject.toml reads it from here (the one place to bump it).
__version__ = "0.1.0"

__all__ = [
    "ArchGraph",
    "Budget",
    "CheckpointError",
    "EmbeddingConfig",
    "GraphError",
    "Predictor",
    "SearchResult",
    "DenseCells",
    "load_predictor",
    "pad_batch",
    "prune",
    "score_stream",
    "search",
    "unpad_batch",
]
