"""Operator embeddings without MiniLM at run time: a shipped table, a user cache, PCA, batch features.

Vectors are keyed by (operator, description, description length, model id) and stored as raw
mean-pooled float32 rows; :meth:`OperatorEmbeddings.lookup` L2-normalises them by default, as the
sentence-transformers pipeline of all-MiniLM-L6-v2 does. ``checkpoints/operator_embeddings.npz``
holds every operator of :data:`KNOWN_OPERATORS` at all three lengths, so scoring known operators
never loads the encoder. An unknown operator (or a user's own sentence) is embedded once, on
demand, and appended to the user cache (``$TGNAS_CACHE_DIR``, else platformdirs' user cache dir).
"""

from __future__ import annotations

import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import jraph
import numpy as np
import platformdirs

from tgnas_jax.batching import Budget, pad_batch
from tgnas_jax.cachefiles import CacheWarning, atomic_write, file_lock
from tgnas_jax.checkpoints import shipped_path
from tgnas_jax.embeddings.descriptions import (
    KNOWN_OPERATORS,
    LENGTHS,
    Description,
    Length,
    check_overrides,
    describe,
)
from tgnas_jax.embeddings.encoder import MODEL_ID, l2_normalize
from tgnas_jax.graph import ArchGraph

DIM = 384
SHIPPED_TABLE = shipped_path("operator_embeddings.npz")
CACHE_DIR_ENV = "TGNAS_CACHE_DIR"
CACHE_FILE = "operator_embeddings.npz"
_FORMAT = 1


class TextEncoder(Protocol):
    """What the table needs of an encoder (``MiniLMEncoder``, or a stand-in in tests)."""

    model_id: str

    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray: ...


class EmbeddingKey(NamedTuple):
    op: str
    description: str
    length: str
    model_id: str


def user_cache_path() -> Path:
    """Where embeddings of operators outside the shipped table are kept between runs."""
    root = os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("tgnas-jax")
    return Path(root).expanduser() / CACHE_FILE


def read_entries(path: str | os.PathLike[str]) -> dict[EmbeddingKey, np.ndarray]:
    """The entries of a table file; raises ``ValueError`` naming a file that is not one or holds NaN/inf."""
    try:
        entries, nonfinite = _scan_table(path)
    except ValueError as err:
        raise ValueError(f"{err}; delete or rebuild it") from None
    if nonfinite:
        raise ValueError(f"{path} holds non-finite vectors for {sorted(nonfinite)}; delete or rebuild it")
    return entries


# What np.load and zipfile raise on a truncated, empty, bit-flipped or foreign file.
_UNREADABLE = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, NotImplementedError)
_UNREADABLE += (zipfile.BadZipFile, zlib.error, struct.error)


def _scan_table(path: str | os.PathLike[str]) -> tuple[dict[EmbeddingKey, np.ndarray], list[str]]:
    """The finite entries of a table file and the operators whose vectors are not finite.

    Every member's CRC is checked first (``testzip``), so a flipped bit is an error even where
    numpy would read a header that shrank an array without reaching the member's end.
    """
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            bad = data.zip.testzip()
            if bad is not None:
                raise ValueError(f"member {bad!r} fails its CRC check")
            if int(data["format"]) != _FORMAT:
                raise ValueError(f"format {int(data['format'])}, expected {_FORMAT}")
            model_id = str(data["model_id"][()])
            ops, lengths, rows = data["ops"], data["lengths"], data["rows"]
            texts, vectors = data["texts"], data["vectors"]
            if not (ops.ndim == lengths.ndim == rows.ndim == texts.ndim == 1 and len(ops) == len(lengths) == len(rows)):
                raise ValueError("ops, lengths, rows and texts must be 1-d, the first three of one length")
            if {ops.dtype.kind, lengths.dtype.kind, texts.dtype.kind} - {"U"} or rows.dtype.kind not in "iu":
                raise ValueError("ops, lengths and texts must be strings and rows integers")
            if vectors.shape != (len(texts), DIM) or vectors.dtype.kind != "f":
                raise ValueError(f"vectors of shape {vectors.shape}, expected ({len(texts)}, {DIM}) floats")
            if rows.size and (rows.min() < 0 or rows.max() >= len(texts)):
                raise ValueError(f"rows outside 0..{len(texts) - 1}")
            if set(lengths.tolist()) - set(LENGTHS):
                raise ValueError(f"lengths {sorted(set(lengths.tolist()) - set(LENGTHS))} are not {LENGTHS}")
            vectors = vectors.astype(np.float32)
            finite = np.isfinite(vectors).all(axis=1)
            entries, nonfinite, text_list = {}, [], texts.tolist()
            for op, length, row in zip(ops.tolist(), lengths.tolist(), rows.tolist(), strict=True):
                if finite[row]:
                    entries[EmbeddingKey(op, text_list[row], length, model_id)] = vectors[row]
                else:
                    nonfinite.append(op)
            return entries, nonfinite
    except _UNREADABLE as err:
        raise ValueError(f"{path} is not an operator-embedding table ({err!r})") from None


def write_entries(path: str | os.PathLike[str], entries: Mapping[EmbeddingKey, np.ndarray]) -> None:
    """Write entries of one model atomically; rows are shared between keys with the same description."""
    model_ids = {key.model_id for key in entries}
    if len(model_ids) > 1:
        raise ValueError(f"one table file holds one model's vectors, got {sorted(model_ids)}")
    texts = list(dict.fromkeys(key.description for key in entries))
    row = {text: i for i, text in enumerate(texts)}
    vectors = {key.description: vector for key, vector in entries.items()}
    matrix = np.array([vectors[text] for text in texts], dtype=np.float32).reshape(len(texts), DIM)
    if not np.isfinite(matrix).all():
        raise ValueError(f"refusing to write non-finite vectors to {path}")
    arrays = {
        "format": np.array(_FORMAT),
        "model_id": np.array(model_ids.pop() if model_ids else MODEL_ID),
        "ops": np.array([key.op for key in entries], dtype=str),
        "lengths": np.array([key.length for key in entries], dtype=str),
        "rows": np.array([row[key.description] for key in entries], dtype=np.int32),
        "texts": np.array(texts, dtype=str),
        "vectors": matrix,
    }
    atomic_write(Path(path), lambda handle: np.savez(handle, **arrays))


def read_cache(path: str | os.PathLike[str]) -> dict[EmbeddingKey, np.ndarray]:
    """The usable entries of a user cache; a damaged one is reported once (:class:`CacheWarning`) and rebuilt.

    Read without the lock (writers replace the file atomically); only a damaged file is re-read
    under the lock, so that one process reports and repairs it and the others find it repaired.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        entries, nonfinite = _scan_table(path)
    except ValueError:
        return _repair(path)
    return _repair(path) if nonfinite else entries


def update_cache(path: str | os.PathLike[str], new: Mapping[EmbeddingKey, np.ndarray]) -> None:
    """Add ``new`` to the cache: read, merge and replace under the file lock, so concurrent writers lose nothing."""
    path = Path(path)
    try:
        with file_lock(path):
            cached = _salvage(path)
            write_entries(path, {**cached, **new})
    except OSError as err:
        warnings.warn(
            f"cannot write embedding cache {str(path)!r} ({err!r}); new operators will be embedded again",
            CacheWarning,
            stacklevel=3,
        )


def _salvage(path: Path) -> dict[EmbeddingKey, np.ndarray]:
    """The usable entries of ``path`` (caller holds its lock), warning once when some or all are lost."""
    if not path.is_file():
        return {}
    try:
        entries, nonfinite = _scan_table(path)
    except ValueError as err:
        warnings.warn(f"{err}: ignored; the cache is rebuilt", CacheWarning, stacklevel=4)
        return {}
    if nonfinite:
        warnings.warn(
            f"{path} held non-finite vectors for {sorted(nonfinite)}: dropped, and rebuilt without them",
            CacheWarning,
            stacklevel=4,
        )
    return entries


def _repair(path: Path) -> dict[EmbeddingKey, np.ndarray]:
    """Re-read a damaged cache under its lock and rewrite (or remove) it holding only its usable entries."""
    try:
        with file_lock(path):
            try:
                entries, nonfinite = _scan_table(path)
                if not nonfinite:
                    return entries  # another process repaired it meanwhile
            except ValueError:
                pass
            entries = _salvage(path)
            if entries:
                write_entries(path, entries)
            else:
                path.unlink(missing_ok=True)
            return entries
    except OSError as err:
        warnings.warn(f"{path}: damaged and cannot be rebuilt ({err!r}); ignored", CacheWarning, stacklevel=4)
        return {}


@dataclass(frozen=True, eq=False)
class PCA:
    """A fitted projection ``(x - mean) @ components.T``, kept as two arrays to store beside a predictor.

    All-MiniLM-L6-v2-64 in the paper. Fit it on the full operator vocabulary's descriptions
    (:meth:`OperatorEmbeddings.fit_pca`): a training vocabulary of ~5 operators has rank < 64.
    """

    mean: np.ndarray
    components: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, np.float32)
        components = np.asarray(self.components, np.float32)
        if mean.ndim != 1 or components.ndim != 2 or components.shape[1] != mean.shape[0]:
            raise ValueError(f"PCA needs mean (d,) and components (k, d), got {mean.shape} and {components.shape}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "components", components)

    @property
    def dim(self) -> int:
        return self.components.shape[0]

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int = 64) -> PCA:
        """Principal axes of ``vectors``; signs fixed (largest loading positive) so refits agree."""
        x = np.asarray(vectors, np.float64)
        if x.ndim != 2 or not 1 <= dim < x.shape[0] or dim > x.shape[1]:
            raise ValueError(
                f"PCA to {dim} dims needs at least {dim + 1} distinct vectors of dimension >= {dim}, got shape "
                f"{x.shape}; fit on the full operator vocabulary, not a training vocabulary of a few operators"
            )
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        components = vt[:dim]
        components *= np.sign(components[np.arange(dim), np.abs(components).argmax(axis=1)])[:, None]
        return cls(mean, components)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Project any vectors, unseen operators' included."""
        return ((np.asarray(vectors, np.float32) - self.mean) @ self.components.T).astype(np.float32)

    def to_arrays(self, prefix: str = "pca_") -> dict[str, np.ndarray]:
        return {f"{prefix}mean": self.mean, f"{prefix}components": self.components}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "pca_") -> PCA:
        return cls(np.asarray(arrays[f"{prefix}mean"]), np.asarray(arrays[f"{prefix}components"]))

    def save(self, path: str | os.PathLike[str]) -> None:
        np.savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PCA:
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays(data)


class OperatorEmbeddings:
    """Operator -> embedding, from stored vectors where it can and the encoder where it must.

    ``overrides`` maps operator names to the user's own sentences; ``encoder`` defaults to the
    process-wide MiniLM, loaded only when an operator is missing; ``cache_path`` (``None``: no
    cache) receives every vector embedded on demand.
    """

    def __init__(
        self,
        entries: Mapping[EmbeddingKey, np.ndarray] | None = None,
        *,
        model_id: str = MODEL_ID,
        overrides: Mapping[str, str] | None = None,
        encoder: TextEncoder | None = None,
        cache_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_id = model_id
        check_overrides(overrides)  # now, not at the first lookup
        self.overrides = dict(overrides or {})
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self._encoder = encoder
        self._entries: dict[EmbeddingKey, np.ndarray] = {}
        self._by_text: dict[tuple[str, str], np.ndarray] = {}
        self._add(entries or {})

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        cache_path: str | os.PathLike[str] | Literal["user"] | None = "user",
        overrides: Mapping[str, str] | None = None,
        encoder: TextEncoder | None = None,
    ) -> OperatorEmbeddings:
        """The shipped table (or ``path``) merged with the cache file ("user": :func:`user_cache_path`)."""
        path = Path(path) if path is not None else SHIPPED_TABLE
        if not path.is_file():
            raise FileNotFoundError(f"no operator-embedding table at {path}; run benchmarks/build_embedding_table.py")
        cache = user_cache_path() if cache_path == "user" else cache_path
        table = cls(read_entries(path), overrides=overrides, encoder=encoder, cache_path=cache)
        if table.cache_path is not None:
            table._add(read_cache(table.cache_path))
        return table

    @classmethod
    def build(
        cls, encoder: TextEncoder, ops: Iterable[str] = KNOWN_OPERATORS, lengths: Iterable[Length] = LENGTHS
    ) -> OperatorEmbeddings:
        """A table of ``ops`` at each of ``lengths``, every distinct sentence encoded once."""
        table = cls(model_id=encoder.model_id, encoder=encoder)
        for length in lengths:
            table.lookup(list(ops), length)
        return table

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> list[EmbeddingKey]:
        return list(self._entries)

    def vector(self, key: EmbeddingKey) -> np.ndarray:
        """The raw (un-normalised) stored vector of ``key``."""
        return self._entries[key]

    def save(self, path: str | os.PathLike[str]) -> None:
        write_entries(path, {key: vec for key, vec in self._entries.items() if key.model_id == self.model_id})

    def describe(self, op: str, length: Length = "short", overrides: Mapping[str, str] | None = None) -> Description:
        """The sentence of ``op``; ``overrides`` (this call's own sentences) win over the table's."""
        check_overrides(overrides)
        return describe(op, length, {**self.overrides, **(overrides or {})})

    def lookup(
        self,
        ops: Sequence[str],
        length: Length = "short",
        *,
        normalize: bool = True,
        overrides: Mapping[str, str] | None = None,
    ) -> np.ndarray:
        """``(len(ops), 384)`` float32 embeddings; each distinct operator is looked up (or encoded) once.

        ``overrides`` give sentences for this lookup only; vectors are kept by sentence, so an
        operator's own description and an override of it never share one.
        """
        if isinstance(ops, str):
            raise TypeError(f"lookup takes a sequence of operator names, not one string: {ops!r}")
        check_overrides(overrides)
        descriptions = {op: self.describe(op, length, overrides) for op in dict.fromkeys(ops)}
        missing = [d for d in descriptions.values() if self._find(d) is None]
        if missing:
            self._embed(missing)
        rows = {op: self._find(d) for op, d in descriptions.items()}
        out = np.array([rows[op] for op in ops], dtype=np.float32).reshape(len(ops), DIM)
        return l2_normalize(out) if normalize else out

    def fit_pca(self, dim: int = 64, ops: Iterable[str] = KNOWN_OPERATORS, lengths: Iterable[Length] = LENGTHS) -> PCA:
        """PCA of the normalised embeddings of the distinct descriptions of ``ops`` at ``lengths``.

        The default, every shipped operator at every length, gives ~200 distinct sentences: enough
        for 64 components, unlike the handful of operators a predictor is trained on.
        """
        ops = list(ops)
        rows: dict[str, np.ndarray] = {}
        for length in lengths:
            for op, vector in zip(ops, self.lookup(ops, length), strict=True):
                rows.setdefault(self.describe(op, length).text, vector)
        return PCA.fit(np.array(list(rows.values())), dim)

    def _key(self, description: Description) -> EmbeddingKey:
        return EmbeddingKey(description.op, description.text, description.length, self.model_id)

    def _find(self, description: Description) -> np.ndarray | None:
        """The stored vector for this key, else for the same sentence under another name."""
        key = self._key(description)
        vector = self._entries.get(key)
        if vector is None:
            vector = self._by_text.get((description.text, self.model_id))
            if vector is not None:
                self._entries[key] = vector
        return vector

    def _add(self, entries: Mapping[EmbeddingKey, np.ndarray]) -> None:
        for key, vector in entries.items():
            vector = np.asarray(vector, np.float32)
            if vector.shape != (DIM,):
                raise ValueError(f"embedding of {key.op!r} has shape {vector.shape}, expected ({DIM},)")
            if not np.isfinite(vector).all():
                raise ValueError(f"embedding of {key.op!r} ({key.description!r}) is not finite")
            self._entries[key] = vector
            self._by_text[(key.description, key.model_id)] = vector

    def _embed(self, descriptions: Sequence[Description]) -> None:
        """Encode the sentences no entry holds, store them, and append them to the cache file."""
        if self._encoder is None:
            from tgnas_jax.embeddings.encoder import shared_encoder

            self._encoder = shared_encoder()
        if self._encoder.model_id != self.model_id:
            raise ValueError(f"encoder {self._encoder.model_id!r} cannot extend a table of {self.model_id!r}")
        texts = list(dict.fromkeys(d.text for d in descriptions))
        encoded = dict(zip(texts, self._encoder.encode(texts, normalize=False), strict=True))
        new = {self._key(d): encoded[d.text] for d in descriptions}
        self._add(new)
        if self.cache_path is not None:
            update_cache(self.cache_path, new)


def embed_batch(
    graphs: Sequence[ArchGraph],
    budget: Budget,
    table: OperatorEmbeddings,
    length: Length = "short",
    *,
    vocab: Sequence[str] | None = None,
    pca: PCA | None = None,
    normalize: bool = True,
) -> tuple[jraph.GraphsTuple, np.ndarray]:
    """A padded batch and its ``(vocab_size, dim)`` operator-embedding matrix, looked up once per batch.

    The model gathers rows by the batch's node op indices. Pass a fixed ``vocab`` (e.g. the training vocabulary
    plus the batch's new operators) to keep the matrix shape, and so the jitted model, stable.
    """
    batch, vocab = pad_batch(graphs, budget, vocab)
    matrix = table.lookup(vocab, length, normalize=normalize)
    return batch, pca.transform(matrix) if pca is not None else matrix
