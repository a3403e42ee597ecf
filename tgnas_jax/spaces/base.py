"""The interface every search space implements.

A space knows its operators, how to read and write its canonical architecture string, how to
turn an architecture into operator-node graphs, and how to sample and mutate; it knows nothing
of embeddings, training or files.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np

from tgnas_jax.graph import ArchGraph

Arch = TypeVar("Arch")


class SpaceError(ValueError):
    """An architecture (or architecture string) that does not belong to its space."""


class SearchSpace(abc.ABC, Generic[Arch]):
    """A cell-based search space.

    ``to_graphs`` returns one graph per cell type: a single graph for NB101 / NB201, the
    (normal, reduce) pair for DARTS. A predictor scores an architecture from all of them, each
    weighted by :attr:`cell_counts`.
    """

    name: str
    #: The operator names a cell may use on its searchable positions.
    ops: tuple[str, ...]

    @abc.abstractmethod
    def parse(self, text: str) -> Arch:
        """Read the canonical architecture string; raise :class:`SpaceError` naming the fault."""

    def parse_many(self, texts: Sequence[str]) -> list[Arch]:
        """``[parse(t) for t in texts]``; a space whose strings can be read in bulk overrides it."""
        return [self.parse(text) for text in texts]

    @abc.abstractmethod
    def format(self, arch: Arch) -> str:
        """Write the canonical architecture string; ``parse(format(a)) == a``."""

    def check(self, arch: object) -> Arch:
        """``arch`` as this space's architecture object; :class:`SpaceError` for anything else.

        Scoring calls it on every architecture, so an object of another space is refused rather
        than scored. The base accepts everything (a user's space may override it).
        """
        return arch  # type: ignore[return-value]

    @abc.abstractmethod
    def to_graphs(self, arch: Arch) -> tuple[ArchGraph, ...]:
        """The operator-node graph of each cell type of ``arch``."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Arch:
        """One architecture drawn uniformly over the space's encoding."""

    @abc.abstractmethod
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A valid neighbour of ``arch`` that differs from it."""

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture of a finite space; infinite or huge spaces raise."""
        raise NotImplementedError(f"the {self.name} space is too large to enumerate")

    @property
    def cell_counts(self) -> tuple[int, ...] | None:
        """How many cells of each type of :meth:`to_graphs` the space's network stacks, or ``None``:
        each type once. An architecture's GCN score is the mean over the network's cells, so a cell
        type weighs as often as the network repeats it."""
        return None

    @property
    def network(self) -> str | None:
        """How reports name the network :meth:`num_params` and :meth:`num_flops` measure; ``None``: no network."""
        return None

    def num_params(self, arch: Arch) -> float:
        """Trainable parameters of the space's standard network, where defined."""
        raise NotImplementedError(f"the {self.name} space defines no parameter count")

    def num_flops(self, arch: Arch) -> float:
        """Multiply-accumulates of one forward pass of the standard network, where defined."""
        raise NotImplementedError(f"the {self.name} space defines no FLOP count")

    def samples(self, count: int, seed: int) -> list[Arch]:
        """``count`` architectures, reproducible from ``seed``."""
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(count)]


def read_archs(space: SearchSpace[Arch], items: Sequence[object]) -> list[Arch]:
    """``items`` as ``space``'s architecture objects: strings parsed (in bulk), anything else checked."""
    strings = [i for i, item in enumerate(items) if isinstance(item, str)]
    out = [None if isinstance(item, str) else space.check(item) for item in items]
    for i, arch in zip(strings, space.parse_many([items[i] for i in strings]), strict=True):  # type: ignore[misc]
        out[i] = arch
    return out  # type: ignore[return-value]


def cell_weights(counts: Sequence[int] | None, cells: int) -> np.ndarray:
    """``[cells]`` weights of an architecture's cell types in its GCN score, summing to 1: ``counts``
    (a space's :attr:`SearchSpace.cell_counts`), or equal for ``None``; ``ValueError`` if they do not fit."""
    if counts is not None and len(counts) != cells:
        raise ValueError(
            f"cell_counts {tuple(counts)} weighs {len(counts)} cell types, but an architecture has {cells}"
        )
    weights = np.ones(cells) if counts is None else np.asarray(counts, np.float64)
    return weights / weights.sum()
