"""Operator embeddings (paper section 3.2): operator name -> sentence -> all-MiniLM-L6-v2 vector.

Importing this package, loading the shipped table and looking up known operators never imports
``transformers``; the Flax encoder loads only when an operator has no stored vector.
"""

from tgnas_jax.embeddings.descriptions import (
    KNOWN_OPERATORS,
    LENGTHS,
    Description,
    DescriptionFallbackWarning,
    DescriptionTruncatedWarning,
    Length,
    check_overrides,
    derive_description,
    describe,
)
from tgnas_jax.embeddings.encoder import MODEL_ID, MiniLMEncoder, MissingWeightsError, l2_normalize, shared_encoder
from tgnas_jax.embeddings.grammar import ParsedName, parse
from tgnas_jax.embeddings.options import add_describe_option, parse_describe
from tgnas_jax.embeddings.table import (
    DIM,
    PCA,
    SHIPPED_TABLE,
    EmbeddingKey,
    OperatorEmbeddings,
    TextEncoder,
    embed_batch,
    user_cache_path,
)

__all__ = [
    "DIM",
    "KNOWN_OPERATORS",
    "LENGTHS",
    "MODEL_ID",
    "PCA",
    "SHIPPED_TABLE",
    "Description",
    "DescriptionFallbackWarning",
    "DescriptionTruncatedWarning",
    "EmbeddingKey",
    "Length",
    "MiniLMEncoder",
    "MissingWeightsError",
    "OperatorEmbeddings",
    "ParsedName",
    "TextEncoder",
    "add_describe_option",
    "check_overrides",
    "derive_description",
    "describe",
    "embed_batch",
    "l2_normalize",
    "parse",
    "parse_describe",
    "shared_encoder",
    "user_cache_path",
]
