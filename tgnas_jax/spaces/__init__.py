"""Search spaces: each turns its architectures into operator-node graphs (``to_graphs``)."""

from tgnas_jax.spaces.base import SearchSpace, SpaceError
from tgnas_jax.spaces.darts import DartsSpace, Genotype
from tgnas_jax.spaces.nb101 import NB101Arch, NB101Space
from tgnas_jax.spaces.nb201 import NB201Space

SPACES: dict[str, type[SearchSpace]] = {"nb101": NB101Space, "nb201": NB201Space, "darts": DartsSpace}


def get_space(name: str) -> SearchSpace:
    """A space by its name; unknown names get the list of known ones."""
    try:
        return SPACES[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; choose one of {sorted(SPACES)}") from None


__all__ = [
    "SPACES",
    "DartsSpace",
    "Genotype",
    "NB101Arch",
    "NB101Space",
    "NB201Space",
    "SearchSpace",
    "SpaceError",
    "get_space",
]
