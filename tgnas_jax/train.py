"""Train the predictor on NAS-Bench-101: ``python -m tgnas_jax.train``; :data:`DESCRIPTION` says how.

Config as code (:class:`TrainConfig`, whose defaults reproduce the shipped predictor), every
field overridable from the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from filelock import FileLock, Timeout
from scipy.stats import kendalltau, spearmanr
from tqdm.auto import tqdm

from tgnas_jax import strictjson
from tgnas_jax._cli import LOGGER, HelpFormatter, add_verbosity, configure_logging, shows_progress
from tgnas_jax.batching import DenseCells
from tgnas_jax.data import DataError, NB101Table, load_nb101, load_nb201
from tgnas_jax.embeddings.descriptions import KNOWN_OPERATORS
from tgnas_jax.embeddings.table import DIM
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor, fit_reduction, operator_vectors
from tgnas_jax.spaces.nb201 import NB201Space
from tgnas_jax.training import (
    Cells,
    Loss,
    Teacher,
    TrainState,
    insert_identity_nodes,
    make_predict,
    make_train_step,
    predict_all,
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; saved beside its checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    #: Text embedding plus structured attributes read from each operator's name: chosen on NB301
    #: and the NB101 operator-transfer hold-out (``benchmarks/results/transfer_selection_attributes.md``).
    embedding: EmbeddingConfig = field(default_factory=lambda: EmbeddingConfig(attributes=True))
    #: MSE plus a pairwise ranking loss weighted towards the best cells (``training.pairwise_loss``):
    #: chosen on NB301 and the NB101 operator-transfer hold-out over plain MSE
    #: (``benchmarks/results/transfer_selection_top.md``).
    loss: Loss = "mse+top"
    #: How strongly ``mse+top`` weights the pairs of the best cells: ``exp(top_weight * max label)``.
    top_weight: float = 1.0
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    batch_size: int = 256
    epochs: int = 4
    #: Fraction of the non-validation NB101 cells trained on (paper Fig. 2: 0.9 ... 0.01).
    train_fraction: float = 1.0
    val_size: int = 5000
    #: Runs below this accuracy diverged (0.63% of NB101); they are dropped, not learnt.
    min_accuracy: float = 0.5
    #: An NB101 operator kept out of training; cells using it form the transfer validation.
    transfer_op: str | None = None
    #: Weights of the size prior's log-FLOPs and convolution-count terms (``prior.CostBlend``);
    #: chosen, with ``feature_noise`` and ``loss``, on NB301 and the NB101 operator-transfer
    #: hold-out (``benchmarks/results/transfer_selection_noise.md``, ``transfer_selection_top.md``,
    #: ``prior_selection.md``).
    cost_weight: float = 0.5
    conv_weight: float = 0.5
    #: Noise added to operator vectors during training, as a fraction of their RMS distance from
    #: the mean operator, per block of columns (embedding, attributes: ``feature_noise_scales``);
    #: 0 trains on exact vectors.
    #: Without it, operators unseen in training meet arbitrary first-layer weights: NB301 rho
    #: varied by +-0.09 between seeds.
    feature_noise: float = 0.5
    #: Add all NB201 cells to training (paper section 4.3: for a DARTS predictor only). Labels:
    #: the mean of the per-dataset standardised CIFAR-10/100 and ImageNet16-120 accuracies.
    #: Such a predictor has seen NB201 labels, so ``evaluate`` refuses it.
    mix_nb201: bool = False
    #: How mixed-in NB201 cells become graphs (``NB201Space.encoding``): that of the spaces the
    #: predictor will score, so its training and scoring graphs agree.
    nb201_encoding: Literal["pruned", "residual"] = "pruned"
    #: At most this many identity (``skip_connect``) nodes spliced into random edges of each training
    #: cell at each step, labels unchanged (``training.insert_identity_nodes``): NB101 writes a
    #: residual as an edge, NB201 and DARTS as a ``skip_connect`` node, which NB101 never shows.
    identity_nodes: int = 0
    #: Seeds of the ensemble members; the shipped predictor averages them.
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    split_seed: int = 0
    #: A saved predictor (folder) whose ensemble each member learns to copy (``distill``): it must
    #: have been trained on this run's split, so no held-out cell reaches the member through it.
    teacher: str | None = None
    #: Targets are ``(1 - distill) * label + distill * teacher score`` (``training.make_train_step``).
    distill: float = 1.0
    #: With a teacher (and ``distill`` 1): the chance that each operation node of a training cell is
    #: given, at each step, an operator drawn from the description table (:data:`SUBSTITUTES`) for the
    #: teacher to score, so the student copies the ensemble where no label exists.
    distill_ops: float = 0.0


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    transfer: np.ndarray


def split_nb101(table: NB101Table, cfg: TrainConfig) -> Split:
    """Deterministic train / validation / operator-transfer row indices."""
    usable = np.flatnonzero(table.test_accuracy >= cfg.min_accuracy)
    transfer = np.zeros(0, np.int64)
    if cfg.transfer_op is not None:
        if cfg.transfer_op not in table.op_names:
            raise ValueError(f"transfer_op {cfg.transfer_op!r} is not an NB101 operator {table.op_names}")
        uses = (table.ops[usable] == table.op_names.index(cfg.transfer_op)).any(axis=1)
        transfer, usable = usable[uses], usable[~uses]
    rng = np.random.default_rng(cfg.split_seed)
    usable = rng.permutation(usable)
    val, rest = np.sort(usable[: cfg.val_size]), usable[cfg.val_size :]
    if not 0 < cfg.train_fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {cfg.train_fraction}")
    train = rest[: max(cfg.batch_size, int(round(cfg.train_fraction * len(rest))))]
    if not len(train):
        excluded = f" and not using transfer_op={cfg.transfer_op!r}" if cfg.transfer_op is not None else ""
        raise ValueError(
            f"no NB101 cells left to train on: val_size={cfg.val_size} takes all {len(usable)} cells with "
            f"test accuracy >= min_accuracy={cfg.min_accuracy}{excluded}; lower val_size or min_accuracy"
        )
    return Split(train=train, val=val, transfer=np.sort(transfer[:20000]))


def rank_metrics(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {"kendall_tau": float(kendalltau(scores, truth)[0]), "spearman_rho": float(spearmanr(scores, truth)[0])}


def cost_blend_taus(
    scores: np.ndarray, log_flops: np.ndarray, truth: np.ndarray, weights: Sequence[float] = (0, 0.25, 0.5, 1, 2)
) -> dict[str, float]:
    """Kendall tau of ``z(score) + w * z(log FLOPs)`` per weight: the evidence for ``cost_weight``."""

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / x.std()

    return {str(w): float(kendalltau(z(scores) + w * z(log_flops), truth)[0]) for w in weights}


Dense = tuple[np.ndarray, np.ndarray, np.ndarray]


def _dense(table: NB101Table, rows: np.ndarray, slots: int = 7) -> Dense:
    """NB101 rows as dense cells padded to ``slots`` vertices; ops index ``table.op_names``."""
    ops = np.full((len(rows), slots), -1, np.int32)
    ops[:, :7] = table.ops[rows]
    adjacency = np.zeros((len(rows), slots, slots), np.uint8)
    adjacency[:, :7, :7] = table.adjacency[rows]
    return adjacency, ops, (ops >= 0).astype(np.float32)


def nb201_training_cells(
    data_dir: str | None, vocab: list[str], encoding: str = "pruned", spare_slots: int = 0
) -> tuple[Dense, np.ndarray]:
    """Every trainable NB201 cell (graphs in ``encoding``, with ``spare_slots`` empty node slots
    each; ``vocab`` grows with new operators) and its label: the mean of the standardised
    accuracies on the three datasets."""
    table = load_nb201(data_dir)
    space = NB201Space(encoding=encoding)
    graphs = [space.to_graphs(space.parse(s))[0] for s in table.arch_strings]
    keep = np.array([not g.is_broken for g in graphs])
    slots = max(g.num_nodes for g in graphs) + spare_slots
    adjacency = np.zeros((int(keep.sum()), slots, slots), np.uint8)
    ops = np.full((int(keep.sum()), slots), -1, np.int32)
    for i, g in enumerate(g for g, k in zip(graphs, keep, strict=True) if k):
        vocab.extend(op for op in g.ops if op not in vocab)
        adjacency[i, : g.num_nodes, : g.num_nodes] = g.adjacency
        ops[i, : g.num_nodes] = [vocab.index(op) for op in g.ops]
    accuracies = np.stack([table.cifar10, table.cifar100, table.imagenet16])[:, keep]
    labels = ((accuracies - accuracies.mean(axis=1, keepdims=True)) / accuracies.std(axis=1, keepdims=True)).mean(0)
    return (adjacency, ops, (ops >= 0).astype(np.float32)), labels.astype(np.float32)


#: Operators a distilled student meets with its teacher's scores only (``distill_ops``): every operator
#: of the description table that can be a node of a scored graph.
SUBSTITUTES: tuple[str, ...] = tuple(
    op for op in KNOWN_OPERATORS if op not in ("input", "output", "none", "zero", "zeroize")
)


def substitute_ops(
    ops: np.ndarray, eligible: np.ndarray, choices: np.ndarray, chance: float, rng: np.random.Generator
) -> np.ndarray:
    """``ops`` with each node whose op is ``eligible`` (a mask over op indices) replaced, with probability
    ``chance``, by a uniform draw from ``choices`` (op indices)."""
    ops = ops.copy()
    hit = (ops >= 0) & eligible[np.maximum(ops, 0)] & (rng.random(ops.shape) < chance)
    ops[hit] = rng.choice(choices, int(hit.sum()))
    return ops


#: The fields that decide which NB101 cells a run trains on and holds out.
SPLIT_FIELDS = ("transfer_op", "split_seed", "val_size", "min_accuracy", "train_fraction", "mix_nb201")


def load_teacher(cfg: TrainConfig, vocab: Sequence[str], op_table: np.ndarray) -> Teacher:
    """The ensemble saved at ``cfg.teacher``, checked to have been trained on this run's split (else a
    held-out cell would reach the student through its scores) and to read operators as this run does."""
    from tgnas_jax.predictor_files import load_predictor

    predictor = load_predictor(cfg.teacher)
    recorded = predictor.metadata.get("train_config")
    if not isinstance(recorded, dict):
        raise ValueError(f"teacher {cfg.teacher!r} records no train_config, so its training split is unknown")
    recorded = _with_defaults(recorded, _trained_fields(TrainConfig()))
    mine = _trained_fields(cfg)
    differ = [name for name in SPLIT_FIELDS if recorded.get(name) != mine[name]]
    if differ:
        shown = ", ".join(f"{name}={recorded.get(name)!r} (this run: {mine[name]!r})" for name in differ)
        raise ValueError(f"teacher {cfg.teacher!r} was trained on another split: {shown}")
    if predictor.embedding != cfg.embedding:
        raise ValueError(
            f"teacher {cfg.teacher!r} embeds operators as {predictor.embedding}, this run as {cfg.embedding}"
        )
    missing = [op for op in vocab if op not in predictor.op_vectors]
    if missing:
        raise ValueError(f"teacher {cfg.teacher!r} has no vectors for the training operators {missing}")
    theirs = np.stack([predictor.op_vectors[op] for op in vocab])
    if not np.allclose(theirs, op_table, atol=1e-5):
        raise ValueError(f"teacher {cfg.teacher!r} holds other vectors for the training operators than this run")
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *predictor.members)
    return Teacher(GCN(predictor.model_config), stacked)


def learning_rate_schedule(peak: float, total: int) -> optax.Schedule:
    """Linear warmup over a tenth of the ``total`` steps (at most 500), then cosine decay to 0.

    optax's cosine needs a step after the warmup, so a one-step run trains at ``peak`` instead.
    """
    warmup = min(500, max(total // 10, 1))
    if total <= warmup:
        return optax.constant_schedule(peak)
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, total)


def _write_text(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file, so a kill never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def feature_noise_scales(vectors: np.ndarray, fraction: float, blocks: Sequence[int]) -> np.ndarray:
    """Per-column noise deviations: within each block of columns, ``fraction`` of the operators' RMS
    distance from their mean operator in that block, spread evenly over its columns.

    The text embedding and the structured attributes are blocks of their own
    (``EmbeddingConfig.blocks``), so each is blurred on its own scale: a flag no training cell sets
    (pooling, when maxpool is held out) then gets noise on the attributes' scale, not the
    embedding's far smaller one, and so trained weights.
    """
    scales, start = [], 0
    for width in blocks:
        block = vectors[:, start : start + width]
        spread = np.sqrt(np.mean(np.sum((block - block.mean(axis=0)) ** 2, axis=1)))
        scales.append(np.full(width, fraction * spread / np.sqrt(width), np.float32))
        start += width
    if start != vectors.shape[1]:
        raise ValueError(f"feature blocks {list(blocks)} cover {start} of {vectors.shape[1]} columns")
    return np.concatenate(scales)


def train_member(
    cells: Dense,
    labels: np.ndarray,
    holdouts: dict[str, tuple[Dense, np.ndarray]],
    cfg: TrainConfig,
    seed: int,
    op_table: jax.Array,
    run_dir: Path | None,
    identity_op: int = -1,
    teacher: Teacher | None = None,
    substitutes: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train one ensemble member on dense ``cells``; validates on ``holdouts["val"]`` each epoch
    and reports every hold-out at the end. Resumes from ``run_dir`` when it holds a checkpoint.
    ``identity_op`` indexes ``op_table``'s identity operator, for ``cfg.identity_nodes``;
    ``teacher`` is the ensemble copied when ``cfg.teacher`` is set; ``substitutes``, for
    ``cfg.distill_ops``, are a mask of the op indices that may be replaced and the indices drawn from
    (rows of ``op_table`` past the training vocabulary)."""
    model = GCN(cfg.model)
    steps_per_epoch = len(labels) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    if not steps_per_epoch:
        raise ValueError(
            f"{len(labels)} training cells make no batch of batch_size={cfg.batch_size}; "
            "lower batch_size or val_size, or raise train_fraction"
        )
    schedule = learning_rate_schedule(cfg.learning_rate, total)
    optimizer = optax.adamw(schedule, weight_decay=cfg.weight_decay)

    key = jax.random.PRNGKey(seed)
    init_key, key = jax.random.split(key)
    params = model.init(init_key, DenseCells(*(jnp.asarray(x[:2]) for x in cells)), op_table)["params"]
    state = TrainState(step=jnp.array(0), params=params, opt_state=optimizer.init(params))
    manager = None
    start_epoch = 0
    history: list[dict[str, float]] = []
    history_file = None
    if run_dir is not None:
        member_dir = (run_dir / f"member_{seed}").absolute()
        # Synchronous saves (each is waited for anyway); a save a kill interrupted stays a temporary
        # directory, which latest_step ignores and the next manager removes.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=1, enable_async_checkpointing=False, cleanup_tmp_directories=True
        )
        manager = ocp.CheckpointManager(member_dir, options=options)
        history_file = member_dir / "history.json"
        last = manager.latest_step()
        if last is not None:
            if not (member_dir / str(last) / "progress").is_dir():
                raise ValueError(
                    f"checkpoint {str(member_dir / str(last))!r} predates checkpointed RNG keys and history, "
                    "so resuming it would not reproduce the run; delete it or pass another --run-dir"
                )
            restored = manager.restore(
                last, args=ocp.args.Composite(state=ocp.args.StandardRestore(state), progress=ocp.args.JsonRestore())
            )
            state, history = restored.state, restored.progress["history"]
            key = jnp.asarray(restored.progress["key"], dtype=jnp.uint32)
            start_epoch = last + 1
            _write_text(history_file, strictjson.dumps(history) + "\n")
            LOGGER.info("seed %d: resuming after epoch %d from %s", seed, last, member_dir)
    vocab_size = op_table.shape[0] - (0 if substitutes is None else len(substitutes[1]))
    blocks = cfg.embedding.blocks(vocab_size)
    # The noise's scale is the training operators' spread, whatever else the table holds.
    noise = feature_noise_scales(np.asarray(op_table[:vocab_size]), cfg.feature_noise, blocks)
    step = make_train_step(model, optimizer, cfg.loss, noise, cfg.top_weight, cfg.distill if teacher else 0.0)
    predict = make_predict(model)
    val_cells, val_truth = holdouts["val"]
    epochs = tqdm(
        range(start_epoch, cfg.epochs),
        desc=f"seed {seed}",
        unit="epoch",
        initial=start_epoch,
        total=cfg.epochs,
        disable=not shows_progress(),
    )
    for epoch in epochs:
        order = np.random.default_rng([seed, epoch]).permutation(len(labels))
        splicing = np.random.default_rng([seed, epoch, 1])
        losses = []
        for b in range(steps_per_epoch):
            rows = np.sort(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            key, dropout_key = jax.random.split(key)
            dense = tuple(x[rows] for x in cells)
            if cfg.identity_nodes:
                dense = insert_identity_nodes(*dense, identity_op, cfg.identity_nodes, splicing)
            if substitutes is not None and cfg.distill_ops:
                dense = (dense[0], substitute_ops(dense[1], *substitutes, cfg.distill_ops, splicing), dense[2])
            batch = Cells(*dense, labels[rows])
            state, loss = step(state, batch, op_table, dropout_key, teacher)
            losses.append(loss)
        loss_value = float(jnp.mean(jnp.stack(losses)))
        if not np.isfinite(loss_value):
            raise FloatingPointError(f"training diverged at epoch {epoch} (seed {seed}): loss {loss_value}")
        scores = predict_all(predict, state.params, *val_cells, op_table)
        val = rank_metrics(scores, val_truth)
        history.append({"epoch": epoch, "loss": loss_value, **{f"val_{k}": v for k, v in val.items()}})
        epochs.set_postfix(loss=f"{loss_value:.3f}", val_tau=f"{val['kendall_tau']:.3f}")
        if manager is not None and history_file is not None:
            # One step holds the state, the RNG key that continues it and the history up to it: a
            # kill leaves the step whole or absent, so a resumed run is the uninterrupted one.
            progress = {"history": history, "key": np.asarray(jax.random.key_data(key)).tolist()}
            manager.save(
                epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state), progress=ocp.args.JsonSave(progress))
            )
            manager.wait_until_finished()
            _write_text(history_file, strictjson.dumps(history) + "\n")  # a readable copy; the checkpoint resumes
    if manager is not None:
        manager.wait_until_finished()
    metrics: dict[str, Any] = {"seed": seed, "history": history}
    for name, (held_cells, truth) in holdouts.items():
        if name != "val":
            metrics[name] = rank_metrics(predict_all(predict, state.params, *held_cells, op_table), truth)
    return state.params, metrics


class RunDirInUse(RuntimeError):
    """Another process holds the run directory: two writers would corrupt each other's checkpoints."""


def _trained_fields(cfg: TrainConfig) -> dict[str, Any]:
    """The config as JSON values, less what does not change a member's training: seeds each have a
    sub-directory of their own, and the size prior is applied after training."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("seeds", "cost_weight", "conv_weight")}
    return json.loads(json.dumps(fields))


def _with_defaults(recorded: Any, defaults: Any) -> Any:
    """``recorded`` (a stamp's fields) with every field it lacks taken from ``defaults``, recursively."""
    if not (isinstance(recorded, dict) and isinstance(defaults, dict)):
        return recorded
    return {**defaults, **{k: _with_defaults(v, defaults.get(k)) for k, v in recorded.items()}}


def claim_run_dir(run_dir: Path, cfg: TrainConfig) -> FileLock:
    """Lock ``run_dir`` for this process (:class:`RunDirInUse` at once if another holds it), stamp it
    with the config it trains, and refuse another config's checkpoints: resuming from them would
    silently train (or skip training) the wrong model. Returns the held lock, for the caller to release."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # An OS lock (flock): a killed holder releases it with its last breath, so no stale lock blocks a resume.
    lock = FileLock(run_dir / ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunDirInUse(
            f"run directory {str(run_dir)!r} is in use by another training process; "
            "wait for it to finish or pass another --run-dir"
        ) from None
    try:
        stamp = run_dir / "train_config.json"
        fields = _trained_fields(cfg)
        if stamp.is_file():
            try:
                recorded = json.loads(stamp.read_text())
            except (ValueError, UnicodeDecodeError):
                raise ValueError(f"run directory {str(run_dir)!r} has an unreadable {stamp.name}") from None
            # Fields added since the stamp was written take their defaults, which train as before.
            if _with_defaults(recorded, _trained_fields(TrainConfig())) != fields:
                raise ValueError(
                    f"run directory {str(run_dir)!r} holds checkpoints of another training config; "
                    "pass another --run-dir (or delete that one) to start afresh"
                )
        _write_text(stamp, json.dumps(fields, sort_keys=True, indent=1) + "\n")
    except BaseException:
        lock.release()
        raise
    return lock


def train(cfg: TrainConfig, data_dir: str | None = None, run_dir: Path | None = None) -> tuple[Predictor, dict]:
    """Train every ensemble member; return the predictor and its NB101 metrics. ``run_dir`` (checkpoints
    to resume from) is locked while training: a second process on it gets :class:`RunDirInUse` at once."""
    validate_config(cfg)
    if run_dir is None:
        return _train(cfg, data_dir, None)
    lock = claim_run_dir(run_dir, cfg)
    try:
        return _train(cfg, data_dir, run_dir)
    finally:
        lock.release()


def _train(cfg: TrainConfig, data_dir: str | None, run_dir: Path | None) -> tuple[Predictor, dict]:
    table = load_nb101(data_dir)
    split = split_nb101(table, cfg)
    acc = table.test_accuracy
    vocab = list(table.op_names)
    labels = (acc[split.train] - acc[split.train].mean()) / acc[split.train].std()
    spare = cfg.identity_nodes  # room in every cell for the nodes insert_identity_nodes splices in
    if cfg.mix_nb201:
        nb201_cells, nb201_labels = nb201_training_cells(data_dir, vocab, cfg.nb201_encoding, spare)
        slots = nb201_cells[1].shape[1]
        pairs = zip(_dense(table, split.train, slots), nb201_cells, strict=True)
        cells: Dense = tuple(np.concatenate(pair) for pair in pairs)  # type: ignore[assignment]
        labels = np.concatenate([labels, nb201_labels])
    else:
        slots = 7 + spare
        cells = _dense(table, split.train, slots)
    if cfg.identity_nodes and "skip_connect" not in vocab:
        vocab.append("skip_connect")
    holdouts = {
        name: (_dense(table, rows, slots), acc[rows])
        for name, rows in (("val", split.val), ("transfer", split.transfer))
        if len(rows)
    }
    reduction = fit_reduction(cfg.embedding)
    vectors = operator_vectors(vocab, cfg.embedding, reduction)
    op_table = jnp.asarray(vectors)
    members, member_metrics = [], []
    started = time.perf_counter()
    identity_op = vocab.index("skip_connect") if cfg.identity_nodes else -1
    teacher = load_teacher(cfg, vocab, vectors) if cfg.teacher is not None else None
    substitutes = None
    if cfg.distill_ops:
        # The drawn operators' vectors follow the training vocabulary's in the table.
        extra = [op for op in SUBSTITUTES if op not in vocab]
        op_table = jnp.asarray(np.concatenate([vectors, operator_vectors(extra, cfg.embedding, reduction)]))
        eligible = np.array([op not in ("input", "output") for op in vocab] + [False] * len(extra))
        substitutes = (eligible, np.arange(len(vocab), len(vocab) + len(extra)))
    for seed in cfg.seeds:
        params, metrics = train_member(
            cells, labels.astype(np.float32), holdouts, cfg, seed, op_table, run_dir, identity_op, teacher, substitutes
        )
        members.append(params)
        member_metrics.append(metrics)
    predictor = Predictor(
        model_config=cfg.model,
        embedding=cfg.embedding,
        members=tuple(members),
        op_vectors=dict(zip(vocab, vectors, strict=True)),
        reduction=reduction,
        cost_weight=cfg.cost_weight,
        conv_weight=cfg.conv_weight,
    )
    report: dict[str, Any] = {
        "train_cells": int(len(labels)),
        "val_cells": int(len(split.val)),
        "transfer_cells": int(len(split.transfer)),
        "members": member_metrics,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    for name, rows in (("val", split.val), ("transfer", split.transfer)):
        if len(rows):
            held_cells, truth = holdouts[name]
            scores = predictor.score_dense(*held_cells, vocab)
            report[name] = rank_metrics(scores, truth)
            report[f"{name}_cost_blend_tau"] = cost_blend_taus(scores, np.log(table.flops[rows]), truth)
    return predictor, report


def _field_names(cfg: Any, prefix: str = "") -> list[str]:
    names = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        names += _field_names(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return names


class ConfigError(ValueError):
    """A config field given a value of the wrong type, or outside the values that make sense for it."""


@dataclass(frozen=True)
class Bounds:
    """The numbers a field may take: ``low <= x <= high``, either end open (strict) when asked."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, x: float) -> bool:
        above = self.low < x if self.open_low else self.low <= x
        return above and (x < self.high if self.open_high else x <= self.high)

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.open_low else '>='} {self.low!r}"
        return f"in {'(' if self.open_low else '['}{self.low!r}, {self.high!r}{')' if self.open_high else ']'}"


#: Bounds of the numeric fields, by dotted name (tuple fields: of every element). Types, and the
#: choices of ``Literal`` fields, come from the dataclasses' annotations.
BOUNDS: dict[str, Bounds] = {
    "model.hidden": Bounds(1),
    "model.layers": Bounds(1),
    "model.dropout": Bounds(0, 1, open_high=True),
    "embedding.dim": Bounds(1, DIM),
    "learning_rate": Bounds(0, open_low=True),
    "weight_decay": Bounds(0),
    "batch_size": Bounds(1),
    "epochs": Bounds(1),
    "train_fraction": Bounds(0, 1, open_low=True),
    # Rank correlations need two validation cells.
    "val_size": Bounds(2),
    "min_accuracy": Bounds(0, 1),
    "cost_weight": Bounds(0),
    "conv_weight": Bounds(0),
    "feature_noise": Bounds(0),
    "top_weight": Bounds(0),
    "identity_nodes": Bounds(0),
    "distill": Bounds(0, 1),
    "distill_ops": Bounds(0, 1),
    "seeds": Bounds(0, 2**32, open_high=True),
    "split_seed": Bounds(0, 2**32, open_high=True),
}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _describe(hint: Any) -> str:
    """What a field of type ``hint`` accepts, for messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is tuple:
        return f"comma-separated values, each {_describe(args[0])}" if args[1:] == (...,) else f"{len(args)} values"
    names = {bool: "true or false (or 1/0, yes/no)", int: "an integer", float: "a finite number", str: "a string"}
    return "none" if hint is type(None) else names.get(hint, getattr(hint, "__name__", str(hint)))


def _conforms(hint: Any, value: Any) -> bool:
    """Whether ``value`` is of type ``hint``; types this check does not know pass, for their users to check."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return any(type(value) is type(choice) and value == choice for choice in args)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(arg, value) for arg in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        kinds = args[:1] * len(value) if args[1:] == (...,) else args
        return len(kinds) == len(value) and all(_conforms(k, v) for k, v in zip(kinds, value, strict=True))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is type(None):
        return value is None
    return isinstance(value, hint) if isinstance(hint, type) else True


def _from_text(hint: Any, raw: str) -> Any:
    """``raw`` read as a value of type ``hint``; :class:`ConfigError` saying what is allowed otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and raw.lower() == "none":
            return None
        for arg in args:
            try:
                return _from_text(arg, raw)
            except ConfigError:
                continue
    elif origin is Literal:
        for choice in args:
            if str(choice) == raw:
                return choice
    elif origin is tuple:
        items = [item.strip() for item in raw.split(",")] if raw.strip() else []
        kinds = args[:1] * len(items) if args[1:] == (...,) else args
        if len(kinds) == len(items):
            return tuple(_from_text(kind, item) for kind, item in zip(kinds, items, strict=True))
    elif hint is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
    elif hint in (int, float):
        try:
            value = hint(raw)
        except ValueError:
            pass
        else:
            if _conforms(hint, value):
                return value
    elif hint is str:
        return raw
    elif hint is not type(None):
        raise ConfigError(f"is a {_describe(hint)}, which --set cannot give")
    raise ConfigError(f"must be {_describe(hint)}, got {raw!r}")


def validate_config(cfg: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` naming the first field of ``cfg`` (a config dataclass) whose value is
    not of its annotated type (``Literal`` choices, strict bools, finite floats) or is outside
    :data:`BOUNDS`: a bad config fails here, before any data is read."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        name, value, hint = prefix + f.name, getattr(cfg, f.name), hints.get(f.name, Any)
        if not _conforms(hint, value):
            raise ConfigError(f"{name} must be {_describe(hint)}, got {value!r}")
        if dataclasses.is_dataclass(value):
            validate_config(value, f"{name}.")
        bounds = BOUNDS.get(name)
        for number in value if isinstance(value, tuple) else (value,):
            if bounds is not None and number is not None and number not in bounds:
                raise ConfigError(f"{name} must be {bounds}, got {number!r}")
    if not prefix and getattr(cfg, "distill_ops", 0) and (cfg.teacher is None or cfg.distill != 1):
        raise ConfigError("distill_ops needs a teacher and distill=1: a drawn operator's cell has no label")
    if not prefix and getattr(cfg, "teacher", None) is not None and cfg.mix_nb201:
        raise ConfigError("teacher and mix_nb201 do not combine: the teacher scores NB101 cells only")
    seeds = getattr(cfg, "seeds", None) if not prefix else None
    if isinstance(seeds, tuple) and (not seeds or len(set(seeds)) < len(seeds)):
        raise ConfigError(f"seeds must be one or more distinct seeds (one member each), got {seeds}")


def override(cfg: Any, dotted: str, raw: str) -> Any:
    """``model.hidden=64`` style overrides, read as the type the field is annotated with.

    Unknown fields are a ``KeyError``; a value that is not of the field's type (a ``Literal``
    choice, ``true``/``false``/``1``/``0``/``yes``/``no`` for bools, a finite number, ...) is a
    :class:`ConfigError` naming the field and what it accepts. Ranges: :func:`validate_config`.
    """
    head, _, rest = dotted.partition(".")
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    if head not in fields:
        raise KeyError(f"unknown config field {dotted!r}; fields are {sorted(fields)}")
    current = getattr(cfg, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise KeyError(f"unknown config field {dotted!r}: {head} has no sub-fields")
        try:
            return dataclasses.replace(cfg, **{head: override(current, rest, raw)})
        except ConfigError as err:
            raise ConfigError(f"{head}.{err}") from None
    if dataclasses.is_dataclass(current):
        raise ConfigError(f"{head} is a group of fields; set one of {', '.join(_field_names(current, head + '.'))}")
    try:
        value = _from_text(typing.get_type_hints(type(cfg))[head], raw)
    except ConfigError as err:
        raise ConfigError(f"{head} {err}") from None
    return dataclasses.replace(cfg, **{head: value})


DESCRIPTION = """\
Train the predictor on NAS-Bench-101 and save it to --out. The config is TrainConfig in
tgnas_jax/train.py, whose defaults reproduce the shipped predictor; --set overrides any field.
Model selection uses NB101 only: a random hold-out split, and optionally an operator-transfer
hold-out (cells using one operator are kept out of training and validated on), which imitates
the zero-shot setting of scoring operators the predictor never saw. Progress goes to stderr,
the metrics (JSON) to stdout."""


def build_parser() -> argparse.ArgumentParser:
    fields = ", ".join(_field_names(TrainConfig()))
    parser = argparse.ArgumentParser(
        prog="python -m tgnas_jax.train",
        description=DESCRIPTION,
        epilog=f"""\
config fields for --set: {fields}

example:
  python -m tgnas_jax.train --out checkpoints/mine --set epochs=6 --set seeds=0,1""",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--data-dir", help="benchmark data directory (default: $TGNAS_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the trained predictor to (required)")
    parser.add_argument("--run-dir", type=Path, help="checkpoints for resuming (default: OUT/run)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a TrainConfig field, repeatable, e.g. --set model.hidden=64 (default: none, the shipped recipe)",
    )
    add_verbosity(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = TrainConfig()
    for item in args.set:
        name, sep, raw = item.partition("=")
        if not sep:
            parser.error(f"--set expects FIELD=VALUE, got {item!r}")
        try:
            cfg = override(cfg, name, raw)
        except (KeyError, ValueError) as err:
            parser.error(f"--set {item}: {err.args[0] if isinstance(err, KeyError) else err}")
    try:
        validate_config(cfg)
    except ConfigError as err:
        parser.error(f"--set: {err}")
    configure_logging(args)
    LOGGER.debug("config: %s", strictjson.dumps(dataclasses.asdict(cfg)))
    try:
        predictor, report = train(cfg, args.data_dir, args.run_dir or args.out / "run")
        predictor.save(args.out, metadata={"train_config": dataclasses.asdict(cfg), "nb101": report})
    except (DataError, ValueError, OSError, RunDirInUse) as err:
        parser.exit(1, f"error: {err}\n")
    print(strictjson.dumps(report, indent=2))
    LOGGER.info("wrote the predictor to %s", args.out)


if __name__ == "__main__":
    main()
