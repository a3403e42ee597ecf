"""The trained predictor as a product: score architectures of any space.

``predictor.score(archs, space)`` scores a space's architectures (or raw operator-name graphs)
in jitted, fixed-shape batches, blended with the space's size prior; operators the predictor
never saw are embedded from their descriptions on first use. Its files (``load_predictor()``,
``save``) are :mod:`tgnas_jax.predictor_files`'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax import compilation, parallel, prior_cache
from tgnas_jax.batching import Budget, DenseCells, map_dense_chunks, pad_batch
from tgnas_jax.cachefiles import own_code
from tgnas_jax.embeddings.attributes import NUM_ATTRIBUTES, attribute_vectors
from tgnas_jax.embeddings.descriptions import check_overrides, overridden
from tgnas_jax.embeddings.table import DIM, PCA
from tgnas_jax.graph import OUTPUT, ArchGraph
from tgnas_jax.model import GCN, ModelConfig, output_fed
from tgnas_jax.prior import CostBlend, convolution_count
from tgnas_jax.spaces import get_space
from tgnas_jax.spaces.base import SearchSpace, cell_weights, read_archs

#: Score of a cell whose output receives no data: below every trainable cell.
BROKEN_SCORE = -math.inf


@dataclass(frozen=True)
class EmbeddingConfig:
    """How operators become node features."""

    #: Description length fed to MiniLM (paper Table 1 / 2).
    length: Literal["short", "medium", "long"] = "short"
    #: 384 (MiniLM) or fewer (PCA-reduced; 64 is the paper's MiniLM-L6-v2-64).
    dim: int = 384
    #: L2-normalise the mean-pooled sentence vectors (the paper uses the raw mean pooling).
    normalize: bool = False
    #: "minilm" embeddings, or "onehot" over the training operators (ablation; no unseen operators).
    features: Literal["minilm", "onehot"] = "minilm"
    #: Append the operator's structured attributes read from its name (kind, receptive field, cost,
    #: stride: :mod:`tgnas_jax.embeddings.attributes`) to its embedding (or one-hot code).
    attributes: bool = False

    def blocks(self, num_operators: int) -> list[int]:
        """Widths of the parts of each operator's vector, in order: the embedding (one-hot codes are as
        long as the training vocabulary), then the attributes if any."""
        base = num_operators if self.features == "onehot" else self.dim
        return [base, NUM_ATTRIBUTES] if self.attributes else [base]

    def width(self, num_operators: int) -> int:
        """Length of each operator's vector."""
        return sum(self.blocks(num_operators))


@lru_cache(maxsize=1)
def _operator_table() -> Any:
    from tgnas_jax.embeddings import OperatorEmbeddings

    return OperatorEmbeddings.load()


def fit_reduction(cfg: EmbeddingConfig) -> PCA | None:
    """The PCA a predictor with ``cfg`` projects through (fitted on the shipped operator vocabulary)."""
    if cfg.features == "onehot" or cfg.dim == DIM:
        return None
    return _operator_table().fit_pca(cfg.dim)


def operator_vectors(
    names: Sequence[str],
    cfg: EmbeddingConfig,
    reduction: PCA | None = None,
    describe: Mapping[str, str] | None = None,
) -> np.ndarray:
    """Node-feature vectors of ``names`` under ``cfg`` (one-hot: over ``names`` themselves).

    ``describe`` maps operator names to sentences of the caller's own, embedded instead of theirs
    (the attributes still come from the names).
    """
    if cfg.features == "onehot":
        vectors = np.eye(len(names), dtype=np.float32)
    else:
        vectors = _operator_table().lookup(list(names), cfg.length, normalize=cfg.normalize, overrides=describe)
    if reduction is not None:
        vectors = reduction.transform(vectors)
    return np.concatenate([vectors, attribute_vectors(names)], axis=1) if cfg.attributes else vectors


@dataclass
class Predictor:
    """An ensemble of GCNs over a shared operator-embedding table."""

    model_config: ModelConfig
    embedding: EmbeddingConfig
    members: tuple[Any, ...]
    op_vectors: dict[str, np.ndarray]
    reduction: PCA | None = None
    #: Weights of the size prior's log-FLOPs and convolution-count terms in :meth:`score` (both 0:
    #: the GCN alone); see :class:`tgnas_jax.prior.CostBlend`.
    cost_weight: float = 0.0
    conv_weight: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a predictor needs at least one ensemble member")
        self._stacked = parallel.replicate(jax.tree.map(lambda *xs: jnp.stack(xs), *self.members))
        model = GCN(self.model_config)

        def ensemble(stacked: Any, graph: Any, op_table: jax.Array, output_id: jax.Array) -> jax.Array:
            scores = jax.vmap(lambda p: model.apply({"params": p}, graph, op_table))(stacked).mean(axis=0)
            return jnp.where(output_fed(graph, output_id), scores, BROKEN_SCORE)

        self._ensemble = ensemble  # traced inside the programs that call it (a search's, the encoded scoring's)
        self._blends: dict[tuple[Any, ...], CostBlend | None] = {}
        self._encoded: dict[tuple[Any, ...], Any] = {}
        # Host-side batches are spread over every local device (parallel.py): dense cells row by row,
        # packed jraph batches one per device (parallel.stack), each device scoring its own.
        self._ensemble_dense = compilation.jit(
            lambda stacked, adjacency, ops, mask, op_table, output_id: parallel.over_devices(
                lambda a, o, m: ensemble(stacked, DenseCells(a, o, m), op_table, output_id),
                adjacency,
                ops,
                mask,
                nodes_per_row=ops.shape[1],
            )
        )

        def packed(weights: Any, graphs: Any) -> jax.Array:
            return parallel.over_devices(
                lambda g: ensemble(weights[0], parallel.unstack(g), weights[1], weights[2])[None], graphs
            )

        # Packed batches come in a few bucketed shapes; each one's lowered program is kept between
        # processes (the load-time probe cells among them), for a predictor of the package's own code.
        if own_code(self):
            self._ensemble_packed = compilation.stored_jit_by_type(packed, "packed ensemble", repr(self.model_config))
        else:
            self._ensemble_packed = compilation.jit(packed)

    # ----------------------------------------------------------------- features
    def op_table(self, vocab: Sequence[str], describe: Mapping[str, str] | None = None) -> jax.Array:
        """Embedding rows of ``vocab``; unseen operators are embedded once and remembered.

        Operators ``describe`` gives a sentence are embedded from it for this call only: their
        rows never come from, nor go into, :attr:`op_vectors` (the vectors of their own descriptions).
        """
        own = overridden(dict.fromkeys(vocab), describe)
        if own and self.embedding.features == "onehot":
            raise ValueError(f"one-hot features are not embedded from sentences: cannot describe {sorted(own)}")
        missing = [op for op in dict.fromkeys(vocab) if op not in self.op_vectors and op not in own]
        if missing:
            if self.embedding.features == "onehot":
                raise ValueError(
                    f"one-hot features cannot represent operators unseen in training: {missing}; "
                    f"known operators are {sorted(self.op_vectors)}"
                )
            vectors = operator_vectors(missing, self.embedding, self.reduction)
            self.op_vectors.update(zip(missing, vectors, strict=True))
        rows = dict(zip(own, operator_vectors(list(own), self.embedding, self.reduction, describe), strict=True))
        return jnp.asarray(np.stack([rows[op] if op in rows else self.op_vectors[op] for op in vocab]))

    def scoring_fn(
        self, vocab: Sequence[str], describe: Mapping[str, str] | None = None
    ) -> tuple[Callable[[Any, Any], jax.Array], Any]:
        """``(f, weights)`` with ``f(weights, graph) -> scores`` (GCN ensemble, broken cells -inf).

        A search passes ``weights`` through its own jit as an argument rather than baking them
        into the program as constants: compilation stays fast and one program serves any weights
        (``describe``'s sentences included: they change the operator rows, not the program).
        """
        weights = (self._stacked, self.op_table(vocab, describe), _output_id(vocab))
        return (lambda w, graph: self._ensemble(w[0], graph, w[1], w[2])), weights

    # ------------------------------------------------------------------ scoring
    def score_dense(
        self,
        adjacency: np.ndarray,
        ops: np.ndarray,
        mask: np.ndarray,
        vocab: Sequence[str],
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Scores of dense cells (``ops`` index ``vocab``), in fixed-size chunks (default: sized for the device)."""
        table, output_id = self.op_table(vocab), _output_id(vocab)

        def scores(a: np.ndarray, o: np.ndarray, m: np.ndarray) -> jax.Array:
            return self._ensemble_dense(self._stacked, a, o, m, table, output_id)

        batch_size = batch_size or parallel.rows_per_call(ops.shape[1])
        return map_dense_chunks(scores, adjacency, ops, mask, parallel.round_up(min(batch_size, _bucket(len(ops)))))

    def score_graphs(
        self, graphs: Sequence[ArchGraph], batch_size: int | None = None, describe: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """One score per graph, packed into padded jraph batches of bucketed static shape (default
        size: for the device).

        Identical graphs are scored once (a whole NB201 space holds 9,365 distinct pruned cells).
        ``describe``: operator sentences of the caller's own, as in :meth:`score`.
        """
        if not graphs:
            return np.zeros(0, np.float32)
        slot = {g: i for i, g in enumerate(dict.fromkeys(graphs))}
        unique = list(slot)
        vocab = tuple(dict.fromkeys(op for g in unique for op in g.ops))
        weights = (self._stacked, self.op_table(vocab, describe), _output_id(vocab))
        nodes = _bucket(max(g.num_nodes for g in unique))
        size = parallel.round_up(min(batch_size or parallel.rows_per_call(nodes), _bucket(len(unique))))
        # One padded batch per device, each sized for its share of a chunk.
        budget = Budget.for_batch(size // parallel.device_count(), nodes, _bucket(max(g.num_edges for g in unique)))
        scores = np.empty(len(unique), np.float32)
        for start in range(0, len(unique), size):
            shares = parallel.split(unique[start : start + size])
            batches = parallel.stack([pad_batch(share, budget, vocab)[0] for share in shares])
            per_device = np.asarray(self._ensemble_packed(weights, batches))
            got = np.concatenate([row[: len(share)] for row, share in zip(per_device, shares, strict=True)])
            scores[start : start + len(got)] = got
        return scores[[slot[g] for g in graphs]]

    def score(
        self,
        archs: Any,
        space: SearchSpace | str | None = None,
        describe: Mapping[str, str] | None = None,
        prior: bool = True,
    ) -> Any:
        """Scores of architectures: a space's objects or strings (with ``space``, a space or its
        registered name such as ``"nb201"``), ``ArchGraph``s, or tuples of them (multi-cell
        architectures score the mean over their cells: the network's cells, ``space.cell_counts``,
        with a space). Higher is better; ``-inf``: no data passes.

        ``archs`` is a sequence (scores come back as an array) or one architecture: a string, an
        ``ArchGraph`` or a space object that is no list or tuple (its score comes back as a float;
        wrap an NB201 op tuple in a list). With ``space`` and a nonzero :attr:`cost_weight` or
        :attr:`conv_weight`, the GCN score is blended with the space's FLOP count and the
        architecture's convolution count (:meth:`cost_blend`), so scores compare within a space;
        ``prior=False`` gives the GCN score alone, as raw graphs always get.

        ``describe`` maps operator names to sentences of your own (``{"my_op": "Convolution 3x3 with
        ..."}``), embedded instead of the table's or the one derived from the name, for this call only;
        the size prior is then standardised under them too.

        A space's architectures are scored through its search encoding (:mod:`tgnas_jax.search.batch`):
        one jitted program per space, so every operator of the space needs a vector, as in a search;
        architectures the encoding cannot express, and raw graphs, go through packed graph batches.
        """
        check_overrides(describe)
        if _is_single(archs):
            return float(self.score([archs], space, describe, prior)[0])
        if isinstance(space, str):
            space = get_space(space)
        if space is None:
            return self._score_cells([_as_cells(a) for a in archs], describe)
        parsed = read_archs(space, archs)
        return self._space_scores(space, parsed, describe, self.cost_blend(space, describe=describe) if prior else None)

    def _space_scores(
        self, space: SearchSpace, archs: Sequence[Any], describe: Mapping[str, str] | None, blend: CostBlend | None
    ) -> np.ndarray:
        """Scores of a space's architecture objects under ``blend`` (``None``: the GCN alone): through the
        space's encoding where it expresses them, the rest through their graphs, packed."""
        scores = np.empty(len(archs), np.float32)
        encoded = self._encoded_scoring(space, describe)
        rows = np.zeros(0, np.int64)
        if encoded is not None and encoded.takes(blend):
            rows, choices = encoded.choices(archs)
            if len(rows):
                scores[rows] = encoded.scores(choices, blend)
        rest = np.setdiff1d(np.arange(len(archs)), rows)
        if len(rest):
            cells = [space.to_graphs(archs[i]) for i in rest]
            scores[rest] = self._score_cells(cells, describe, space.cell_counts)
            if blend is not None:
                convs = np.array([convolution_count(c) for c in cells], np.float32)
                scores[rest] = blend.apply(scores[rest], np.log([space.num_flops(archs[i]) for i in rest]), convs)
        return scores

    def _space_key(self, space: SearchSpace, describe: Mapping[str, str] | None) -> tuple[Any, ...]:
        """What a space's size prior and jitted scoring are built from: the space's settings, the
        sentences and the prior's weights. (Operator vectors are read when they are built: replace
        a predictor, ``dataclasses.replace``, rather than edit its vectors after scoring.)"""
        settings = repr(sorted(vars(space).items()))
        overrides = tuple(sorted(check_overrides(describe).items()))
        kind = f"{type(space).__module__}.{type(space).__qualname__}"
        return kind, settings, overrides, self.cost_weight, self.conv_weight

    def _encoded_scoring(self, space: SearchSpace, describe: Mapping[str, str] | None) -> Any:
        """The space's jitted scoring through its search encoding (``None`` without one), built once."""
        # search.batch builds on this module: imported here, when a space is first scored.
        from tgnas_jax.search.batch import EncodedScoring

        key = self._space_key(space, describe)
        if key not in self._encoded:
            self._encoded[key] = EncodedScoring.of(self, space, describe)
        return self._encoded[key]

    def rank(
        self,
        archs: Sequence[Any],
        space: SearchSpace | str | None = None,
        k: int = 10,
        describe: Mapping[str, str] | None = None,
        prior: bool = True,
    ) -> list[tuple[Any, float]]:
        """The ``k`` best-scored of ``archs`` with their scores, best first (ties keep input order).

        ``describe`` and ``prior`` as in :meth:`score`.
        """
        archs = list(archs)
        scores = self.score(archs, space, describe, prior)
        return [(archs[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")[:k]]

    def __repr__(self) -> str:
        cfg, emb = self.model_config, self.embedding
        features = f"{emb.features}/{emb.length}/{emb.dim}" + "+attributes" * emb.attributes
        return (
            f"Predictor(members={len(self.members)}, hidden={cfg.hidden}, layers={cfg.layers}, "
            f"features={features}, cost_weight={self.cost_weight}, conv_weight={self.conv_weight}, "
            f"operators={len(self.op_vectors)})"
        )

    def _score_cells(
        self,
        cells: Sequence[tuple[ArchGraph, ...]],
        describe: Mapping[str, str] | None = None,
        counts: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Per architecture, the mean score of its cells, each cell type weighted by ``counts``
        (``SearchSpace.cell_counts``; ``None``: once each)."""
        weights = {size: cell_weights(counts, size) for size in {len(group) for group in cells}}
        flat = [g for group in cells for g in group]
        scores = self.score_graphs(flat, describe=describe)
        bounds = np.cumsum([0] + [len(group) for group in cells])
        return np.array(
            [scores[lo:hi] @ weights[hi - lo] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)], np.float32
        )

    def cost_blend(
        self, space: SearchSpace, reference_size: int = 1024, describe: Mapping[str, str] | None = None
    ) -> CostBlend | None:
        """The size prior for ``space``, or ``None`` (no weights, or a space without FLOP counts).

        Every term is standardised on a fixed random sample of the space (seed 0), so a score
        does not depend on what else is in the batch; the GCN term under ``describe``'s sentences.
        """
        if not (self.cost_weight or self.conv_weight):
            return None
        key = self._space_key(space, describe)
        if key not in self._blends:
            self._blends[key] = self._stored_blend(space, reference_size, describe)
        return self._blends[key]

    def _stored_blend(
        self, space: SearchSpace, reference_size: int, describe: Mapping[str, str] | None
    ) -> CostBlend | None:
        """:meth:`_fit_blend` on the reference sample, kept between processes (:mod:`tgnas_jax.prior_cache`)
        for the package's own spaces whose encoding counts FLOPs, keyed by the space's settings, the
        weights and the operator rows the fit reads, with the package's code."""
        from tgnas_jax.search.encoding import encoding_for  # search builds on this module

        def fit() -> CostBlend | None:
            return self._fit_blend(space, space.samples(reference_size, seed=0), describe)

        try:
            encoding = encoding_for(space)
            if encoding.prior_table is None or not own_code(space, encoding, self):
                return fit()
            table = self.op_table(encoding.vocab, describe)
        except (ValueError, ImportError):  # no encoding, or an op without a vector: nothing to key on
            return fit()
        key = prior_cache.blend_key(
            self._space_key(space, describe),
            reference_size,
            repr((self.model_config, self.embedding)),
            encoding.vocab,
            table,
            self.members,
        )
        return prior_cache.cached_blend(key, fit)

    def _fit_blend(
        self, space: SearchSpace, sample: Sequence[Any], describe: Mapping[str, str] | None
    ) -> CostBlend | None:
        """The blend standardised on ``sample``: its three terms from the space's jitted scoring where
        its encoding expresses the whole sample and counts FLOPs, else from graphs and the space's counts."""
        encoded = self._encoded_scoring(space, describe)
        if encoded is not None and encoded.encoding.prior_table is not None:
            rows, choices = encoded.choices(sample)
            if len(rows) == len(sample):
                gcn, flops, convs = encoded.terms(choices)
                return CostBlend.fit(self.cost_weight, self.conv_weight, gcn, np.log(flops), convs)
        try:
            log_flops = np.log([space.num_flops(a) for a in sample])
        except NotImplementedError:
            return None
        convs = np.array([convolution_count(space.to_graphs(a)) for a in sample])
        gcn = self._space_scores(space, sample, describe, None)
        return CostBlend.fit(self.cost_weight, self.conv_weight, gcn, log_flops, convs)

    # -------------------------------------------------------------------- save
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the checkpoint folder :func:`tgnas_jax.load_predictor` reads (see :mod:`tgnas_jax.predictor_files`)."""
        from tgnas_jax.predictor_files import save_predictor

        save_predictor(self, path, metadata)


def _is_single(archs: Any) -> bool:
    """One architecture: a string, a graph, a namedtuple (DARTS's ``Genotype``) or any non-sequence."""
    named = isinstance(archs, tuple) and hasattr(archs, "_fields")
    return named or isinstance(archs, str | ArchGraph) or not isinstance(archs, Sequence | np.ndarray)


def _as_cells(arch: Any) -> tuple[ArchGraph, ...]:
    if isinstance(arch, ArchGraph):
        return (arch,)
    if isinstance(arch, tuple) and arch and all(isinstance(g, ArchGraph) for g in arch):
        return arch
    raise TypeError(f"cannot score {arch!r} without its search space: pass space=...")


def _bucket(size: int) -> int:
    """The next power of two: bounds how many shapes (and compilations) scoring meets."""
    return 1 << max(size - 1, 1).bit_length()


def _output_id(vocab: Sequence[str]) -> jax.Array:
    return jnp.asarray(list(vocab).index(OUTPUT) if OUTPUT in vocab else -1)
