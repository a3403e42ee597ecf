"""A space's architectures scored through its search encoding: integer choices in, one jitted program.

``Predictor.score(archs, space)`` comes here for every space with an encoding (NB201, DARTS,
NB101, declarative spaces). Each architecture becomes a row of integer choices on the host, with
no graph objects; identical rows are scored once; the rows are rendered into cells, scored and
blended with the size prior inside jit, exactly as a search scores its candidates. The GCN forward
is most of the time end to end (``benchmarks/results/scale.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from tgnas_jax import parallel
from tgnas_jax.predictor import Predictor
from tgnas_jax.prior import CostBlend
from tgnas_jax.search.encoding import Encoding, encoding_for
from tgnas_jax.search.problem import Problem, Scorer, program_jit
from tgnas_jax.spaces.base import SearchSpace


@dataclass(frozen=True, eq=False)
class EncodedScoring:
    """One predictor's jitted scores of one space's choices (a search's objective without a budget).

    One program serves the GCN alone, the size prior's reference sample and the blended scores: it
    returns the prior's three terms (GCN score, FLOPs, convolutions), which the host blends. It runs at
    one batch shape, sized for the device.
    """

    encoding: Encoding[Any]
    scorer: Scorer
    program: Callable[[Any, np.ndarray], tuple[jax.Array, jax.Array, jax.Array]]
    #: Graph nodes one architecture renders to (all its cells), and architectures per call.
    nodes_per_row: int
    rows: int

    @classmethod
    def of(cls, predictor: Predictor, space: SearchSpace, describe: Mapping[str, str] | None) -> EncodedScoring | None:
        """The scoring of ``space``'s encoding, or ``None``: a space without one, or one with an op the
        predictor cannot give a vector (a one-hot predictor's unseen op, MiniLM's weights absent), which
        the caller's architectures may not even use: they then go through their graphs."""
        try:
            encoding = encoding_for(space)
            scorer = Scorer.of(predictor, encoding, describe, prior=False)
        except (ValueError, ImportError):
            return None
        ops = jax.eval_shape(encoding.cells, jax.ShapeDtypeStruct((encoding.num_genes,), np.int32))[1]
        nodes = int(np.prod(ops.shape))
        rows = parallel.rows_per_call(nodes) * parallel.chunks_per_call()
        program = program_jit(
            lambda weights, choices: Problem.bind(encoding, scorer, weights, None).terms(choices),
            (scorer.weights, np.zeros((rows, encoding.num_genes), np.int32)),
            encoding,
            predictor,
            "terms",
        )
        return cls(encoding, scorer, program, nodes, rows)

    def takes(self, blend: CostBlend | None) -> bool:
        """Whether the encoding counts what ``blend`` needs: one that counts no FLOPs has no prior."""
        return blend is None or self.encoding.prior_table is not None

    def choices(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``archs`` the encoding expresses, and their ``[rows, genes]`` choices
        (:meth:`Encoding.choices_of`)."""
        return self.encoding.choices_of(archs)

    def terms(self, choices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GCN score, FLOPs and convolution count of each of ``choices[rows, genes]`` (float64; FLOPs 0
        where the encoding counts none), scoring distinct rows only."""
        if not len(choices):
            return np.zeros(0), np.zeros(0), np.zeros(0)
        unique, inverse = np.unique(choices, axis=0, return_inverse=True)
        size = self.rows
        padded = np.concatenate([unique, np.repeat(unique[:1], -len(unique) % size, axis=0)]).astype(np.int32)
        calls = [self.program(self.scorer.weights, padded[i : i + size]) for i in range(0, len(padded), size)]
        return tuple(  # type: ignore[return-value]
            np.concatenate([np.asarray(call[t], np.float64) for call in calls])[: len(unique)][inverse.reshape(-1)]
            for t in range(3)
        )

    def scores(self, choices: np.ndarray, blend: CostBlend | None = None) -> np.ndarray:
        """Scores of ``choices[rows, genes]`` under ``blend`` (``None``: the GCN's alone)."""
        if not self.takes(blend):
            raise ValueError(f"the {self.encoding.space.name} encoding counts no FLOPs for the size prior")
        gcn, flops, convs = self.terms(choices)
        scores = gcn if blend is None else blend.apply(gcn, np.log(flops), convs)
        return scores.astype(np.float32)
