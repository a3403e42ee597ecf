"""Operator name -> descriptive sentence, at the paper's three lengths (Table 1).

The NB201 operators use Table 1's sentences verbatim. Every other known operator follows the
same wording so that spaces share vocabulary and a predictor trained on one transfers:

* one operator under several spaces' names gets identical sentences: NB101's
  ``conv3x3-bn-relu`` reads exactly as NB201's ``nor_conv_3x3`` ("Convolution 3x3"),
  ``maxpool3x3`` as DARTS' ``max_pool_3x3`` ("Max pooling 3x3"), and ``identity`` / ``skip``
  as ``skip_connect``, ``zero`` as ``none``; plain ``conv3x3`` / ``conv_3x3`` are taken as the
  conv-BN-ReLU block NAS cells use;
* a cell's ``input`` / ``output`` nodes are "Input" / "Output" (short);
* short sentences name the kind and the kernel ("Separable convolution 5x5"), medium ones
  spell the kernel ("3 by 3 kernel") and list the stages, long ones are a full sentence.

A name the table does not know gets a sentence built from the parts :mod:`~tgnas_jax.embeddings.grammar`
reads in it (``sep_conv_5x5`` -> "Separable convolution 5x5"); where that is a guess a warning says
so. A caller can override any operator's sentence.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from tgnas_jax.embeddings.grammar import ParsedName, Stage, Word, parse

Length = Literal["short", "medium", "long"]
LENGTHS: tuple[Length, ...] = get_args(Length)
Source = Literal["table", "derived", "override"]


class DescriptionTruncatedWarning(UserWarning):
    """A description longer than the encoder reads was cut to its maximum length."""


@dataclass(frozen=True)
class Description:
    """The sentence that stands for ``op``, and where it came from."""

    op: str
    length: Length
    text: str
    source: Source

    @property
    def derived(self) -> bool:
        return self.source == "derived"


# --- the table -------------------------------------------------------------------------------

_CONV_LONG = (
    "A two-dimensional convolutional operator with a kernel size of {k} by {k} is applied, "
    "succeeded by a batch normalization layer, and followed by a rectified linear layer"
)


def _table() -> dict[str, tuple[str, str, str]]:
    """Every known operator's (short, medium, long) sentences; aliases share one triple."""
    table: dict[str, tuple[str, str, str]] = {}

    def add(names: Iterable[str], short: str, medium: str, long: str) -> None:
        for name in names:
            table[name] = (short, medium, long)

    add(["input"], "Input", "Input of the cell", "The input operator that feeds the incoming feature map into the cell")
    add(
        ["output"],
        "Output",
        "Output of the cell",
        "The output operator that gathers the feature maps of the cell and passes them to the next layer",
    )
    add(["none", "zero", "zeroize"], "None", "Doing nothing", "A none operator that does nothing")
    add(
        ["skip_connect", "skip", "identity", "skip_connection"],
        "Residual connection",
        "Identity mapping to the next layer",
        "A residual connection operator that adds identity mapping to the next layer",
    )
    for k in (1, 3, 5, 7):
        add(
            [f"nor_conv_{k}x{k}", f"conv{k}x{k}-bn-relu", f"conv{k}x{k}", f"conv_{k}x{k}"],
            f"Convolution {k}x{k}",
            f"Convolution {k} by {k} kernel, Batchnorm, ReLU",
            _CONV_LONG.format(k=k),
        )
    for k in (3, 7):
        add(
            [f"conv_{k}x1_1x{k}"],
            f"Convolution {k}x1 and 1x{k}",
            f"Convolution {k} by 1 kernel, convolution 1 by {k} kernel, Batchnorm, ReLU",
            f"Two two-dimensional convolutional operators with kernel sizes of {k} by 1 and 1 by {k} are applied, "
            "preceded by a rectified linear layer and succeeded by a batch normalization layer",
        )
    for k in (3, 5, 7):
        add(
            [f"dw_conv_{k}x{k}", f"depthwise_conv_{k}x{k}"],
            f"Depthwise convolution {k}x{k}",
            f"Depthwise convolution {k} by {k} kernel, Batchnorm, ReLU",
            f"A depthwise two-dimensional convolutional operator with a kernel size of {k} by {k} that filters each "
            "channel separately is applied, succeeded by a batch normalization layer, and followed by a rectified "
            "linear layer",
        )
        add(
            [f"sep_conv_{k}x{k}", f"separable_conv_{k}x{k}"],
            f"Separable convolution {k}x{k}",
            f"Separable convolution {k} by {k} kernel, Batchnorm, ReLU",
            f"A depthwise separable convolutional operator with a kernel size of {k} by {k}, a depthwise and a "
            "pointwise convolution, is applied twice, each time preceded by a rectified linear layer and succeeded "
            "by a batch normalization layer",
        )
        add(
            [f"max_pool_{k}x{k}", f"maxpool{k}x{k}"],
            f"Max pooling {k}x{k}",
            f"Max pooling {k} by {k} kernel",
            f"A max pooling operator with a kernel size {k} by {k}",
        )
        add(
            [f"avg_pool_{k}x{k}", f"avgpool{k}x{k}"],
            f"Average pooling {k}x{k}",
            f"Average pooling {k} by {k} kernel",
            f"A average pooling operator with a kernel size {k} by {k}",  # Table 1's wording, "A average" included
        )
    for k in (3, 5):
        add(
            [f"dil_conv_{k}x{k}"],
            f"Dilated separable convolution {k}x{k}",
            f"Dilated separable convolution {k} by {k} kernel, dilation 2, Batchnorm, ReLU",
            f"A dilated depthwise separable convolutional operator with a kernel size of {k} by {k} and a dilation "
            "rate of 2 is applied, preceded by a rectified linear layer and succeeded by a batch normalization layer",
        )
        add(
            [f"dilated_conv_{k}x{k}"],
            f"Dilated convolution {k}x{k}",
            f"Dilated convolution {k} by {k} kernel, dilation 2, Batchnorm, ReLU",
            f"A two-dimensional dilated convolutional operator with a kernel size of {k} by {k} and a dilation rate "
            "of 2 is applied, succeeded by a batch normalization layer, and followed by a rectified linear layer",
        )
    for e in (1, 3, 4, 6):
        for k in (3, 5, 7):
            add(
                [f"mb{e}_k{k}", f"mbconv_e{e}_k{k}"],
                f"Inverted residual block {k}x{k}, expansion {e}",
                f"Inverted residual block, expansion {e}, depthwise convolution {k} by {k} kernel, Batchnorm, ReLU6",
                f"A mobile inverted residual bottleneck block that expands the channels by a factor of {e} with a "
                f"pointwise convolution, applies a depthwise convolution with a kernel size of {k} by {k}, and "
                "projects back with a pointwise convolution, each succeeded by a batch normalization layer, with a "
                "residual connection around the block",
            )
    add(
        ["se", "se_block", "squeeze_excitation"],
        "Squeeze-and-excitation block",
        "Squeeze-and-excitation, global average pooling, two fully connected layers, sigmoid gating",
        "A squeeze-and-excitation block that averages each channel over space, passes the result through two fully "
        "connected layers, and rescales the channels with sigmoid gates",
    )
    add(
        ["global_avg_pool", "gap"],
        "Global average pooling",
        "Global average pooling over the whole feature map",
        "A global average pooling operator that averages each channel over all spatial positions",
    )
    add(
        ["fc", "linear", "dense"],
        "Fully connected layer",
        "Fully connected linear layer",
        "A fully connected operator that multiplies the input by a weight matrix and adds a bias",
    )
    add(
        ["bn", "batchnorm", "batch_norm"],
        "Batch normalization",
        "Batchnorm over each channel",
        "A batch normalization operator that normalizes each channel with the batch mean and variance, then scales "
        "and shifts it",
    )
    add(
        ["ln", "layernorm", "layer_norm"],
        "Layer normalization",
        "Layer norm over the features of each sample",
        "A layer normalization operator that normalizes the features of each sample, then scales and shifts them",
    )
    add(
        ["relu"],
        "ReLU",
        "Rectified linear unit activation",
        "A rectified linear activation operator that keeps positive values and sets negative values to zero",
    )
    add(
        ["relu6"],
        "ReLU6",
        "Rectified linear unit activation capped at 6",
        "A rectified linear activation operator that clips its output to the range from 0 to 6",
    )
    add(
        ["leaky_relu", "leakyrelu"],
        "Leaky ReLU",
        "Leaky rectified linear unit activation",
        "A leaky rectified linear activation operator that keeps positive values and scales negative values by a "
        "small slope",
    )
    add(
        ["gelu"],
        "GELU",
        "Gaussian error linear unit activation",
        "A Gaussian error linear activation operator that weights each input by the standard normal cumulative "
        "distribution",
    )
    add(
        ["swish", "silu"],
        "Swish",
        "Swish activation, x times sigmoid of x",
        "A swish, or sigmoid linear unit, activation operator that multiplies each input by its sigmoid",
    )
    add(
        ["hswish", "hard_swish", "h_swish"],
        "Hard swish",
        "Hard swish activation, a piecewise linear swish",
        "A hard swish activation operator, a piecewise linear approximation of swish built from ReLU6",
    )
    add(
        ["sigmoid"],
        "Sigmoid",
        "Sigmoid activation",
        "A sigmoid activation operator that squashes each input into the range from 0 to 1",
    )
    add(
        ["hsigmoid", "hard_sigmoid", "h_sigmoid"],
        "Hard sigmoid",
        "Hard sigmoid activation, a piecewise linear sigmoid",
        "A hard sigmoid activation operator, a piecewise linear approximation of sigmoid built from ReLU6",
    )
    add(
        ["tanh"],
        "Tanh",
        "Hyperbolic tangent activation",
        "A hyperbolic tangent activation operator that squashes each input into the range from -1 to 1",
    )
    add(
        ["elu"],
        "ELU",
        "Exponential linear unit activation",
        "An exponential linear activation operator that keeps positive values and bends negative values exponentially",
    )
    return table


_TABLE = _table()
#: Every operator name with hand-written sentences, in table order.
KNOWN_OPERATORS: tuple[str, ...] = tuple(_TABLE)


def _canonical(name: str) -> str:
    """Case and separator-insensitive form: ``Conv3x3-BN-ReLU`` finds ``conv3x3-bn-relu``."""
    return re.sub(r"[-_\s]+", "_", name.strip().lower())


_CANONICAL = {_canonical(name): triple for name, triple in _TABLE.items()}


# --- sentences for names the table does not know -------------------------------------------

#: Each concept of the grammar at the three lengths; a modifier or unknown word naming a kind adds "operator" (long).
_PHRASES: dict[str, tuple[str, str, str]] = {
    "conv": ("convolution", "convolution", "two-dimensional convolutional operator"),
    "pool": ("pooling", "pooling", "pooling operator"),
    "mbconv": ("inverted residual block", "inverted residual block", "mobile inverted residual bottleneck block"),
    "se": ("squeeze-and-excitation block",) * 3,
    "skip": ("residual connection", "residual connection", "residual connection operator"),
    "none": ("none", "none", "none operator"),
    "input": ("input", "input", "input operator"),
    "output": ("output", "output", "output operator"),
    "fc": ("fully connected layer",) * 3,
    "attention": ("attention", "attention", "attention operator"),
    "upsample": ("upsampling", "upsampling", "upsampling operator"),
    "cell": ("cell", "cell", "recurrent cell"),
    "operator": ("operator",) * 3,
    "separable": ("separable", "separable", "depthwise separable"),
    "depthwise": ("depthwise",) * 3,
    "pointwise": ("pointwise",) * 3,
    "dilated": ("dilated",) * 3,
    "grouped": ("grouped",) * 3,
    "strided": ("strided",) * 3,
    "transposed": ("transposed",) * 3,
    "fused": ("fused",) * 3,
    "max": ("max",) * 3,
    "average": ("average",) * 3,
    "global": ("global",) * 3,
    "self": ("self-",) * 3,  # joined to the next word: self-attention
    "multihead": ("multi-head",) * 3,
    "lstm": ("LSTM",) * 3,
    "gru": ("GRU",) * 3,
    "rnn": ("RNN",) * 3,
    "bn": ("batch norm", "Batchnorm", "batch normalization layer"),
    "ln": ("layer norm", "Layer norm", "layer normalization layer"),
    "gn": ("group norm", "Group norm", "group normalization layer"),
    "relu": ("ReLU", "ReLU", "rectified linear layer"),
    "relu6": ("ReLU6", "ReLU6", "rectified linear layer capped at 6"),
    "leakyrelu": ("leaky ReLU", "leaky ReLU", "leaky rectified linear layer"),
    "gelu": ("GELU", "GELU", "Gaussian error linear unit"),
    "swish": ("swish", "swish", "swish activation"),
    "hswish": ("hard swish", "hard swish", "hard swish activation"),
    "sigmoid": ("sigmoid", "sigmoid", "sigmoid activation"),
    "hsigmoid": ("hard sigmoid", "hard sigmoid", "hard sigmoid activation"),
    "tanh": ("tanh", "tanh", "hyperbolic tangent activation"),
    "elu": ("ELU", "ELU", "exponential linear unit"),
    "dropout": ("dropout", "dropout", "dropout layer"),
}
_DILATED = Word("dilated", "modifier")
_DIMENSIONS = {1: ("1D", "one-dimensional"), 3: ("3D", "three-dimensional")}
#: Upper-case initials read with a leading vowel sound ("an LSTM", "an RNN", "an FFN").
_VOWEL_INITIALS = "AEFHILMNORSX"


class DescriptionFallbackWarning(UserWarning):
    """An operator's sentence is a guess: its name has words or numbers the grammar cannot read."""


def _say(word: Word, length: Length, names_kind: bool) -> str:
    text = word.text if word.role is None else _PHRASES[word.text][LENGTHS.index(length)]
    if names_kind and length == "long" and word.role in (None, "modifier"):
        text += " operator"
    return text


def _head(stage: Stage, length: Length) -> str:
    modifiers = list(stage.modifiers)
    if stage.dilation and _DILATED not in modifiers and stage.kind != _DILATED:
        modifiers.insert(0, _DILATED)
    words = [_say(m, length, False) for m in modifiers] + [_say(stage.kind, length, True)]
    if stage.dims in _DIMENSIONS:  # 2-D goes unsaid but in the long convolution, which says it itself
        words[-1] = words[-1].removeprefix("two-dimensional ")
        words.insert(0, _DIMENSIONS[stage.dims][length == "long"])
    return "".join(w if w.endswith("-") else w + " " for w in words).rstrip()


def _article(head: str) -> str:
    first = head.split()[0]
    if first.isupper() and len(first) > 1:
        return "an" if first[0] in _VOWEL_INITIALS else "a"
    return "an" if head[0].lower() in "aeiou" and not head.startswith("one") else "a"


def _render(stage: Stage, length: Length) -> str:
    """One step of a derived sentence: "Separable convolution 5x5, stride 2" and its medium and long forms.

    What the grammar could not place (``stage.extras``) follows the head and kernel as written.
    """
    said = [
        (stage.dilation, "dilation {}", "a dilation rate of {}"),
        (stage.expansion, "expansion {}", "an expansion ratio of {}"),
        (stage.stride, "stride {}", "a stride of {}"),
        (stage.groups, "{} groups", "{} groups"),
        (stage.channels, "{} channels", "{} channels"),
    ]
    attributes = [(long if length == "long" else short).format(value) for value, short, long in said if value]
    head = _head(stage, length)
    if length == "long":
        sizes = " and ".join(f"{a} by {b}" for a, b in stage.kernels)
        if stage.kernels:
            attributes.insert(0, f"a kernel size of {sizes}" if len(stage.kernels) == 1 else f"kernel sizes of {sizes}")
        head = " ".join([head, *stage.extras])
        return f"{_article(head)} {head}" + (" with " + " and ".join(attributes) if attributes else "")
    if stage.kernels and length == "short":
        head += " " + " and ".join(f"{a}x{b}" for a, b in stage.kernels)
    elif stage.kernels:
        noun = "kernel" if len(stage.kernels) == 1 else "kernels"
        head += " " + " and ".join(f"{a} by {b}" for a, b in stage.kernels) + f" {noun}"
    return ", ".join([" ".join([head, *stage.extras]), *attributes])


def _sentence(parsed: ParsedName, length: Length) -> str:
    if not parsed.stages:
        return parsed.name.strip()
    first, *rest = (_render(stage, length) for stage in parsed.stages)
    if length == "long":
        return _capitalize(", ".join([first, *(f"followed by {step}" for step in rest)]))
    return _capitalize(", ".join([first, *rest]))


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_name(op: object) -> str:
    if not isinstance(op, str):
        raise TypeError(f"operator name must be a string, got {op!r} ({type(op).__name__})")
    if not op.strip():
        raise ValueError(f"operator name must be non-empty, got {op!r}")
    return op


def _check_length(length: object) -> None:
    if length not in LENGTHS:
        raise ValueError(f"description length must be one of {LENGTHS}, got {length!r}")


def derive_description(op: str, length: Length = "short") -> str:
    """A sentence built from the parts of a name no table knows (``sep_conv_5x5`` -> "Separable convolution 5x5").

    Where the name has words or numbers the grammar cannot read the sentence is a guess (they are kept
    in it as written) and a :class:`DescriptionFallbackWarning` says so and how to give a sentence.
    """
    parsed = parse(_check_name(op))
    _check_length(length)
    if parsed.problems:
        warnings.warn(
            f"operator {op!r} has no hand-written description and its name has {'; '.join(parsed.problems)}, "
            f"so its sentence {_sentence(parsed, 'short')!r} is a guess; give it one of your own: "
            f"describe={{{op!r}: '...'}} in Python (Predictor.score / rank, tgnas_jax.search), "
            f"--describe '{op}=...' on the command line",
            DescriptionFallbackWarning,
            stacklevel=2,
        )
    return _sentence(parsed, length)


def check_overrides(overrides: Mapping[str, str] | None) -> dict[str, str]:
    """User sentences keyed by the canonical operator name, after checking names and texts."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must map operator names to sentences, got {overrides!r}")
    checked = {}
    for op, text in overrides.items():
        _check_name(op)
        if not isinstance(text, str):
            raise TypeError(f"the description of {op!r} must be a string, got {text!r} ({type(text).__name__})")
        if not text.strip():
            raise ValueError(f"the description of {op!r} is empty")
        checked[_canonical(op)] = text.strip()
    return checked


def overridden(ops: Iterable[str], overrides: Mapping[str, str] | None) -> dict[str, str]:
    """The operators of ``ops`` that ``overrides`` gives a sentence (under any spelling), with that sentence."""
    user = check_overrides(overrides)
    return {op: user[key] for op in ops if (key := _canonical(_check_name(op))) in user}


def describe(op: str, length: Length = "short", overrides: Mapping[str, str] | None = None) -> Description:
    """The sentence for ``op``: the user's override, else the table's, else one derived from the name.

    An override is one sentence used whatever ``length`` is asked for.
    """
    key = _canonical(_check_name(op))
    _check_length(length)
    user = check_overrides(overrides)
    if key in user:
        return Description(op, length, user[key], "override")
    if key in _CANONICAL:
        return Description(op, length, _CANONICAL[key][LENGTHS.index(length)], "table")
    return Description(op, length, derive_description(op, length), "derived")
