"""Architecture search with the predictor: supernet pruning, differential evolution, and both.

``search(space, predictor, method="hybrid")`` returns a :class:`SearchResult`;
``python -m tgnas_jax.search`` is the command line. Each search is one jitted XLA program.
"""

from tgnas_jax.search import declared  # noqa: F401  (registers the declarative spaces' encoding)
from tgnas_jax.search.api import (
    DEFAULT_GENERATIONS,
    DEFAULT_POPULATION,
    METHODS,
    SearchResult,
    search,
)
from tgnas_jax.search.encoding import Encoding, encoding_for, register_encoding
from tgnas_jax.search.problem import Limits

__all__ = [
    "DEFAULT_GENERATIONS",
    "DEFAULT_POPULATION",
    "METHODS",
    "Encoding",
    "Limits",
    "SearchResult",
    "encoding_for",
    "register_encoding",
    "search",
]
