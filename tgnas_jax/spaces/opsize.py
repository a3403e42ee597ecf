"""Parameters and multiply-accumulates of common operators, read from their names.

Declarative spaces count their networks with this: an op name such as ``ir_k5_e6``,
``sep_conv_3x3``, ``conv3x3-bn-relu``, ``max_pool_3x3`` or ``skip_connect`` names a *kind* and
its kernel / expansion; :func:`op_size` gives ``(params, MACs)`` of that op from ``c_in`` to
``c_out`` channels at a stride, on a ``size x size`` input. Conventions, as NB201's and DARTS's
own counters: convolution weights without bias plus 2 BatchNorm parameters per output channel;
MACs of convolutions only (pooling, activations and sums are free). An identity or pooling op
that changes the width or the resolution is followed by a 1x1 convolution (DARTS's
``FactorizedReduce`` counts the same). A name no rule recognises has no size (``None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KERNEL = re.compile(r"(?<![a-z0-9])k(\d+)(?![0-9x])|(?<![0-9])(\d+)x(\d+)(?![0-9])")
#: ``e6``, ``t6``, ``expand6`` and MobileNet's ``mbconv6``.
_EXPANSION = re.compile(r"(?:(?<![a-z0-9])(?:e|t|expand)|mbconv)(\d+)(?![0-9x])")
_WORDS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class OpKind:
    """What an op computes, as far as its size goes."""

    kind: str  # conv, separable, dilated, inverted_residual, pool, identity, none
    kernel: tuple[int, int] = (1, 1)
    expansion: int = 1


def op_kind(name: str) -> OpKind | None:
    """The kind of ``name``, or ``None`` when no rule recognises it."""
    text = name.lower()
    words = set(_WORDS.findall(text))
    kernel = _kernel(text)
    if words & {"none", "zero", "zeros"}:
        return OpKind("none")
    if words & {"skip", "identity", "id", "skipconnect"}:
        return OpKind("identity")
    if words & {"pool", "maxpool", "avgpool", "pooling"}:
        return OpKind("pool", kernel or (3, 3))
    if words & {"ir", "mbconv", "inverted", "mb"}:
        expansion = _EXPANSION.search(text)
        return OpKind("inverted_residual", kernel or (3, 3), int(expansion.group(1)) if expansion else 1)
    if words & {"sep", "separable", "sepconv"}:
        return OpKind("separable", kernel or (3, 3))
    if words & {"dil", "dilated", "dilconv"}:
        return OpKind("dilated", kernel or (3, 3))
    if "conv" in text and kernel is not None:
        return OpKind("conv", kernel)
    return None


def _kernel(text: str) -> tuple[int, int] | None:
    match = _KERNEL.search(text)
    if match is None:
        return None
    if match.group(1):
        return int(match.group(1)), int(match.group(1))
    return int(match.group(2)), int(match.group(3))


def op_size(name: str, c_in: int, c_out: int, stride: int, size: int) -> tuple[int, int] | None:
    """``(params, MACs)`` of op ``name`` from ``c_in`` to ``c_out`` channels on a ``size``-pixel square input."""
    kind = op_kind(name)
    if kind is None:
        return None
    out = -(-size // stride)
    kh, kw = kind.kernel
    if kind.kind == "none":
        return 0, 0
    if kind.kind in ("identity", "pool"):
        if c_in == c_out and stride == 1:
            return 0, 0
        return c_in * c_out + 2 * c_out, c_in * c_out * out * out
    if kind.kind == "conv":
        weights = kh * kw * c_in * c_out
        return weights + 2 * c_out, weights * out * out
    if kind.kind in ("separable", "dilated"):
        depthwise, pointwise = kh * kw * c_in, c_in * c_out
        return depthwise + pointwise + 2 * c_in + 2 * c_out, (depthwise + pointwise) * out * out
    hidden = c_in * kind.expansion
    expand = c_in * hidden if kind.expansion > 1 else 0
    depthwise, project = kh * kw * hidden, hidden * c_out
    norms = 2 * hidden * (2 if expand else 1) + 2 * c_out
    return expand + depthwise + project + norms, expand * size * size + (depthwise + project) * out * out
