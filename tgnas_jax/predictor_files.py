"""Predictor checkpoint folders: writing them, and reading them only when whole and sound.

A folder holds ``predictor.json`` (the header: format version, model and embedding configs,
members, size-prior weights, metadata), ``op_vectors.npz``, orbax ``params/`` and, written last,
``MANIFEST.sha256``. Loading checks the files against the manifest, the header against its
schema, the parameters against the header's model, and that probe cells score; any fault is a
:class:`CheckpointError` naming the file and what is wrong. The model knows nothing of files:
this module is where they are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from flax.core import unfreeze

from tgnas_jax import predictor_cache
from tgnas_jax.batching import DenseCells
from tgnas_jax.checkpoints import shipped_path
from tgnas_jax.embeddings.table import DIM, PCA
from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor

#: The predictors the package ships, by name: ``load_predictor(name)``, ``--predictor name``. The
#: first is the default; the second is one network distilled from it (see its model card).
SHIPPED_PREDICTORS = ("tgnas-nb101", "tgnas-nb101-distilled")
DEFAULT_CHECKPOINT = shipped_path(SHIPPED_PREDICTORS[0])
#: Layout of a saved predictor (``predictor.json``'s "format_version"); bump it when the layout changes.
FORMAT_VERSION = 4
#: Older formats read as they are (2: no ``embedding.attributes``, which was then always false;
#: 3: no ``conv_weight``, the size prior had no convolution term).
_READABLE_VERSIONS = (2, 3)
#: Formats :func:`upgrade_checkpoint` reads (1: no checksum manifest).
_LEGACY_VERSIONS = (1,)
#: Header fields a format version added (per section; ``None``: the top level), with the value older
#: files mean by their absence.
_ADDED_FIELDS: dict[int, dict[str | None, dict[str, Any]]] = {
    3: {"embedding": {"attributes": False}},
    4: {None: {"conv_weight": 0.0}},
}
#: The files a checkpoint holds, the manifest last written: ``sha256sum -c MANIFEST.sha256`` checks them.
HEADER, VECTORS, PARAMS, MANIFEST = "predictor.json", "op_vectors.npz", "params", "MANIFEST.sha256"
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  ([A-Za-z0-9._/-]+)")
#: Largest |score| the load-time probe accepts: trained scores are O(1); a damaged float exponent gives 1e30s.
PROBE_LIMIT = 1e6


class CheckpointError(RuntimeError):
    """A predictor checkpoint that is missing, incomplete or unreadable."""


def save_predictor(predictor: Predictor, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write ``predictor.json``, ``op_vectors.npz``, orbax ``params/`` and, last, ``MANIFEST.sha256``.

    The manifest holds the sha256 of every file written, so :func:`load_predictor` refuses a
    checkpoint changed, truncated or half-written since. What load would refuse is not saved.
    """
    path = Path(path).absolute()
    meta = {**predictor.metadata, **(metadata or {})}
    header = {
        "format_version": FORMAT_VERSION,
        "model": asdict(predictor.model_config),
        "embedding": asdict(predictor.embedding),
        "num_members": len(predictor.members),
        "cost_weight": predictor.cost_weight,
        "conv_weight": predictor.conv_weight,
        "metadata": meta,
    }
    header = json.loads(json.dumps(header, default=str))
    where = f"cannot save predictor to {str(path)!r}"
    model_config, embedding = _check_header(header, where)
    names = sorted(predictor.op_vectors)
    vectors = np.stack([np.asarray(predictor.op_vectors[n], np.float32) for n in names])
    reduction = predictor.reduction.to_arrays() if predictor.reduction is not None else {}
    _check_vectors({"names": np.array(names), "vectors": vectors, **reduction}, embedding, where)
    members = [jax.tree.map(np.asarray, m) for m in predictor.members]
    _check_members(members, model_config, vectors.shape[1], where)
    path.mkdir(parents=True, exist_ok=True)
    # An interrupted save leaves no manifest behind, so it cannot pass for a whole checkpoint.
    (path / MANIFEST).unlink(missing_ok=True)
    np.savez(path / VECTORS, names=np.array(names), vectors=vectors, **reduction)
    import orbax.checkpoint as ocp  # on use: 0.2 s of import that a load from the cache skips

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path / PARAMS, {"members": list(predictor.members)}, force=True)
    checkpointer.wait_until_finished()
    (path / HEADER).write_text(json.dumps(header, indent=2) + "\n")
    files = [path / HEADER, path / VECTORS, *sorted(p for p in (path / PARAMS).rglob("*") if p.is_file())]
    lines = [f"{_sha256(p)}  {p.relative_to(path).as_posix()}\n" for p in files]
    (path / MANIFEST).write_text("".join(lines))


def _check_format(header: dict[str, Any], path: Path) -> None:
    """Refuse a header of another layout by name, before reading what it describes."""
    version = header.get("format_version")
    if type(version) is int and (version == FORMAT_VERSION or version in _READABLE_VERSIONS):
        return
    if version is None:
        problem = "has no format_version (saved before checkpoints were versioned); re-save it with Predictor.save"
    elif type(version) is int and version in _LEGACY_VERSIONS:
        problem = (
            f"has format_version {version}, saved without a checksum manifest; "
            "upgrade it with tgnas_jax.predictor_files.upgrade_checkpoint(path)"
        )
    elif type(version) is int and version > FORMAT_VERSION:
        problem = f"has format_version {version}, newer than this tgnas-jax reads; upgrade tgnas-jax"
    else:
        problem = f"has unknown format_version {version!r}"
    raise CheckpointError(
        f"predictor checkpoint at {str(path)!r} {problem} "
        f"(this tgnas-jax reads formats {', '.join(map(str, (*_READABLE_VERSIONS, FORMAT_VERSION)))})"
    )


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify_manifest(path: Path, where: str) -> bytes:
    """The manifest, once every file it lists exists with its sha256 and ``params/`` holds nothing unlisted.

    Files beside the checkpoint that save does not write (a model card) are not covered.
    """
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise CheckpointError(f"{where}: {MANIFEST} is missing")
    text = manifest.read_bytes()
    try:
        lines = text.decode("ascii").splitlines()
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
    return text


#: Allowed ranges of numeric config fields: ``(test, wording)``; types and choices come from the annotations.
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden": (lambda v: v >= 1, ">= 1"),
    "layers": (lambda v: v >= 1, ">= 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "dim": (lambda v: v >= 1, ">= 1"),
    "num_members": (lambda v: v >= 1, ">= 1"),
    "cost_weight": (lambda v: v >= 0, ">= 0"),
    "conv_weight": (lambda v: v >= 0, ">= 0"),
}
_HEADER_KEYS = ("format_version", "model", "embedding", "num_members", "cost_weight", "conv_weight", "metadata")


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
    _check_value("conv_weight", header["conv_weight"], float, where)
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
    width = embedding.width(len(names))
    if vectors.dtype != np.float32 or vectors.shape != (len(names), width):
        raise CheckpointError(
            f"{where}: {VECTORS} vectors are {vectors.dtype} {vectors.shape}; "
            f"{len(names)} operators under embedding {embedding} need float32 {(len(names), width)}"
        )
    if not np.isfinite(vectors).all():
        raise CheckpointError(f"{where}: {VECTORS} vectors are not all finite")
    if embedding.features == "onehot":
        # Each row one 1, each column one 1: a permuted identity, and no projection.
        if "pca_mean" in keys or not _is_permutation(vectors[:, : len(names)]):
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
    example = DenseCells(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
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


def _fill_added_fields(header: dict[str, Any]) -> None:
    """Give a header of an older format the fields added since, as that format meant them."""
    for version, sections in _ADDED_FIELDS.items():
        if header["format_version"] < version:
            for section, defaults in sections.items():
                if section is None:
                    header.update({k: v for k, v in defaults.items() if k not in header})
                elif isinstance(header.get(section), dict):
                    header[section] = {**defaults, **header[section]}


def _load(path: Path, upgrading: bool = False) -> Predictor:
    header_file = path / HEADER
    if not header_file.is_file():
        raise CheckpointError(
            f"no predictor checkpoint at {str(path)!r}: {header_file.name} is missing "
            f"(the shipped predictors, by name: {', '.join(SHIPPED_PREDICTORS)})"
        )
    where = f"predictor checkpoint at {str(path)!r} is corrupt or incomplete"
    try:
        header = json.loads(header_file.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{where}: {HEADER} is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: {HEADER} must hold an object, got {type(header).__name__}")
    key = None  # of the verified parameters, for a checkpoint whose manifest pins them
    if upgrading and header.get("format_version") in _LEGACY_VERSIONS and type(header["format_version"]) is int:
        _fill_added_fields(header)
        header["format_version"] = FORMAT_VERSION
    else:
        _check_format(header, path)
        key = predictor_cache.members_key(_verify_manifest(path, where))
        _fill_added_fields(header)
    model_config, embedding = _check_header(header, where)
    try:
        with np.load(path / VECTORS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # numpy and zipfile raise many types
        raise CheckpointError(f"{where}: {VECTORS}: {err}") from err
    _check_vectors(arrays, embedding, where)
    members = predictor_cache.cached_members(key, header["num_members"]) if key is not None else None
    verified = members is not None
    if members is None:
        members = _restore_members(path, header["num_members"], where)
        _check_members(members, model_config, arrays["vectors"].shape[1], where)
    predictor = Predictor(
        model_config,
        embedding,
        # From host arrays whichever way they were read: orbax's come committed to a device, and a
        # committed argument lowers to another program (a compilation-cache miss after the cache is filled).
        tuple(jax.tree.map(lambda x: jnp.asarray(np.asarray(x)), m) for m in members),
        dict(zip(arrays["names"].tolist(), arrays["vectors"], strict=True)),
        reduction=PCA.from_arrays(arrays) if "pca_mean" in arrays else None,
        cost_weight=float(header["cost_weight"]),
        conv_weight=float(header["conv_weight"]),
        metadata=header["metadata"],
    )
    if not verified:
        _probe(predictor, where)
        if key is not None:
            predictor_cache.store_members(key, members)
    return predictor


def _restore_members(path: Path, count: int, where: str) -> list[Any]:
    """The members orbax restores from ``params/`` (orbax imported here: a cached load never needs it)."""
    import orbax.checkpoint as ocp

    try:
        checkpointer = ocp.StandardCheckpointer()
        restored = checkpointer.restore(path / PARAMS, _restore_target(checkpointer, path / PARAMS))
        members = restored["members"]
    except Exception as err:  # orbax, tensorstore and msgpack raise many types
        raise CheckpointError(f"{where}: {PARAMS}/: {err}") from err
    if not isinstance(members, list) or len(members) != count:
        got = len(members) if isinstance(members, list) else members
        raise CheckpointError(f"{where}: {PARAMS}/ holds {got} members, its header says {count}")
    return members


def _restore_target(checkpointer: Any, params: Path) -> Any:
    """``None`` (as saved) for one process; under ``jax.distributed``, the saved tree on this process's own
    first device: orbax refuses, untargeted, a checkpoint saved under another process topology."""
    if jax.process_count() == 1:
        return None
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    saved = checkpointer.metadata(params).item_metadata
    return jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), saved)


def predictor_path(path: str | Path | None) -> Path:
    """Where the predictor ``path`` names lies: a folder, else a shipped predictor's name (a folder of
    that name in the working directory comes first), ``None`` for the default."""
    if path is None:
        return DEFAULT_CHECKPOINT
    if str(path) in SHIPPED_PREDICTORS and not Path(path).exists():
        return shipped_path(str(path))
    return Path(path).absolute()


def load_predictor(path: str | Path | None = None, members: int | None = None) -> Predictor:
    """The predictor saved at ``path`` or shipped under that name (:data:`SHIPPED_PREDICTORS`); by
    default the shipped NB101-trained ensemble.

    Before anything is used the files are checked against the checksum manifest, the header
    against its schema, the parameters against the header's model, and probe cells must score.
    Any fault raises :class:`CheckpointError` naming the file and what is wrong.

    ``members``: score with the ensemble's first ``members`` only (default: all). The forward's
    cost is proportional: the shipped predictor's first member alone scores 1.1-2.9x as fast end
    to end and ranks a little below the ensemble (NB301 rho 0.578 against 0.594; its model card).
    ``"tgnas-nb101-distilled"`` has the same cost and ranks as the ensemble does on NB201.
    """
    if members is not None and (type(members) is not int or members < 1):
        raise ValueError(f"members must be a positive integer, got {members!r}")
    predictor = _load(predictor_path(path))
    if members is None:
        return predictor
    if members > len(predictor.members):
        raise ValueError(f"members={members}, but the checkpoint's ensemble has {len(predictor.members)}")
    return dataclasses.replace(predictor, members=predictor.members[:members])


def upgrade_checkpoint(path: str | Path, out: str | Path | None = None) -> Predictor:
    """Re-save a checkpoint of an older format (1: no manifest; 2: no ``embedding.attributes``; 3: no
    ``conv_weight``) in the current one, at ``out`` or in place.

    Everything but the checksums is checked as on load; the weights are copied, not retrained.
    """
    predictor = _load(Path(path).absolute(), upgrading=True)
    predictor.save(out if out is not None else path)
    return predictor
