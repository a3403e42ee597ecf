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

from dataclasses import dataclass

from tgnas_jax.embeddings.grammar import parse

#: Grammar kinds (:mod:`tgnas_jax.embeddings.grammar`) that have a size, as :class:`OpKind` kinds.
_SIZED = {"none": "none", "skip": "identity", "pool": "pool", "mbconv": "inverted_residual", "conv": "conv"}


@dataclass(frozen=True)
class OpKind:
    """What an op computes, as far as its size goes."""

    kind: str  # conv, separable, dilated, inverted_residual, pool, identity, none
    kernel: tuple[int, int] = (1, 1)
    expansion: int = 1


def op_kind(name: str) -> OpKind | None:
    """The kind of ``name`` (its first stage of a sized kind, as the name grammar reads it), or ``None``."""
    stage = next((st for st in parse(name).stages if st.kind.text in _SIZED), None)
    if stage is None:
        return None
    kind = _SIZED[stage.kind.text]
    kernel = stage.kernels[0] if stage.kernels else None
    if kind in ("none", "identity"):
        return OpKind(kind)
    if kind == "conv":
        modifiers = {m.text for m in stage.modifiers}
        shaped = "separable" if "separable" in modifiers else "dilated" if "dilated" in modifiers else None
        if shaped is not None:
            return OpKind(shaped, kernel or (3, 3))
        return OpKind("conv", kernel) if kernel is not None else None
    expansion = (stage.expansion or 1) if kind == "inverted_residual" else 1
    return OpKind(kind, kernel or (3, 3), expansion)


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
