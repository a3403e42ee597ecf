"""tgnas-jax: TG-NAS zero-cost architecture scoring and search, in JAX."""

from tgnas_jax.batching import Budget, pad_batch, unpad_batch
from tgnas_jax.graph import ArchGraph, GraphError

__all__ = ["ArchGraph", "Budget", "GraphError", "pad_batch", "unpad_batch"]
