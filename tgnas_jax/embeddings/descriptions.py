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

A name the table does not know gets a sentence built from its parts by :func:`derive_description`
(``sep_conv_5x5`` -> "Separable convolution 5x5"), and a caller can override any operator's sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

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


# --- the rule-based parser for unknown names -------------------------------------------------


@dataclass(frozen=True)
class _Word:
    """One name part's phrase at each length; ``kind`` words take kernel / dilation / expansion."""

    role: Literal["kind", "modifier", "stage"]
    short: str
    medium: str
    long: str

    def at(self, length: Length) -> str:
        return getattr(self, length)


def _kind(short: str, long: str) -> _Word:
    return _Word("kind", short, short, long)


def _mod(short: str, long: str | None = None) -> _Word:
    return _Word("modifier", short, short, long or short)


def _stage(short: str, medium: str, long: str) -> _Word:
    return _Word("stage", short, medium, long)


_CONV = _kind("convolution", "two-dimensional convolutional operator")
_POOL = _kind("pooling", "pooling operator")
_MBCONV = _kind("inverted residual block", "mobile inverted residual bottleneck block")
_SE = _kind("squeeze-and-excitation block", "squeeze-and-excitation block")
_SKIP = _kind("residual connection", "residual connection operator")
_NONE = _kind("none", "none operator")
_FC = _kind("fully connected layer", "fully connected layer")
_BN = _stage("batch norm", "Batchnorm", "batch normalization layer")
_LN = _stage("layer norm", "Layer norm", "layer normalization layer")
_RELU = _stage("ReLU", "ReLU", "rectified linear layer")
_WORDS: dict[str, _Word] = {
    "conv": _CONV,
    "convolution": _CONV,
    "deconv": _kind("transposed convolution", "two-dimensional transposed convolutional operator"),
    "pool": _POOL,
    "pooling": _POOL,
    "maxpool": _kind("max pooling", "max pooling operator"),
    "avgpool": _kind("average pooling", "average pooling operator"),
    "mbconv": _MBCONV,
    "mb": _MBCONV,
    "ir": _MBCONV,
    "se": _SE,
    "skip": _SKIP,
    "identity": _kind("identity", "identity operator"),
    "none": _NONE,
    "zero": _NONE,
    "input": _kind("input", "input operator"),
    "output": _kind("output", "output operator"),
    "fc": _FC,
    "linear": _FC,
    "dense": _FC,
    "attention": _kind("self-attention", "self-attention operator"),
    "attn": _kind("self-attention", "self-attention operator"),
    "upsample": _kind("upsampling", "upsampling operator"),
    "sep": _mod("separable", "depthwise separable"),
    "separable": _mod("separable", "depthwise separable"),
    "dw": _mod("depthwise"),
    "depthwise": _mod("depthwise"),
    "dil": _mod("dilated"),
    "dilated": _mod("dilated"),
    "group": _mod("grouped"),
    "grouped": _mod("grouped"),
    "max": _mod("max"),
    "avg": _mod("average"),
    "average": _mod("average"),
    "mean": _mod("average"),
    "global": _mod("global"),
    "transposed": _mod("transposed"),
    "bn": _BN,
    "batchnorm": _BN,
    "ln": _LN,
    "layernorm": _LN,
    "relu": _RELU,
    "relu6": _stage("ReLU6", "ReLU6", "rectified linear layer capped at 6"),
    "leakyrelu": _stage("leaky ReLU", "leaky ReLU", "leaky rectified linear layer"),
    "gelu": _stage("GELU", "GELU", "Gaussian error linear unit"),
    "swish": _stage("swish", "swish", "swish activation"),
    "silu": _stage("swish", "swish", "swish activation"),
    "hswish": _stage("hard swish", "hard swish", "hard swish activation"),
    "sigmoid": _stage("sigmoid", "sigmoid", "sigmoid activation"),
    "hsigmoid": _stage("hard sigmoid", "hard sigmoid", "hard sigmoid activation"),
    "tanh": _stage("tanh", "tanh", "hyperbolic tangent activation"),
    "elu": _stage("ELU", "ELU", "exponential linear unit"),
    "dropout": _stage("dropout", "dropout", "dropout layer"),
}
#: Consecutive parts read as one word (``batch_norm``, ``hard-swish``).
_PAIRS = {
    ("batch", "norm"): "batchnorm",
    ("layer", "norm"): "layernorm",
    ("hard", "swish"): "hswish",
    ("h", "swish"): "hswish",
    ("hard", "sigmoid"): "hsigmoid",
    ("h", "sigmoid"): "hsigmoid",
    ("leaky", "relu"): "leakyrelu",
    ("squeeze", "excitation"): "se",
    ("max", "pool"): "maxpool",
    ("avg", "pool"): "avgpool",
}
#: Parts that add nothing to a sentence (NB201's ``nor`` = normal, ``skip_connect``'s ``connect``).
_FILLER = {"nor", "normal", "op", "layer", "block", "connect", "connection", "and", "unit", "excite", "std"}
#: Letters that read a number glued to them: ``k5``, ``k3x3``, ``e6``, ``mb6``, ``d2``.
_PREFIXES = {"k", "kernel", "e", "expand", "expansion", "mb", "d", "dil", "dilation"}
_ATTRIBUTES = (
    ("kernel", re.compile(r"(?:k|kernel)?(\d+)(?:x(\d+))?")),
    ("expansion", re.compile(r"(?:e|expand|expansion)(\d+)")),
    ("dilation", re.compile(r"(?:d|dil|dilation)(\d+)")),
)


@dataclass
class _Part:
    """One stage of a derived sentence: a kind with its modifiers and attributes, or a lone stage."""

    word: _Word
    modifiers: list[_Word] = field(default_factory=list)
    kernel: tuple[int, int] | None = None
    dilation: int | None = None
    expansion: int | None = None

    def take(self, other: _Part) -> None:
        """Adopt the attributes ``other`` holds and this part lacks."""
        self.kernel = self.kernel or other.kernel
        self.dilation = self.dilation or other.dilation
        self.expansion = self.expansion or other.expansion

    def render(self, length: Length) -> str:
        modifiers = list(self.modifiers)
        if self.dilation and _WORDS["dilated"] not in modifiers:
            modifiers.insert(0, _WORDS["dilated"])
        head = " ".join([m.at(length) for m in modifiers] + [self.word.at(length)])
        if length == "long":
            clauses = [
                f"a kernel size of {self.kernel[0]} by {self.kernel[1]}" if self.kernel else "",
                f"a dilation rate of {self.dilation}" if self.dilation else "",
                f"an expansion ratio of {self.expansion}" if self.expansion else "",
            ]
            clauses = [c for c in clauses if c]
            article = "an" if head[0].lower() in "aeiou" else "a"
            return f"{article} {head}" + (" with " + " and ".join(clauses) if clauses else "")
        if self.kernel:
            a, b = self.kernel
            head += f" {a}x{b}" if length == "short" else f" {a} by {b} kernel"
        if self.dilation:
            head += f", dilation {self.dilation}"
        if self.expansion:
            head += f", expansion {self.expansion}"
        return head


def _tokens(name: str) -> list[str]:
    """Lower-case name parts: separators split, ``conv3x3`` -> conv, 3x3; ``k5``, ``relu6`` stay whole."""
    pieces: list[str] = []
    for chunk in re.split(r"[-_\s]+", name.lower()):
        found = re.findall(r"\d+x\d+|[a-z]+|\d+", chunk)
        i = 0
        while i < len(found):
            word, nxt = found[i], found[i + 1] if i + 1 < len(found) else ""
            glued = word + nxt
            if word.isalpha() and nxt[:1].isdigit() and (glued in _WORDS or word in _PREFIXES or word not in _WORDS):
                pieces.append(glued)  # unknown words keep their number too: resnet50
                i += 2
            else:
                pieces.append(word)
                i += 1
    merged: list[str] = []
    for piece in pieces:
        if merged and (merged[-1], piece) in _PAIRS:
            merged[-1] = _PAIRS[(merged[-1], piece)]
        else:
            merged.append(piece)
    return merged


def _attribute(token: str) -> tuple[str, int | tuple[int, int]] | None:
    for name, pattern in _ATTRIBUTES:
        if match := pattern.fullmatch(token):
            if name == "kernel":
                size = int(match[1])
                return name, (size, int(match[2] or size))
            return name, int(match[1])
    return None


def _parse(name: str) -> list[_Part]:
    """Name parts grouped into stages; modifiers and unknown words qualify the kind that follows.

    Kernel, dilation and expansion attach to the latest kind (or, seen before any, to the first).
    """
    parts: list[_Part] = []
    pending: list[_Word] = []
    early = _Part(_NONE)
    current: _Part | None = None

    def open_kind(word: _Word, modifiers: list[_Word]) -> _Part:
        nonlocal current
        part = _Part(word, modifiers)
        if current is None:
            part.take(early)
        parts.append(part)
        current = part
        pending.clear()
        return part

    def flush() -> None:
        if pending:
            last = pending[-1]  # a trailing modifier or unknown word names the kind itself
            open_kind(_kind(last.short, f"{last.long} operator"), pending[:-1])

    for token in _tokens(name):
        word = _WORDS.get(token)
        if token in _FILLER:
            continue
        if word is None and (match := re.fullmatch(r"mb(\d+)", token)):
            open_kind(_MBCONV, pending.copy()).expansion = int(match[1])
        elif word is None and (attribute := _attribute(token)):
            setattr(current or early, *attribute)
        elif word is None or word.role == "modifier":
            pending.append(word or _mod(token))
        elif word.role == "stage":
            flush()
            parts.append(_Part(word))
        else:
            open_kind(word, pending.copy())
    flush()
    if current is None and (early.kernel or early.dilation or early.expansion):
        (parts[0] if parts else open_kind(_kind("operator", "operator"), [])).take(early)
    return parts


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
    """A sentence built from the parts of a name no table knows (``sep_conv_5x5`` -> "Separable convolution 5x5")."""
    parts = _parse(_check_name(op))
    _check_length(length)
    if not parts:
        return op.strip()
    if length == "long":
        later = [f"followed by {part.render('long')}" for part in parts[1:]]
        return _capitalize(", ".join([parts[0].render("long"), *later]))
    return _capitalize(", ".join(p.render(length) for p in parts))


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
