"""Search spaces: each turns its architectures into operator-node graphs (``to_graphs``)."""

from tgnas_jax.spaces.base import SearchSpace, SpaceError
from tgnas_jax.spaces.darts import DartsSpace, Genotype
from tgnas_jax.spaces.declarative import CellSpace, ChainSpace, Layer, SpecError, load_space
from tgnas_jax.spaces.nb101 import NB101Arch, NB101Space
from tgnas_jax.spaces.nb201 import NB201Space

SPACES: dict[str, type[SearchSpace]] = {"nb101": NB101Space, "nb201": NB201Space, "darts": DartsSpace}


#: Suffixes of the spec files :func:`get_space` reads.
SPEC_SUFFIXES = (".json", ".toml")


def get_space(name: str) -> SearchSpace:
    """A space by its name, or the space a ``.json`` / ``.toml`` spec file declares; errors list the names."""
    if isinstance(name, str) and name.lower().endswith(SPEC_SUFFIXES):
        return load_space(name)
    try:
        return SPACES[name]()
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown search space {name!r}; choose one of {sorted(SPACES)} or a .json / .toml spec file"
        ) from None


__all__ = [
    "SPACES",
    "CellSpace",
    "ChainSpace",
    "DartsSpace",
    "Genotype",
    "Layer",
    "NB101Arch",
    "NB101Space",
    "NB201Space",
    "SearchSpace",
    "SpaceError",
    "SpecError",
    "get_space",
    "load_space",
]
