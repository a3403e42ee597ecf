"""Operator name -> a few numbers every space shares: what the op is, how far it sees, what it costs.

Beside the text embedding (``EmbeddingConfig.attributes``), these give the GCN axes on which
NB101's operators differ (convolution or pooling, 1x1 or 3x3) and along which an operator it never
saw has a place: a 5x5 separable convolution sees further than a 3x3 one and costs less than a
dense 3x3. They are read from the name by the grammar (:mod:`tgnas_jax.embeddings.grammar`); a
name it cannot read gets zeros, and so adds nothing beyond its embedding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tgnas_jax.embeddings.grammar import Stage, parse

#: One column per attribute, in this order.
ATTRIBUTES = ("conv", "pool", "identity", "zero", "cell_end", "log2_receptive_field", "log2_cost", "log2_stride")
#: The width the attributes add to each operator's vector.
NUM_ATTRIBUTES = len(ATTRIBUTES)
#: Channels at which a depthwise kernel's cost is set against a pointwise one (``k*k / C`` vs 1).
_REFERENCE_CHANNELS = 32
_KINDS = {"conv": "conv", "mbconv": "conv", "fc": "conv", "pool": "pool", "skip": "identity", "none": "zero"}


def _cost(stage: Stage, modifiers: set[str], spatial: int) -> float:
    """Multiply-accumulates per output value per input channel, at equal width in and out, of a
    stage whose kernels cover ``spatial`` taps in all (a factorised 1x7 then 7x1: 14)."""
    if stage.kind.text == "fc":
        return 1.0
    if stage.kind.text == "mbconv":
        expansion = stage.expansion or 1
        return expansion * spatial / _REFERENCE_CHANNELS + expansion * (2 if expansion > 1 else 1)
    if "depthwise" in modifiers:
        return spatial / _REFERENCE_CHANNELS
    if modifiers & {"separable", "dilated"}:  # depthwise (dilated) kernel, then a pointwise one, as DARTS's
        return spatial / _REFERENCE_CHANNELS + 1.0
    return spatial / (stage.groups or 1)


def attribute_vector(name: str) -> np.ndarray:
    """The :data:`ATTRIBUTES` of operator ``name`` (float32), from its first stage of a known kind."""
    out = np.zeros(NUM_ATTRIBUTES, np.float32)
    stages = parse(name).stages
    if any(st.kind.text in ("input", "output") for st in stages):
        out[ATTRIBUTES.index("cell_end")] = 1.0
        return out
    stage = next((st for st in stages if st.kind.text in _KINDS), None)
    if stage is None:
        return out
    kind = _KINDS[stage.kind.text]
    out[ATTRIBUTES.index(kind)] = 1.0
    if kind in ("conv", "pool"):
        modifiers = {m.text for m in stage.modifiers}
        default = (1, 1) if stage.kind.text == "fc" else (3, 3)
        # Sizes below 1 (``conv_0x0``) are no kernel a network has: read as the smallest.
        kernels = [(max(r, 1), max(c, 1)) for r, c in stage.kernels] or [default]
        extent = max(max(r, c) for r, c in kernels)
        dilation = max(stage.dilation or (2 if "dilated" in modifiers else 1), 1)
        out[ATTRIBUTES.index("log2_receptive_field")] = math.log2(dilation * (extent - 1) + 1)
        out[ATTRIBUTES.index("log2_stride")] = math.log2(max(stage.stride or 1, 1))
        if kind == "conv":
            taps = sum(r * c for r, c in kernels)
            out[ATTRIBUTES.index("log2_cost")] = math.log2(1.0 + _cost(stage, modifiers, taps))
    return out


def attribute_vectors(names: Sequence[str]) -> np.ndarray:
    """``(len(names), NUM_ATTRIBUTES)`` float32: one :func:`attribute_vector` row per name."""
    return np.stack([attribute_vector(n) for n in names]) if names else np.zeros((0, NUM_ATTRIBUTES), np.float32)
