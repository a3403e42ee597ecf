"""A space's architectures scored through its search encoding: integer choices in, one jitted program.

``Predictor.score(archs, space)`` comes here for every space with an encoding (NB201, DARTS,
NB101, declarative spaces). Each architecture becomes a row of integer choices on the host, with
no graph objects; identical rows are scored once; the rows are rendered into cells, scored and
blended with the size prior inside jit, exactly as a search scores its candidates. End to end from text
that is 3x the graph path's speed on NB101, 2x on DARTS and chains, 1-1.5x on NB201, where the GCN
forward is most of the time (``benchmarks/results/scale.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from tgnas_jax import parallel
from tgnas_jax.predictor import Predictor
from tgnas_jax.search.encoding import Encoding, encoding_for
from tgnas_jax.search.problem import Problem, Scorer
from tgnas_jax.spaces.base import SearchSpace

#: The two batch shapes scoring compiles: each new shape costs a trace of the whole program (about
#: a second on 2 CPU cores), while 2,048 rows score as fast per row as 8,192 and small calls stay cheap.
SMALL_CHUNK, CHUNK = 128, 2048


@dataclass(frozen=True, eq=False)
class EncodedScoring:
    """One predictor's jitted scores of one space's choices (a search's objective without a budget)."""

    encoding: Encoding[Any]
    scorer: Scorer
    program: Callable[[Any, np.ndarray], jax.Array]

    @classmethod
    def of(
        cls, predictor: Predictor, space: SearchSpace, describe: Mapping[str, str] | None, prior: bool
    ) -> EncodedScoring | None:
        """The scoring of ``space``'s encoding, or ``None``: a space without one, or one with an op the
        predictor cannot give a vector (a one-hot predictor's unseen op, MiniLM's weights absent), which
        the caller's architectures may not even use: they then go through their graphs."""
        try:
            encoding = encoding_for(space)
            scorer = Scorer.of(predictor, encoding, describe, prior=prior)
        except (ValueError, ImportError):
            return None
        program = jax.jit(lambda weights, choices: Problem.bind(encoding, scorer, weights, None).scores(choices))
        return cls(encoding, scorer, program)

    def choices(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``archs`` the encoding expresses, and their ``[rows, genes]`` choices.

        An encoding may not express every architecture of its space (a DARTS genotype with a
        ``none`` edge, or one that does not concatenate every node): those are left out.
        """
        rows, choices = [], []
        for index, arch in enumerate(archs):
            try:
                choices.append(self.encoding.from_arch(arch))
            except ValueError:
                continue
            rows.append(index)
        genes = np.stack(choices) if choices else np.zeros((0, self.encoding.num_genes), np.int32)
        return np.asarray(rows, np.int64), genes.astype(np.int32)

    def scores(self, choices: np.ndarray) -> np.ndarray:
        """Scores of ``choices[rows, genes]``: distinct rows only, in chunks of one of two sizes."""
        if not len(choices):
            return np.zeros(0, np.float32)
        unique, inverse = np.unique(choices, axis=0, return_inverse=True)
        size = parallel.round_up(SMALL_CHUNK if len(unique) <= SMALL_CHUNK else CHUNK)
        padded = np.concatenate([unique, np.repeat(unique[:1], -len(unique) % size, axis=0)])
        out = [np.asarray(self.program(self.scorer.weights, padded[i : i + size])) for i in range(0, len(padded), size)]
        return np.concatenate(out)[: len(unique)][inverse.reshape(-1)]
