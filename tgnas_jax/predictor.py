"""The trained predictor as a product: load it, score architectures, save it.

``load_predictor()`` gives the shipped NB101-trained ensemble; ``predictor.score(archs, space)``
scores any space's architectures (or raw operator-name graphs) in jitted, fixed-shape batches.
Operators the predictor never saw are embedded from their descriptions on first use.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax import traverse_util
from flax.core import unfreeze

from tgnas_jax import parallel
from tgnas_jax.batching import Budget, dense_batch, map_dense_chunks, pad_batch
from tgnas_jax.checkpoints import shipped_path
from tgnas_jax.embeddings.descriptions import check_overrides, overridden
from tgnas_jax.embeddings.table import DIM, PCA
from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph
from tgnas_jax.model import GCN, ModelConfig, node_graph_ids
from tgnas_jax.spaces import get_space
from tgnas_jax.spaces.base import SearchSpace

DEFAULT_CHECKPOINT = shipped_path("tgnas-nb101")
#: Layout of a saved predictor (``predictor.json``'s "format_version"); bump it when the layout changes.
FORMAT_VERSION = 2
#: Formats :func:`upgrade_checkpoint` reads (1: no checksum manifest).
_LEGACY_VERSIONS = (1,)
#: The files a checkpoint holds, the manifest last written: ``sha256sum -c MANIFEST.sha256`` checks them.
HEADER, VECTORS, PARAMS, MANIFEST = "predictor.json", "op_vectors.npz", "params", "MANIFEST.sha256"
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  ([A-Za-z0-9._/-]+)")
#: Largest |score| the load-time probe accepts: trained scores are O(1); a damaged float exponent gives 1e30s.
PROBE_LIMIT = 1e6
#: Score of a cell whose output receives no data: below every trainable cell.
BROKEN_SCORE = -math.inf


class CheckpointError(RuntimeError):
    """A predictor checkpoint that is missing, incomplete or unreadable."""


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

    ``describe`` maps operator names to sentences of the caller's own, embedded instead of theirs.
    """
    if cfg.features == "onehot":
        return np.eye(len(names), dtype=np.float32)
    vectors = _operator_table().lookup(list(names), cfg.length, normalize=cfg.normalize, overrides=describe)
    return reduction.transform(vectors) if reduction is not None else vectors


@dataclass(frozen=True)
class CostBlend:
    """GCN score plus a model-size prior, each standardised on a reference sample of the space.

    ``score = z(gcn) + weight * z(log FLOPs)``. The weight is chosen on NB101's operator-transfer
    hold-out (cells with an operator kept out of training), the split that imitates zero-shot use;
    it works on numpy and jax arrays alike, so a search can apply it inside jit.
    """

    weight: float
    score_mean: float
    score_std: float
    cost_mean: float
    cost_std: float

    def apply(self, scores: Any, log_flops: Any) -> Any:
        z_score = (scores - self.score_mean) / self.score_std
        return z_score + self.weight * (log_flops - self.cost_mean) / self.cost_std


@dataclass
class Predictor:
    """An ensemble of GCNs over a shared operator-embedding table."""

    model_config: ModelConfig
    embedding: EmbeddingConfig
    members: tuple[Any, ...]
    op_vectors: dict[str, np.ndarray]
    reduction: PCA | None = None
    #: Weight of the model-size prior in :meth:`score` (0: the GCN alone); see :class:`CostBlend`.
    cost_weight: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a predictor needs at least one ensemble member")
        self._stacked = parallel.replicate(jax.tree.map(lambda *xs: jnp.stack(xs), *self.members))
        model = GCN(self.model_config)

        def ensemble(stacked: Any, graph: Any, op_table: jax.Array, output_id: jax.Array) -> jax.Array:
            scores = jax.vmap(lambda p: model.apply({"params": p}, graph, op_table))(stacked).mean(axis=0)
            # A cell is broken when no edge carries data into its output node.
            is_output = (graph.nodes["op"] == output_id) & (graph.nodes["mask"] > 0)
            graph_ids = node_graph_ids(graph.n_node, is_output.shape[0])
            into_output = graph.edges * is_output[graph.receivers]
            fed = jax.ops.segment_sum(into_output, graph_ids[graph.receivers], graph.n_node.shape[0]) > 0
            return jnp.where(fed, scores, BROKEN_SCORE)

        self._ensemble = jax.jit(ensemble)
        self._blends: dict[tuple[str, str, tuple[tuple[str, str], ...]], CostBlend | None] = {}
        # Host-side batches are spread over every local device (parallel.py): dense cells row by row,
        # packed jraph batches one per device (parallel.stack), each device scoring its own.
        self._ensemble_dense = jax.jit(
            lambda stacked, adjacency, ops, mask, op_table, output_id: parallel.over_devices(
                lambda a, o, m: ensemble(stacked, dense_batch(a, o, m), op_table, output_id), adjacency, ops, mask
            )
        )
        self._ensemble_packed = jax.jit(
            lambda weights, graphs: parallel.over_devices(
                lambda g: ensemble(weights[0], parallel.unstack(g), weights[1], weights[2])[None], graphs
            )
        )

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
        self, adjacency: np.ndarray, ops: np.ndarray, mask: np.ndarray, vocab: Sequence[str], batch_size: int = 4096
    ) -> np.ndarray:
        """Scores of dense cells (``ops`` index ``vocab``), in fixed-size chunks."""
        table, output_id = self.op_table(vocab), _output_id(vocab)

        def scores(a: np.ndarray, o: np.ndarray, m: np.ndarray) -> jax.Array:
            return self._ensemble_dense(self._stacked, a, o, m, table, output_id)

        return map_dense_chunks(scores, adjacency, ops, mask, parallel.round_up(min(batch_size, _bucket(len(ops)))))

    def score_graphs(
        self, graphs: Sequence[ArchGraph], batch_size: int = 1024, describe: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """One score per graph, packed into padded jraph batches of bucketed static shape.

        Identical graphs are scored once (a whole NB201 space holds 9,365 distinct pruned cells).
        ``describe``: operator sentences of the caller's own, as in :meth:`score`.
        """
        if not graphs:
            return np.zeros(0, np.float32)
        slot = {g: i for i, g in enumerate(dict.fromkeys(graphs))}
        unique = list(slot)
        vocab = tuple(dict.fromkeys(op for g in unique for op in g.ops))
        weights = (self._stacked, self.op_table(vocab, describe), _output_id(vocab))
        size = parallel.round_up(min(batch_size, _bucket(len(unique))))
        # One padded batch per device, each sized for its share of a chunk.
        budget = Budget.for_batch(
            size // parallel.device_count(),
            _bucket(max(g.num_nodes for g in unique)),
            _bucket(max(g.num_edges for g in unique)),
        )
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
        architectures score the mean over their cells). Higher is better; ``-inf``: no data passes.

        ``archs`` is a sequence (scores come back as an array) or one architecture: a string, an
        ``ArchGraph`` or a space object that is no list or tuple (its score comes back as a float;
        wrap an NB201 op tuple in a list). With ``space`` and a nonzero :attr:`cost_weight`, the
        GCN score is blended with the space's FLOP count (:meth:`cost_blend`), so scores compare
        within a space; ``prior=False`` gives the GCN score alone, as raw graphs always get.

        ``describe`` maps operator names to sentences of your own (``{"my_op": "Convolution 3x3 with
        ..."}``), embedded instead of the table's or the one derived from the name, for this call only;
        the size prior is then standardised under them too.
        """
        check_overrides(describe)
        if _is_single(archs):
            return float(self.score([archs], space, describe, prior)[0])
        if isinstance(space, str):
            space = get_space(space)
        if space is not None:
            parsed = [space.parse(a) if isinstance(a, str) else space.check(a) for a in archs]
            cells = [space.to_graphs(a) for a in parsed]
        else:
            cells = [_as_cells(a) for a in archs]
        scores = self._score_cells(cells, describe)
        blend = self.cost_blend(space, describe=describe) if space is not None and prior else None
        if blend is not None:
            scores = blend.apply(scores, np.log([space.num_flops(a) for a in parsed]))
        return scores

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
        return (
            f"Predictor(members={len(self.members)}, hidden={cfg.hidden}, layers={cfg.layers}, "
            f"features={emb.features}/{emb.length}/{emb.dim}, cost_weight={self.cost_weight}, "
            f"operators={len(self.op_vectors)})"
        )

    def _score_cells(
        self, cells: Sequence[tuple[ArchGraph, ...]], describe: Mapping[str, str] | None = None
    ) -> np.ndarray:
        flat = [g for group in cells for g in group]
        scores = self.score_graphs(flat, describe=describe)
        bounds = np.cumsum([0] + [len(group) for group in cells])
        return np.array([scores[lo:hi].mean() for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)], np.float32)

    def cost_blend(
        self, space: SearchSpace, reference_size: int = 1024, describe: Mapping[str, str] | None = None
    ) -> CostBlend | None:
        """The size prior for ``space``, or ``None`` (no weight, or a space without FLOP counts).

        Both terms are standardised on a fixed random sample of the space (seed 0), so a score
        does not depend on what else is in the batch; the GCN term under ``describe``'s sentences.
        """
        if not self.cost_weight:
            return None
        key = (
            type(space).__name__,
            repr(sorted(vars(space).items())),
            tuple(sorted(check_overrides(describe).items())),
        )
        if key not in self._blends:
            sample = space.samples(reference_size, seed=0)
            try:
                log_flops = np.log([space.num_flops(a) for a in sample])
            except NotImplementedError:
                self._blends[key] = None
                return None
            gcn = self._score_cells([space.to_graphs(a) for a in sample], describe)
            live = np.isfinite(gcn)
            self._blends[key] = CostBlend(
                weight=self.cost_weight,
                score_mean=float(gcn[live].mean()),
                score_std=float(gcn[live].std()),
                cost_mean=float(log_flops.mean()),
                cost_std=float(log_flops.std()),
            )
        return self._blends[key]

    # --------------------------------------------------------------- save/load
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write ``predictor.json``, ``op_vectors.npz``, orbax ``params/`` and, last, ``MANIFEST.sha256``.

        The manifest holds the sha256 of every file written, so :func:`load_predictor` refuses a
        checkpoint changed, truncated or half-written since. What load would refuse is not saved.
        """
        path = Path(path).absolute()
        meta = {**self.metadata, **(metadata or {})}
        header = {
            "format_version": FORMAT_VERSION,
            "model": asdict(self.model_config),
            "embedding": asdict(self.embedding),
            "num_members": len(self.members),
            "cost_weight": self.cost_weight,
            "metadata": meta,
        }
        header = json.loads(json.dumps(header, default=str))
        where = f"cannot save predictor to {str(path)!r}"
        model_config, embedding = _check_header(header, where)
        names = sorted(self.op_vectors)
        vectors = np.stack([np.asarray(self.op_vectors[n], np.float32) for n in names])
        reduction = self.reduction.to_arrays() if self.reduction is not None else {}
        _check_vectors({"names": np.array(names), "vectors": vectors, **reduction}, embedding, where)
        members = [jax.tree.map(np.asarray, m) for m in self.members]
        _check_members(members, model_config, vectors.shape[1], where)
        path.mkdir(parents=True, exist_ok=True)
        # An interrupted save leaves no manifest behind, so it cannot pass for a whole checkpoint.
        (path / MANIFEST).unlink(missing_ok=True)
        np.savez(path / VECTORS, names=np.array(names), vectors=vectors, **reduction)
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(path / PARAMS, {"members": list(self.members)}, force=True)
        checkpointer.wait_until_finished()
        (path / HEADER).write_text(json.dumps(header, indent=2) + "\n")
        files = [path / HEADER, path / VECTORS, *sorted(p for p in (path / PARAMS).rglob("*") if p.is_file())]
        lines = [f"{_sha256(p)}  {p.relative_to(path).as_posix()}\n" for p in files]
        (path / MANIFEST).write_text("".join(lines))


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


def _check_format(header: dict[str, Any], path: Path) -> None:
    """Refuse a header of another layout by name, before reading what it describes."""
    version = header.get("format_version")
    if type(version) is int and version == FORMAT_VERSION:
        return
    if version is None:
        problem = "has no format_version (saved before checkpoints were versioned); re-save it with Predictor.save"
    elif type(version) is int and version in _LEGACY_VERSIONS:
        problem = (
            f"has format_version {version}, saved without a checksum manifest; "
            "upgrade it with tgnas_jax.predictor.upgrade_checkpoint(path)"
        )
    elif type(version) is int and version > FORMAT_VERSION:
        problem = f"has format_version {version}, newer than this tgnas-jax reads; upgrade tgnas-jax"
    else:
        problem = f"has unknown format_version {version!r}"
    raise CheckpointError(
        f"predictor checkpoint at {str(path)!r} {problem} (this tgnas-jax reads format {FORMAT_VERSION})"
    )


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify_manifest(path: Path, where: str) -> None:
    """Every file the manifest lists exists with its sha256, and ``params/`` holds nothing unlisted.

    Files beside the checkpoint that save does not write (a model card) are not covered.
    """
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise CheckpointError(f"{where}: {MANIFEST} is missing")
    try:
        lines = manifest.read_bytes().decode("ascii").splitlines()
    except UnicodeDecodeError as err:
        raise CheckpointError(f"{where}: {MANIFEST} is not a sha256 list ({err})") from None
    listed: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        match = _MANIFEST_LINE.fullmatch(line)
        name = match.group(2) if match else ""
        if not match or name.startswith("/") or ".." in name.split("/") or name == MANIFEST:
            raise CheckpointError(f"{where}: {MANIFEST} line {number} is not '<sha256>  <file>': {line!r}")
        if name in listed:
            raise CheckpointError(f"{where}: {MANIFEST} lists {name} twice")
        listed[name] = match.group(1)
    unlisted = [n for n in (HEADER, VECTORS) if n not in listed]
    if not any(n.startswith(f"{PARAMS}/") for n in listed):
        unlisted.append(f"{PARAMS}/")
    if unlisted:
        raise CheckpointError(f"{where}: {MANIFEST} does not list {', '.join(unlisted)}")
    for name, expected in listed.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{where}: {name} is missing ({MANIFEST} lists it)")
        actual = _sha256(file)
        if actual != expected:
            raise CheckpointError(
                f"{where}: {name} has changed since it was saved "
                f"(sha256 {actual[:16]}..., {MANIFEST} says {expected[:16]}...)"
            )
    extra = sorted(
        rel for p in (path / PARAMS).rglob("*") if p.is_file() and (rel := p.relative_to(path).as_posix()) not in listed
    )
    if extra:
        raise CheckpointError(f"{where}: {PARAMS}/ holds files {MANIFEST} does not list: {', '.join(extra)}")


#: Allowed ranges of numeric config fields: ``(test, wording)``; types and choices come from the annotations.
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden": (lambda v: v >= 1, ">= 1"),
    "layers": (lambda v: v >= 1, ">= 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "dim": (lambda v: v >= 1, ">= 1"),
    "num_members": (lambda v: v >= 1, ">= 1"),
    "cost_weight": (lambda v: v >= 0, ">= 0"),
}
_HEADER_KEYS = ("format_version", "model", "embedding", "num_members", "cost_weight", "metadata")


def _check_value(name: str, value: Any, hint: Any, where: str) -> None:
    """``value`` has the annotated type (ints are no strings or bools, floats are finite) and range."""
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        if not any(type(value) is type(c) and value == c for c in choices):
            raise CheckpointError(f"{where}: {name} is {value!r}; it must be one of {list(choices)}")
        return
    if hint is bool:
        ok, kind = type(value) is bool, "true or false"
    elif hint is int:
        ok, kind = type(value) is int, "an integer"
    elif hint is float:
        ok, kind = type(value) in (int, float) and math.isfinite(value), "a finite number"
    else:
        raise TypeError(f"no schema for {name} of type {hint!r}; add it to predictor._check_value")
    if not ok:
        raise CheckpointError(f"{where}: {name} is {value!r}; it must be {kind}")
    test, wording = _RANGES.get(name.rpartition(".")[2], (lambda v: True, ""))
    if not test(value):
        raise CheckpointError(f"{where}: {name} is {value!r}; it must be {wording}")


def _check_config(section: str, value: Any, cls: type, where: str) -> Any:
    """The dataclass ``cls`` built from ``value``: every field present, nothing unknown, each checked."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{where}: {section} must be an object, got {value!r}")
    names = [f.name for f in fields(cls)]
    missing = [n for n in names if n not in value]
    unknown = [k for k in value if k not in names]
    if missing or unknown:
        problems = [f"lacks {', '.join(missing)}"] * bool(missing) + [f"has unknown {', '.join(unknown)}"] * bool(
            unknown
        )
        raise CheckpointError(f"{where}: {section} {' and '.join(problems)}")
    hints = get_type_hints(cls)
    for name in names:
        _check_value(f"{section}.{name}", value[name], hints[name], where)
    return cls(**value)


def _check_header(header: Any, where: str) -> tuple[ModelConfig, EmbeddingConfig]:
    """The header's model and embedding configs, after checking every field against the schema."""
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: predictor.json must hold an object, got {type(header).__name__}")
    missing = [k for k in _HEADER_KEYS if k not in header]
    unknown = [k for k in header if k not in _HEADER_KEYS]
    if missing:
        raise CheckpointError(f"{where}: predictor.json lacks {', '.join(missing)}")
    if unknown:
        raise CheckpointError(f"{where}: predictor.json has unknown keys {', '.join(unknown)}")
    model_config = _check_config("model", header["model"], ModelConfig, where)
    embedding = _check_config("embedding", header["embedding"], EmbeddingConfig, where)
    _check_value("num_members", header["num_members"], int, where)
    _check_value("cost_weight", header["cost_weight"], float, where)
    if not isinstance(header["metadata"], dict):
        raise CheckpointError(f"{where}: metadata must be an object, got {header['metadata']!r}")
    return model_config, embedding


def _check_vectors(arrays: Any, embedding: EmbeddingConfig, where: str) -> None:
    """Unique operator names (the cell ends among them), finite vectors of the header's width."""
    allowed = {"names", "vectors", "pca_mean", "pca_components"}
    keys = set(arrays.keys()) if hasattr(arrays, "keys") else set(arrays.files)
    if keys - allowed or not {"names", "vectors"} <= keys or len(keys & {"pca_mean", "pca_components"}) == 1:
        raise CheckpointError(f"{where}: {VECTORS} holds arrays {sorted(keys)}, not names, vectors [, pca_*]")
    names, vectors = arrays["names"], arrays["vectors"]
    if names.ndim != 1 or names.dtype.kind != "U" or not names.size or not all(names.tolist()):
        raise CheckpointError(f"{where}: {VECTORS} names must be non-empty strings, got {names.dtype} {names.shape}")
    if len(set(names.tolist())) != len(names):
        raise CheckpointError(f"{where}: {VECTORS} names the same operator twice")
    absent = [op for op in (INPUT, OUTPUT) if op not in names.tolist()]
    if absent:
        raise CheckpointError(f"{where}: {VECTORS} lacks the cell ends {absent}")
    width = embedding.dim if embedding.features == "minilm" else len(names)
    if vectors.dtype != np.float32 or vectors.shape != (len(names), width):
        raise CheckpointError(
            f"{where}: {VECTORS} vectors are {vectors.dtype} {vectors.shape}; "
            f"{len(names)} operators under embedding {embedding} need float32 {(len(names), width)}"
        )
    if not np.isfinite(vectors).all():
        raise CheckpointError(f"{where}: {VECTORS} vectors are not all finite")
    if embedding.features == "onehot":
        # Each row one 1, each column one 1: a permuted identity, and no projection.
        if "pca_mean" in keys or not _is_permutation(vectors):
            raise CheckpointError(f"{where}: {VECTORS} one-hot vectors are not a permuted identity")
    elif "pca_mean" in keys:
        mean, components = arrays["pca_mean"], arrays["pca_components"]
        if mean.shape != (DIM,) or components.shape != (embedding.dim, DIM):
            raise CheckpointError(
                f"{where}: {VECTORS} projection is {mean.shape} / {components.shape}; "
                f"embedding.dim {embedding.dim} needs ({DIM},) / {(embedding.dim, DIM)}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(components).all()):
            raise CheckpointError(f"{where}: {VECTORS} projection is not all finite")


def _is_permutation(matrix: np.ndarray) -> bool:
    binary = np.isin(matrix, (0.0, 1.0)).all()
    return bool(binary and (matrix.sum(axis=0) == 1).all() and (matrix.sum(axis=1) == 1).all())


def _expected_params(model_config: ModelConfig, dim: int) -> dict[tuple[str, ...], jax.ShapeDtypeStruct]:
    """Shapes of one member's parameters under ``model_config`` (traced, nothing computed)."""
    example = dense_batch(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
    shapes = jax.eval_shape(
        lambda: GCN(model_config).init(jax.random.PRNGKey(0), example, jnp.zeros((1, dim), jnp.float32))
    )
    return traverse_util.flatten_dict(shapes["params"])


def _check_members(members: Any, model_config: ModelConfig, dim: int, where: str) -> None:
    """Each member's parameter tree is the one the header's model builds, and finite."""
    expected = _expected_params(model_config, dim)
    for i, member in enumerate(members):
        flat = traverse_util.flatten_dict(unfreeze(member)) if isinstance(member, Mapping) and member else {}
        problems = [f"{'/'.join(k)} is missing" for k in expected if k not in flat]
        problems += [f"{'/'.join(k)} is not in that model" for k in flat if k not in expected]
        for key in expected.keys() & flat.keys():
            got, want = flat[key], expected[key]
            if np.shape(got) != want.shape or np.asarray(got).dtype != want.dtype:
                problems.append(
                    f"{'/'.join(key)} is {np.asarray(got).dtype} {np.shape(got)}, the model needs {want.dtype} "
                    f"{want.shape}"
                )
        if problems:
            raise CheckpointError(
                f"{where}: member {i}'s parameters do not fit the header's model {model_config} over "
                f"{dim}-dim operator vectors: {'; '.join(sorted(problems)[:6])}"
            )
        bad = ["/".join(k) for k, v in flat.items() if not np.isfinite(np.asarray(v)).all()]
        if bad:
            raise CheckpointError(f"{where}: member {i}'s parameters are not finite: {', '.join(sorted(bad))}")


def _probe_graphs(names: Sequence[str]) -> list[ArchGraph]:
    """Small cells over the checkpoint's own operators: a chain through each, and one through all."""
    ops = [op for op in names if op not in (INPUT, OUTPUT)]
    chains = [[op] for op in ops] + ([ops] if len(ops) > 1 else []) or [[]]
    return [ArchGraph(np.eye(len(chain) + 2, k=1, dtype=np.uint8), (INPUT, *chain, OUTPUT)) for chain in chains]


def _probe(predictor: Predictor, where: str) -> None:
    """Refuse weights that load but cannot score: probe scores must be finite and of sane size."""
    scores = predictor.score_graphs(_probe_graphs(sorted(predictor.op_vectors)))
    if not (np.isfinite(scores).all() and (np.abs(scores) < PROBE_LIMIT).all()):
        raise CheckpointError(f"{where}: its weights give unusable scores on probe cells: {scores.tolist()}")


def _load(path: Path, upgrading: bool = False) -> Predictor:
    header_file = path / HEADER
    if not header_file.is_file():
        raise CheckpointError(f"no predictor checkpoint at {str(path)!r}: {header_file.name} is missing")
    where = f"predictor checkpoint at {str(path)!r} is corrupt or incomplete"
    try:
        header = json.loads(header_file.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{where}: {HEADER} is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: {HEADER} must hold an object, got {type(header).__name__}")
    if upgrading and header.get("format_version") in _LEGACY_VERSIONS and type(header["format_version"]) is int:
        header["format_version"] = FORMAT_VERSION
    else:
        _check_format(header, path)
        _verify_manifest(path, where)
    model_config, embedding = _check_header(header, where)
    try:
        with np.load(path / VECTORS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # numpy and zipfile raise many types
        raise CheckpointError(f"{where}: {VECTORS}: {err}") from err
    _check_vectors(arrays, embedding, where)
    try:
        checkpointer = ocp.StandardCheckpointer()
        restored = checkpointer.restore(path / PARAMS, _restore_target(checkpointer, path / PARAMS))
        members = restored["members"]
    except Exception as err:  # orbax, tensorstore and msgpack raise many types
        raise CheckpointError(f"{where}: {PARAMS}/: {err}") from err
    if not isinstance(members, list) or len(members) != header["num_members"]:
        count = len(members) if isinstance(members, list) else members
        raise CheckpointError(f"{where}: {PARAMS}/ holds {count} members, its header says {header['num_members']}")
    _check_members(members, model_config, arrays["vectors"].shape[1], where)
    predictor = Predictor(
        model_config,
        embedding,
        tuple(jax.tree.map(jnp.asarray, m) for m in members),
        dict(zip(arrays["names"].tolist(), arrays["vectors"], strict=True)),
        reduction=PCA.from_arrays(arrays) if "pca_mean" in arrays else None,
        cost_weight=float(header["cost_weight"]),
        metadata=header["metadata"],
    )
    _probe(predictor, where)
    return predictor


def _restore_target(checkpointer: ocp.StandardCheckpointer, params: Path) -> Any:
    """``None`` (as saved) for one process; under ``jax.distributed``, the saved tree on this process's own
    first device: orbax refuses, untargeted, a checkpoint saved under another process topology."""
    if jax.process_count() == 1:
        return None
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    saved = checkpointer.metadata(params).item_metadata
    return jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), saved)


def load_predictor(path: str | Path | None = None) -> Predictor:
    """The predictor saved at ``path``; by default the shipped NB101-trained one.

    Before anything is used the files are checked against the checksum manifest, the header
    against its schema, the parameters against the header's model, and probe cells must score.
    Any fault raises :class:`CheckpointError` naming the file and what is wrong.
    """
    return _load(Path(path if path is not None else DEFAULT_CHECKPOINT).absolute())


def upgrade_checkpoint(path: str | Path, out: str | Path | None = None) -> Predictor:
    """Re-save a checkpoint of an older format (no manifest) in the current one, at ``out`` or in place.

    Everything but the checksums is checked as on load; the weights are copied, not retrained.
    """
    predictor = _load(Path(path).absolute(), upgrading=True)
    predictor.save(out if out is not None else path)
    return predictor
