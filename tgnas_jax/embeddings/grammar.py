"""Operator name -> structured attributes: the grammar unseen operator names are read with.

A name is read as words and numbers, whatever separates them (``sep_conv_5x5``, ``SepConv5x5``
is ``sepconv`` ``5x5``). Each known word has a role: a *kind* says what the operator is
(convolution, pooling, attention, ...), a *modifier* qualifies the kind after it (separable, max,
multi-head, ...), a *stage* is a step of its own (batch norm, ReLU, ...). A number takes the
attribute its prefix names (``k3`` kernel, ``s2`` / ``stride_2`` stride, ``d2`` dilation,
``e6`` / ``t6`` / ``x6`` expansion, ``g4`` groups, ``c64`` / ``w64`` channels) or its form says
(``3x3``, ``1x7``: a kernel; ``1d``: the dimensions). A word the grammar does not know, and a
number nothing places (a bare ``3``, a second stride), is kept as written and reported, never
read as some other attribute.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Role = Literal["kind", "modifier", "stage"]

#: Known words -> the concept they name; a concept is also a known word of its own.
KINDS = {
    "conv": "conv",
    "convolution": "conv",
    "convolutional": "conv",
    "pool": "pool",
    "pooling": "pool",
    "mbconv": "mbconv",
    "mb": "mbconv",
    "ir": "mbconv",
    "se": "se",
    "skip": "skip",
    "identity": "skip",
    "residual": "skip",
    "none": "none",
    "zero": "none",
    "input": "input",
    "output": "output",
    "fc": "fc",
    "linear": "fc",
    "dense": "fc",
    "attention": "attention",
    "attn": "attention",
    "upsample": "upsample",
    "cell": "cell",
    "operator": "operator",
}
MODIFIERS = {
    "separable": "separable",
    "sep": "separable",
    "depthwise": "depthwise",
    "dw": "depthwise",
    "pointwise": "pointwise",
    "pw": "pointwise",
    "dilated": "dilated",
    "dil": "dilated",
    "atrous": "dilated",
    "grouped": "grouped",
    "group": "grouped",
    "strided": "strided",
    "stride": "strided",
    "transposed": "transposed",
    "fused": "fused",
    "max": "max",
    "average": "average",
    "avg": "average",
    "mean": "average",
    "global": "global",
    "self": "self",
    "multihead": "multihead",
    "lstm": "lstm",
    "gru": "gru",
    "rnn": "rnn",
}
STAGES = {
    "bn": "bn",
    "batchnorm": "bn",
    "ln": "ln",
    "layernorm": "ln",
    "gn": "gn",
    "groupnorm": "gn",
    "relu": "relu",
    "relu6": "relu6",
    "leakyrelu": "leakyrelu",
    "gelu": "gelu",
    "swish": "swish",
    "silu": "swish",
    "hswish": "hswish",
    "sigmoid": "sigmoid",
    "hsigmoid": "hsigmoid",
    "tanh": "tanh",
    "elu": "elu",
    "dropout": "dropout",
}
#: Words written as one that mean several (``sepconv`` = separable convolution).
COMPOUNDS = {
    "sepconv": ("separable", "conv"),
    "dwconv": ("depthwise", "conv"),
    "pwconv": ("pointwise", "conv"),
    "dilconv": ("dilated", "conv"),
    "deconv": ("transposed", "conv"),
    "maxpool": ("max", "pool"),
    "avgpool": ("average", "pool"),
    "fusedmbconv": ("fused", "mbconv"),
    "selfattention": ("self", "attention"),
    "mha": ("multihead", "attention"),
    "mhsa": ("multihead", "self", "attention"),
}
#: Words written apart that mean one (``batch_norm``, ``squeeze_and_excitation``).
PHRASES = {
    ("batch", "norm"): "batchnorm",
    ("layer", "norm"): "layernorm",
    ("group", "norm"): "groupnorm",
    ("hard", "swish"): "hswish",
    ("h", "swish"): "hswish",
    ("hard", "sigmoid"): "hsigmoid",
    ("h", "sigmoid"): "hsigmoid",
    ("leaky", "relu"): "leakyrelu",
    ("squeeze", "excitation"): "se",
    ("squeeze", "excite"): "se",
    ("squeeze", "and", "excitation"): "se",
    ("squeeze", "and", "excite"): "se",
    ("multi", "head"): "multihead",
    ("inverted", "residual"): "mbconv",
}
#: Words that add nothing to a sentence (NB201's ``nor`` = normal, ``skip_connect``'s ``connect``).
FILLER = frozenset(
    {"nor", "normal", "op", "layer", "block", "connect", "connection", "and", "unit", "std", "bottleneck"}
)
#: Prefixes that give the number after them an attribute; multi-letter ones may stand apart (``stride_2``).
KEYS = {
    "k": "kernel",
    "ks": "kernel",
    "kernel": "kernel",
    "s": "stride",
    "stride": "stride",
    "d": "dilation",
    "dil": "dilation",
    "dilation": "dilation",
    "e": "expansion",
    "t": "expansion",
    "x": "expansion",
    "expand": "expansion",
    "expansion": "expansion",
    "g": "groups",
    "group": "groups",
    "groups": "groups",
    "c": "channels",
    "ch": "channels",
    "channels": "channels",
    "w": "channels",
    "width": "channels",
}
#: Kinds whose glued number is their expansion ratio (``mb6``, ``mbconv6``, ``ir6``).
_EXPANDING = frozenset({"mb", "mbconv", "ir"})
_TOKEN = re.compile(
    r"(?P<kernel>\d+x\d+)|(?P<dims>[123]d(?![^\W\d_]))|(?P<word>[^\W\d_]+)|(?P<number>\d+(?:\.\d+)?)", re.IGNORECASE
)
_ATTRIBUTES = ("stride", "dilation", "expansion", "groups", "channels", "dims")
#: Longer numbers are no size (and past 4,300 digits Python will not read them): they stay as written.
_MAX_DIGITS = 9


@dataclass(frozen=True)
class Word:
    """A known concept (``text`` is its name, e.g. "conv") or, with no ``role``, a word kept as written."""

    text: str
    role: Role | None


_VOCABULARY = {
    surface: Word(concept, role)
    for role, words in (("kind", KINDS), ("modifier", MODIFIERS), ("stage", STAGES))
    for surface, concept in words.items()
}
#: The kind of a name whose words name none (``3x3``).
GENERIC = _VOCABULARY["operator"]


@dataclass
class Stage:
    """One step of an operator: a kind with its modifiers and attributes, or a lone stage (ReLU).

    ``extras`` holds what the name attaches to this step but the grammar cannot place, as written.
    """

    kind: Word
    modifiers: list[Word] = field(default_factory=list)
    kernels: list[tuple[int, int]] = field(default_factory=list)
    stride: int | None = None
    dilation: int | None = None
    expansion: int | None = None
    groups: int | None = None
    channels: int | None = None
    #: 1, 2 or 3 (``conv1d``); ``None``: not said.
    dims: int | None = None
    extras: list[str] = field(default_factory=list)

    def place(self, attribute: str, value: int | tuple[int, int]) -> bool:
        """Set an attribute; ``False`` when it already holds another value (the number is then not placed)."""
        if attribute == "kernel":
            if value not in self.kernels:
                self.kernels.append(value)  # 1x7 then 7x1: a factorised kernel
            return True
        held = getattr(self, attribute)
        if held is None:
            setattr(self, attribute, value)
        return held in (None, value)

    def take(self, early: Stage) -> None:
        """Adopt what the name gave before any kind (``k3_dw_conv``: the kernel comes first)."""
        self.kernels[:0] = early.kernels
        for attribute in _ATTRIBUTES:
            if getattr(self, attribute) is None:
                setattr(self, attribute, getattr(early, attribute))
        self.extras[:0] = early.extras

    def has_attributes(self) -> bool:
        return bool(self.kernels or self.extras or any(getattr(self, a) is not None for a in _ATTRIBUTES))


@dataclass(frozen=True)
class ParsedName:
    """What the grammar read in an operator name, and what it could not read."""

    name: str
    #: The name's words and numbers as written, one per thing read (``stride_2`` is one).
    tokens: tuple[str, ...]
    stages: tuple[Stage, ...]
    #: Words the grammar does not know, as written.
    unknown: tuple[str, ...]
    #: Numbers no attribute takes, as written.
    unplaced: tuple[str, ...]
    #: Whether some known word says what the operator is.
    named: bool

    @property
    def non_latin(self) -> tuple[str, ...]:
        """Unknown words with letters outside the Latin script (``卷积``, ``свёртка``)."""
        return tuple(word for word in self.unknown if any(_non_latin(ch) for ch in word))

    @property
    def problems(self) -> tuple[str, ...]:
        """Why a sentence built from this name is a guess; empty when every part was understood."""
        foreign = self.non_latin
        others = [word for word in self.unknown if word not in foreign]
        found = [
            f"words in a non-Latin script ({_listing(foreign)})" if foreign else "",
            f"words the grammar does not know ({_listing(others)})" if others else "",
            f"numbers it cannot place ({_listing(self.unplaced)})" if self.unplaced else "",
            "no word saying what the operator is" if not (self.named or self.unknown) else "",
        ]
        return tuple(problem for problem in found if problem)


def _non_latin(ch: str) -> bool:
    return ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN")


def _listing(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(repr(item) for item in items)


class _Piece(NamedTuple):
    """One thing read: a word (``key`` its lower-case form), an attribute (``key`` its name), a number."""

    tag: Literal["word", "attribute", "number"]
    text: str
    key: str = ""
    value: int | tuple[int, int] = 0


def _known(word: str) -> bool:
    return word in _VOCABULARY or word in COMPOUNDS or word in FILLER or any(word in p for p in PHRASES)


def _kernel(text: str) -> tuple[int, int] | None:
    rows, cols = re.split("x", text, flags=re.IGNORECASE)
    return (int(rows), int(cols)) if max(len(rows), len(cols)) <= _MAX_DIGITS else None


def _numbered(word: str, number: tuple[str, str], glued: bool, text: str) -> list[_Piece] | None:
    """The pieces a word and the number after it make (``relu6``, ``mb6``, ``s2``, ``stride_2``, ``resnet50``)."""
    tag, digits = number
    low = word.lower()
    key = KEYS.get(low)
    if tag == "kernel":
        kernel = _kernel(digits)
        return [_Piece("attribute", text, "kernel", kernel)] if key == "kernel" and kernel else None
    if not digits.isdigit() or len(digits) > _MAX_DIGITS:
        return None
    if glued and low + digits in _VOCABULARY:
        return [_Piece("word", text, low + digits)]
    if glued and low in _EXPANDING:
        return [_Piece("word", word, low), _Piece("attribute", digits, "expansion", int(digits))]
    if key is not None:
        return [_Piece("attribute", text, key, (int(digits),) * 2 if key == "kernel" else int(digits))]
    if glued and not _known(low):
        return [_Piece("word", text, text.lower())]  # a name of its own: resnet50
    return None


def _pieces(name: str) -> list[_Piece]:
    """The name's words, attributes and numbers, in order."""
    found = list(_TOKEN.finditer(name))
    pieces: list[_Piece] = []
    i = 0
    while i < len(found):
        match = found[i]
        after = found[i + 1] if i + 1 < len(found) else None
        if match.lastgroup == "kernel" and (kernel := _kernel(match[0])):
            pieces.append(_Piece("attribute", match[0], "kernel", kernel))
        elif match.lastgroup == "dims":
            pieces.append(_Piece("attribute", match[0], "dims", int(match[0][0])))
        elif match.lastgroup in ("number", "kernel"):  # a kernel too large to be one
            pieces.append(_Piece("number", match[0]))
        else:
            glued = after is not None and after.start() == match.end()
            separate_key = len(match[0]) > 1 and match[0].lower() in KEYS
            if after is not None and after.lastgroup in ("kernel", "number") and (glued or separate_key):
                text = name[match.start() : after.end()]
                numbered = _numbered(match[0], (after.lastgroup, after[0]), glued, text)
                if numbered is not None:
                    pieces += numbered
                    i += 2
                    continue
            pieces.append(_Piece("word", match[0], match[0].lower()))
        i += 1
    return _join_phrases(pieces)


def _join_phrases(pieces: list[_Piece]) -> list[_Piece]:
    """Phrases written apart made one word (``batch_norm`` -> batchnorm), longest first."""
    joined: list[_Piece] = []
    i = 0
    while i < len(pieces):
        for size in (3, 2):
            window = pieces[i : i + size]
            words = tuple(p.key for p in window if p.tag == "word")
            if len(words) == size and words in PHRASES:
                joined.append(_Piece("word", " ".join(p.text for p in window), PHRASES[words]))
                i += size
                break
        else:
            joined.append(pieces[i])
            i += 1
    return joined


def parse(name: str) -> ParsedName:
    """The stages of ``name``; modifiers and unknown words qualify the kind that follows.

    Attributes attach to the latest kind, or, seen before any, to the first. A trailing modifier or
    unknown word names a kind itself (``wavelet_7x7``: a "wavelet" with a 7x7 kernel).
    """
    pieces = _pieces(name)
    stages: list[Stage] = []
    pending: list[Word] = []
    early = Stage(GENERIC)
    current: Stage | None = None
    unknown: list[str] = []
    unplaced: list[str] = []
    named = False

    def open_kind(word: Word) -> None:
        nonlocal current
        stage = Stage(word, pending.copy())
        if current is None:
            stage.take(early)
        stages.append(stage)
        current = stage
        pending.clear()

    def flush() -> None:
        if pending:
            open_kind(pending.pop())

    for piece in pieces:
        target = current or early
        if piece.tag == "attribute" and target.place(piece.key, piece.value):
            continue
        if piece.tag != "word":  # a bare number, or an attribute the step already holds another value of
            unplaced.append(piece.text)
            target.extras.append(piece.text)
        elif piece.key not in FILLER:
            concepts = COMPOUNDS.get(piece.key, (piece.key,))
            words = [_VOCABULARY.get(concept, Word(piece.text, None)) for concept in concepts]
            for word in words:
                named |= word.role is not None
                if word.role is None:
                    unknown.append(word.text)
                    pending.append(word)
                elif word.role == "modifier":
                    if word not in pending:  # sep_sepconv is separable once
                        pending.append(word)
                elif word.role == "kind":
                    open_kind(word)
                else:
                    flush()
                    stages.append(Stage(word))
    flush()
    if current is None and early.has_attributes():
        if stages:
            stages[0].take(early)
        else:
            open_kind(GENERIC)
    tokens = tuple(p.text for p in pieces)
    return ParsedName(name, tokens, tuple(stages), tuple(unknown), tuple(unplaced), named)
