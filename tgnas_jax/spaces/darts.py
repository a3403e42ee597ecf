"""The DARTS search space (Liu et al., 2019): a normal and a reduction cell, each a DAG of
two inputs, four intermediate nodes and one concatenated output.

Architectures are DARTS ``Genotype``s and read and write the ``Genotype(normal=[...], ...)``
text that DARTS, PC-DARTS and P-DARTS print and publish, so genotypes paste in unchanged.
Parameter and multiply-add counts replay DARTS's ``model.py`` evaluation networks.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
import warnings
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from tgnas_jax._text import QUOTE_LIMIT, clip, quote
from tgnas_jax.graph import ArchGraph, contract, edge_cell
from tgnas_jax.spaces.base import SearchSpace, SpaceError

#: DARTS's ``PRIMITIVES``, in its order.
OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
#: What DARTS's derivation can pick: every op but ``none``.
DERIVABLE_OPS = OPS[1:]
#: Cell node ids: 0 and 1 are the inputs c_{k-2}, c_{k-1}; 2..5 are intermediate.
NUM_INPUTS = 2
NUM_INTERMEDIATE = 4
EDGES_PER_NODE = 2
NUM_EDGES = NUM_INTERMEDIATE * EDGES_PER_NODE
INTERMEDIATE = tuple(range(NUM_INPUTS, NUM_INPUTS + NUM_INTERMEDIATE))

_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")
#: A genotype's text is a few hundred characters (DARTS's own repr: ~550); longer text is refused unread.
MAX_TEXT = 4096
#: Messages quote a bad genotype whole up to this length (a published one is ~550), else its start.
_QUOTE = 1000
#: Integers in a genotype are node ids; larger ones are refused before anything is built from them.
_MAX_INT = 2**31

Edge = tuple[str, int]


def node_of(edge: int) -> int:
    """The intermediate node that edge number ``edge`` (0..7) of a cell enters."""
    return NUM_INPUTS + edge // EDGES_PER_NODE


@dataclass(frozen=True)
class Genotype:
    """DARTS's ``Genotype``; only valid ones can be built.

    ``normal`` / ``reduce`` list eight ``(op, input)`` edges, two per intermediate node in node
    order; the two edges of a node read different nodes (DARTS derives its top-2 *distinct*
    inputs). The concat lists are sets of intermediate nodes, stored sorted.
    """

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        for field in _FIELDS:
            check = _concat if field.endswith("_concat") else _edges
            object.__setattr__(self, field, check(field, getattr(self, field)))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Per edge number, every valid ``(op, input)`` pair: a well-formed cell is checked by lookups alone.
_VALID_EDGES = tuple(frozenset((op, source) for op in OPS for source in range(node_of(k))) for k in range(NUM_EDGES))


def _well_formed(edges: object) -> bool:
    """Whether ``edges`` is a valid cell, by lookups (about 10x faster than :func:`_edges`'s checks)."""
    if type(edges) not in (list, tuple) or len(edges) != NUM_EDGES:
        return False
    try:
        if not all(
            type(edge) is tuple and len(edge) == 2 and type(edge[1]) is int and edge in valid
            for edge, valid in zip(edges, _VALID_EDGES, strict=True)
        ):
            return False
    except TypeError:  # an unhashable part: the full checks name it
        return False
    return all(edges[k][1] != edges[k + 1][1] for k in range(0, NUM_EDGES, EDGES_PER_NODE))


def _edges(field: str, edges: object) -> tuple[Edge, ...]:
    """Validate one cell's edge list; the message names the edge and its fault."""
    return tuple(edges) if _well_formed(edges) else _checked_edges(field, edges)


def _checked_edges(field: str, edges: object) -> tuple[Edge, ...]:
    """:func:`_edges` field by field: what a cell the lookups refuse gets, to name its fault."""
    if not isinstance(edges, list | tuple):
        raise SpaceError(f"{field} must be a list of (op, input) pairs, got {edges!r}")
    if len(edges) != NUM_EDGES:
        raise SpaceError(f"{field} has {len(edges)} edges; a cell has {NUM_EDGES}, two per node 2..5")
    checked: list[Edge] = []
    for k, edge in enumerate(edges):
        if not (isinstance(edge, list | tuple) and len(edge) == 2 and isinstance(edge[0], str) and _is_int(edge[1])):
            raise SpaceError(f"{field} edge {k} must be an (op, input) pair, got {edge!r}")
        op, source = edge
        node = node_of(k)
        if op not in OPS:
            raise SpaceError(f"{field} edge {k} has unknown op {op!r}; DARTS ops are {list(OPS)}")
        if not 0 <= source < node:
            raise SpaceError(f"{field} edge {k} enters node {node} from node {source}; it must come from 0..{node - 1}")
        checked.append((op, source))
    for node in INTERMEDIATE:
        first, second = (checked[k][1] for k in _edges_into(node))
        if first == second:
            raise SpaceError(f"{field} node {node} reads node {first} on both of its edges")
    return tuple(checked)


def _concat(field: str, concat: object) -> tuple[int, ...]:
    if isinstance(concat, range):
        concat = list(concat)
    if not (isinstance(concat, list | tuple) and concat and all(_is_int(i) for i in concat)):
        raise SpaceError(f"{field} must be a non-empty list of node ids, got {concat!r}")
    if not set(concat) <= set(INTERMEDIATE):
        raise SpaceError(f"{field} {list(concat)} names a node outside the intermediate nodes {list(INTERMEDIATE)}")
    if len(set(concat)) != len(concat):
        raise SpaceError(f"{field} {list(concat)} repeats a node")
    return tuple(sorted(concat))


def _edges_into(node: int) -> range:
    start = (node - NUM_INPUTS) * EDGES_PER_NODE
    return range(start, start + EDGES_PER_NODE)


# --- text ---------------------------------------------------------------------------------


def parse_genotype(text: str) -> Genotype:
    """Read ``Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)``.

    Safe on untrusted text: the call is read with :mod:`ast` and only literals and
    ``range(...)`` of integer literals are evaluated; text over :data:`MAX_TEXT` characters,
    nesting too deep for the parser and huge integers or ranges raise :class:`SpaceError`.
    """
    if not isinstance(text, str):
        raise SpaceError(f"a DARTS genotype must be a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise SpaceError(
            f"bad DARTS genotype {_quoted(text)}: over {MAX_TEXT:,} characters (a genotype is a few hundred)"
        )
    exact = _exact_genotype(text)
    if exact is not None:
        return exact
    try:
        return Genotype(**(_canonical_arguments(text) or _call_arguments(text)))
    except SpaceError as err:
        raise SpaceError(f"bad DARTS genotype {_quoted(text)}: {clip(str(err), 2 * QUOTE_LIMIT)}") from None


def _quoted(text: str) -> str:
    return quote(text, _QUOTE if len(text) <= _QUOTE else QUOTE_LIMIT)


#: Whitespace Python reads between tokens inside brackets, and integer literals as it writes them.
_WS, _INT = r"[ \t\r\n]*", r"(?:0|[1-9][0-9]{0,8})"
_EDGE_TEXT = rf"\({_WS}'[A-Za-z0-9_]+'{_WS},{_WS}{_INT}{_WS}\)"
_LIST_TEXT = rf"\[{_WS}((?:{_EDGE_TEXT}{_WS},{_WS})*{_EDGE_TEXT}){_WS},?{_WS}\]"
_INTS_TEXT = rf"\[{_WS}((?:{_INT}{_WS},{_WS})*{_INT}){_WS},?{_WS}\]"
#: The form :func:`format_genotype` writes (DARTS's repr), read without :mod:`ast` (about 3x faster);
#: every text it matches, :func:`_call_arguments` reads the same.
_CANONICAL = re.compile(
    rf"{_WS}Genotype\({_WS}normal{_WS}={_WS}{_LIST_TEXT}{_WS},{_WS}normal_concat{_WS}={_WS}{_INTS_TEXT}{_WS},"
    rf"{_WS}reduce{_WS}={_WS}{_LIST_TEXT}{_WS},{_WS}reduce_concat{_WS}={_WS}{_INTS_TEXT}{_WS}\){_WS}"
)
_EDGE_PARTS = re.compile(r"'([A-Za-z0-9_]+)'[ \t\r\n]*,[ \t\r\n]*([0-9]+)")


def _canonical_arguments(text: str) -> dict[str, object] | None:
    """The fields of a genotype written in the canonical form (lists of quoted ops and small
    integers, keywords in order), or ``None``: anything else goes to :func:`_call_arguments`."""
    match = _CANONICAL.fullmatch(text)
    if match is None:
        return None
    normal, normal_concat, reduce, reduce_concat = match.groups()
    edges = [[(op, int(node)) for op, node in _EDGE_PARTS.findall(cell)] for cell in (normal, reduce)]
    concats = [[int(node) for node in re.findall("[0-9]+", nodes)] for nodes in (normal_concat, reduce_concat)]
    return dict(zip(_FIELDS, (edges[0], concats[0], edges[1], concats[1]), strict=True))


def _call_arguments(text: str) -> dict[str, object]:
    source = text.strip()
    if source.startswith("("):
        source = "Genotype" + source
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": a fault here, not noise on stderr
            warnings.simplefilter("error", SyntaxWarning)
            warnings.simplefilter("error", DeprecationWarning)
            call = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError) as err:
        raise SpaceError(f"not a Python call expression ({err})") from None
    except (RecursionError, MemoryError):
        raise SpaceError("nested too deeply to be a genotype") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype"):
        raise SpaceError("expected Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...)")
    if len(call.args) > len(_FIELDS) or any(isinstance(arg, ast.Starred) for arg in call.args):
        raise SpaceError(f"Genotype takes at most {len(_FIELDS)} plain positional arguments")
    nodes = dict(zip(_FIELDS, call.args, strict=False))
    for keyword in call.keywords:
        if keyword.arg not in _FIELDS:
            raise SpaceError(f"unknown Genotype field {quote(keyword.arg)}; fields are {list(_FIELDS)}")
        if keyword.arg in nodes:
            raise SpaceError(f"Genotype field {keyword.arg!r} is given twice")
        nodes[keyword.arg] = keyword.value
    missing = [field for field in _FIELDS if field not in nodes]
    if missing:
        raise SpaceError(f"Genotype is missing {missing}")
    return {field: _literal(field, node) for field, node in nodes.items()}


def _literal(field: str, node: ast.expr) -> object:
    """A literal, or ``range(...)`` of integer literals (DARTS writes ``range(2, 6)``)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        bounds = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
        if node.keywords or not 1 <= len(bounds) <= 3 or not all(_is_int(bound) for bound in bounds) or 0 in bounds[2:]:
            raise SpaceError(f"{field} {_source(node)} must be range() of 1 to 3 integer literals, step not 0")
        nodes = range(*bounds)
        if not all(abs(bound) < _MAX_INT for bound in bounds) or len(nodes) > NUM_INTERMEDIATE:
            raise SpaceError(f"{field} {_source(node)} spans more than the {NUM_INTERMEDIATE} intermediate nodes")
        return nodes
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise SpaceError(f"{field} must be a literal, got {quote(_source(node))}") from None
    if _huge_int(value):
        raise SpaceError(f"{field} holds an integer of magnitude 2**31 or more; node ids are 0..5")
    return value


def _source(node: ast.expr) -> str:
    """``node``'s code for a message: ``ast.unparse`` can recurse too deep or print a huge integer."""
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError):
        return f"<{type(node).__name__} expression>"


def _huge_int(value: object) -> bool:
    """Whether a literal holds an int no node id can be (its messages could not even print it)."""
    if isinstance(value, list | tuple | set | frozenset):
        return any(_huge_int(item) for item in value)
    if isinstance(value, dict):
        return any(_huge_int(item) for item in (*value, *value.values()))
    return _is_int(value) and abs(value) >= _MAX_INT


def _node_texts(node: int) -> dict[tuple[str, str], tuple[Edge, Edge]]:
    """Every valid pair of edges into ``node`` as :func:`format_genotype` writes it, split at ``"), ("``."""
    pairs = itertools.product(itertools.product(OPS, range(node)), repeat=EDGES_PER_NODE)
    return {(f"'{a}', {i}", f"'{b}', {j}"): ((a, i), (b, j)) for (a, i), (b, j) in pairs if i != j}


#: The text of each valid node (2,560 in all) and of each valid concat list, as :func:`format_genotype`
#: writes them: a genotype in exactly that form is read by splitting and lookups, and valid by construction.
_NODE_TEXTS = tuple(_node_texts(node) for node in INTERMEDIATE)
_CONCAT_TEXTS = {
    ", ".join(map(str, nodes)): nodes
    for size in range(1, NUM_INTERMEDIATE + 1)
    for nodes in itertools.combinations(INTERMEDIATE, size)
}


def _exact_cell(text: str) -> tuple[Edge, ...] | None:
    if not (text.startswith("(") and text.endswith(")")):
        return None
    pieces = text[1:-1].split("), (")
    if len(pieces) != NUM_EDGES:
        return None
    edges: tuple[Edge, ...] = ()
    for k, table in enumerate(_NODE_TEXTS):
        pair = table.get((pieces[2 * k], pieces[2 * k + 1]))
        if pair is None:
            return None
        edges += pair
    return edges


def _exact_genotype(text: str) -> Genotype | None:
    """The genotype of a text exactly as :func:`format_genotype` writes it (about 10x faster than
    :func:`_canonical_arguments` and the checks), else ``None``."""
    head, tail = "Genotype(normal=[", "])"
    if not (text.startswith(head) and text.endswith(tail)):
        return None
    normal, found, rest = text[len(head) : -len(tail)].partition("], normal_concat=[")
    normal_concat, found_too, rest = rest.partition("], reduce=[")
    reduce, found_last, reduce_concat = rest.partition("], reduce_concat=[")
    if not (found and found_too and found_last):
        return None
    fields = (
        _exact_cell(normal),
        _CONCAT_TEXTS.get(normal_concat),
        _exact_cell(reduce),
        _CONCAT_TEXTS.get(reduce_concat),
    )
    if any(f is None for f in fields):
        return None
    genotype = object.__new__(Genotype)
    for name, value in zip(_FIELDS, fields, strict=True):
        object.__setattr__(genotype, name, value)
    return genotype


def format_genotype(genotype: Genotype) -> str:
    """DARTS's own ``repr`` of a ``Genotype`` built from lists: the canonical text."""
    parts = (f"{field}={list(getattr(genotype, field))!r}" for field in _FIELDS)
    return f"Genotype({', '.join(parts)})"


# Published genotypes, pasted verbatim from DARTS's and PC-DARTS's ``genotypes.py``.
_PUBLISHED_TEXT = {
    "DARTS_V1": "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
    "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])",
    "DARTS_V2": "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])",
    "PC_DARTS": "Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), "
    "('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], normal_concat=range(2, 6), "
    "reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], reduce_concat=range(2, 6))",
    "PC_DARTS_image": "Genotype(normal=[('skip_connect', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0), "
    "('skip_connect', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('dil_conv_5x5', 4)], "
    "normal_concat=range(2, 6), reduce=[('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_5x5', 2), "
    "('max_pool_3x3', 1), ('sep_conv_3x3', 2), ('sep_conv_3x3', 1), ('sep_conv_5x5', 0), ('sep_conv_3x3', 3)], "
    "reduce_concat=range(2, 6))",
    "PDARTS": "Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0),('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3',0), ('dil_conv_5x5', 4)], normal_concat=range(2, 6), "
    "reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), "
    "('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))",
}
#: DARTS (1st / 2nd order), PC-DARTS (CIFAR-10 search; ``PC_DARTS_image`` is its ImageNet
#: search) and P-DARTS, under their names in those repositories.
PUBLISHED: dict[str, Genotype] = {name: parse_genotype(text) for name, text in _PUBLISHED_TEXT.items()}


# --- graphs -------------------------------------------------------------------------------


def cell_graph(edges: tuple[Edge, ...], concat: tuple[int, ...]) -> ArchGraph:
    """One cell as an operator-node graph, the NB201 way: each non-``none`` edge is a node.

    An op node on edge ``j -> i`` reads input node ``j`` (j < 2) or every op node entering
    ``j``; op nodes entering a ``concat`` node feed ``output``. ``none`` edges pass no data, so
    they get no node, and whatever they strand is pruned.
    """
    wiring = [(source, node_of(k)) for k, (_, source) in enumerate(edges)]
    return edge_cell(wiring, [op for op, _ in edges], NUM_INPUTS, concat, {"none"})


# --- network size -------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One of DARTS's evaluation networks (``NetworkCIFAR`` / ``NetworkImageNet``)."""

    channels: int
    layers: int
    classes: int
    image: int
    imagenet_stem: bool


SettingName = Literal["cifar10", "imagenet"]
SETTINGS: dict[SettingName, Setting] = {
    "cifar10": Setting(channels=36, layers=20, classes=10, image=32, imagenet_stem=False),
    "imagenet": Setting(channels=48, layers=14, classes=1000, image=224, imagenet_stem=True),
}
#: How reports name each setting's network.
NETWORKS: dict[SettingName, str] = {
    "cifar10": "CIFAR-10 network (C=36, 20 cells, 32x32)",
    "imagenet": "ImageNet mobile network (C=48, 14 cells, 224x224)",
}


class _Tally:
    """Running totals of a network walk: parameters and conv / linear multiply-adds."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0

    def conv(
        self, c_in: int, c_out: int, size: int, kernel: int, stride: int = 1, dilation: int = 1, groups: int = 1
    ) -> int:
        """A bias-free ``Conv2d`` padded as DARTS pads it; returns the output side length."""
        padding = dilation * (kernel - 1) // 2
        out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
        weights = kernel * kernel * (c_in // groups) * c_out
        self.params += weights
        self.macs += weights * out * out
        return out

    def bn(self, channels: int) -> None:
        """Affine ``BatchNorm2d``: weight and bias (running stats are buffers, not parameters)."""
        self.params += 2 * channels

    def linear(self, c_in: int, c_out: int) -> None:
        self.params += c_in * c_out + c_out
        self.macs += c_in * c_out


def _relu_conv_bn(tally: _Tally, c_in: int, c_out: int, size: int) -> int:
    size = tally.conv(c_in, c_out, size, 1)
    tally.bn(c_out)
    return size


def _factorized_reduce(tally: _Tally, c_in: int, c_out: int, size: int) -> int:
    """Two stride-2 1x1 convs, the second on the input shifted by one pixel, concatenated."""
    out = tally.conv(c_in, c_out // 2, size, 1, stride=2)
    tally.conv(c_in, c_out // 2, size - 1, 1, stride=2)
    tally.bn(c_out)
    return out


def _sep_conv(tally: _Tally, channels: int, size: int, kernel: int, stride: int) -> int:
    for block_stride in (stride, 1):
        size = tally.conv(channels, channels, size, kernel, block_stride, groups=channels)
        tally.conv(channels, channels, size, 1)
        tally.bn(channels)
    return size


def _dil_conv(tally: _Tally, channels: int, size: int, kernel: int, stride: int) -> int:
    size = tally.conv(channels, channels, size, kernel, stride, dilation=2, groups=channels)
    tally.conv(channels, channels, size, 1)
    tally.bn(channels)
    return size


_CONVS = {
    "sep_conv_3x3": (_sep_conv, 3),
    "sep_conv_5x5": (_sep_conv, 5),
    "dil_conv_3x3": (_dil_conv, 3),
    "dil_conv_5x5": (_dil_conv, 5),
}


def _op(tally: _Tally, op: str, channels: int, size: int, stride: int) -> None:
    """DARTS's ``OPS[op](C, stride, affine=True)``; pools, ``none`` and identity are free."""
    if op == "skip_connect" and stride == 2:
        _factorized_reduce(tally, channels, channels, size)
    elif op in _CONVS:
        conv, kernel = _CONVS[op]
        conv(tally, channels, size, kernel, stride)


def _cell(
    tally: _Tally,
    edges: tuple[Edge, ...],
    c_in: tuple[int, int],
    sizes: tuple[int, int],
    channels: int,
    reduction: bool,
    reduction_prev: bool,
) -> int:
    """DARTS's eval ``Cell``: preprocess both inputs to ``channels``, then every edge's op."""
    if reduction_prev:
        _factorized_reduce(tally, c_in[0], channels, sizes[0])
    else:
        _relu_conv_bn(tally, c_in[0], channels, sizes[0])
    size = _relu_conv_bn(tally, c_in[1], channels, sizes[1])
    out = (size + 1) // 2 if reduction else size
    for op, source in edges:
        from_input = source < NUM_INPUTS
        _op(tally, op, channels, size if from_input else out, 2 if reduction and from_input else 1)
    return out


def _stem(tally: _Tally, setting: Setting) -> tuple[tuple[int, int], tuple[int, int]]:
    """The stem(s); returns the channels and sizes of the first cell's two inputs."""
    c = setting.channels
    if not setting.imagenet_stem:
        size = tally.conv(3, 3 * c, setting.image, 3)
        tally.bn(3 * c)
        return (3 * c, 3 * c), (size, size)
    half = tally.conv(3, c // 2, setting.image, 3, stride=2)
    tally.bn(c // 2)
    s0 = tally.conv(c // 2, c, half, 3, stride=2)
    tally.bn(c)
    s1 = tally.conv(c, c, s0, 3, stride=2)
    tally.bn(c)
    return (c, c), (s0, s1)


@functools.lru_cache(maxsize=1 << 16)
def network_size(genotype: Genotype, setting: SettingName = "cifar10") -> tuple[int, int]:
    """``(parameters, multiply-adds)`` of DARTS's evaluation network for ``genotype``.

    Parameters are counted as DARTS's ``utils.count_parameters_in_MB`` does (times 1e6, no
    auxiliary head). Multiply-adds are those of every conv and the classifier for one image;
    BN, ReLU, pooling and additions are not counted. Memoised: the size prior asks again for
    every architecture it scores.
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown DARTS setting {setting!r}; settings are {list(SETTINGS)}")
    spec = SETTINGS[setting]
    tally = _Tally()
    c_in, sizes = _stem(tally, spec)
    channels, reduction_prev = spec.channels, spec.imagenet_stem
    for layer in range(spec.layers):
        reduction = layer in (spec.layers // 3, 2 * spec.layers // 3)
        channels *= 2 if reduction else 1
        edges, concat = (
            (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
        )
        size = _cell(tally, edges, c_in, sizes, channels, reduction, reduction_prev)
        c_in, sizes = (c_in[1], len(concat) * channels), (sizes[1], size)
        reduction_prev = reduction
    tally.linear(c_in[1], spec.classes)
    return tally.params, tally.macs


# --- the space ----------------------------------------------------------------------------


Encoding = Literal["pruned", "residual"]
ENCODINGS: tuple[Encoding, ...] = ("pruned", "residual")


class DartsSpace(SearchSpace[Genotype]):
    """DARTS cells over its eight ``PRIMITIVES``; sampling and mutation use the seven ops
    DARTS can derive (``none`` never survives its derivation) and the standard concat.

    ``encoding="pruned"`` makes every non-``none`` edge an op node (:func:`cell_graph`);
    ``"residual"`` then turns every ``skip_connect`` into plain edges, the form NB101 (the
    training space) gives a residual (:func:`tgnas_jax.graph.contract`).
    ``setting`` is the network the user trains, which :meth:`num_params` and :meth:`num_flops`
    measure, so a search's budgets and reported sizes and the size prior: ``"cifar10"``
    (``NetworkCIFAR``, the paper's DARTS CIFAR-10 network) or ``"imagenet"`` (``NetworkImageNet``,
    the mobile setting of paper Table 5).
    """

    name = "darts"
    ops = OPS

    def __init__(self, encoding: Encoding = "pruned", setting: SettingName = "cifar10") -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if setting not in SETTINGS:
            raise ValueError(f"unknown DARTS setting {setting!r}; settings are {list(SETTINGS)}")
        self.encoding = encoding
        self.setting = setting

    @property
    def network(self) -> str:
        return NETWORKS[self.setting]

    def parse(self, text: str) -> Genotype:
        return parse_genotype(text)

    def format(self, arch: Genotype) -> str:
        return format_genotype(arch)

    def check(self, arch: object) -> Genotype:
        """A :class:`Genotype`, or DARTS's own ``Genotype`` namedtuple (checked the same way)."""
        if isinstance(arch, Genotype):
            return arch
        if isinstance(arch, tuple) and getattr(arch, "_fields", None) == _FIELDS:
            return Genotype(*arch)
        hint = " (DartsSpace.parse reads a genotype string)" if isinstance(arch, str) else ""
        raise SpaceError(f"a DARTS arch is a Genotype{hint}, got {type(arch).__name__} {quote(arch)}")

    @property
    def cell_counts(self) -> tuple[int, int]:
        """Normal and reduction cells of the ``setting``'s network: 18 and 2 in DARTS's CIFAR-10 one.

        Chosen over counting each type once on NB301 (``benchmarks/results/cell_counts.md``)."""
        layers = SETTINGS[self.setting].layers
        return layers - 2, 2

    def to_graphs(self, arch: Genotype) -> tuple[ArchGraph, ArchGraph]:
        """``(normal, reduce)`` cell graphs."""
        arch = self.check(arch)
        cells = cell_graph(arch.normal, arch.normal_concat), cell_graph(arch.reduce, arch.reduce_concat)
        if self.encoding == "residual":
            return contract(cells[0], {"skip_connect"}), contract(cells[1], {"skip_connect"})
        return cells

    def sample(self, rng: np.random.Generator) -> Genotype:
        """Per node, two distinct inputs (ordered) and two ops, all uniform."""
        normal, reduce = (_sample_cell(rng) for _ in range(2))
        return Genotype(normal, INTERMEDIATE, reduce, INTERMEDIATE)

    def mutate(self, arch: Genotype, rng: np.random.Generator) -> Genotype:
        """One single-edge edit (an op, or an input), uniform over all valid edits of ``arch``."""
        edits = _edits(arch)
        field, k, edge = edits[int(rng.integers(len(edits)))]
        edges = list(getattr(arch, field))
        edges[k] = edge
        return replace(arch, **{field: tuple(edges)})

    def num_params(self, arch: Genotype) -> int:
        """Parameters of the ``setting``'s network, without auxiliary head; see :func:`network_size`."""
        return network_size(self.check(arch), self.setting)[0]

    def num_flops(self, arch: Genotype) -> int:
        """Conv + classifier multiply-adds of the ``setting``'s network for one image; see :func:`network_size`."""
        return network_size(self.check(arch), self.setting)[1]


def _sample_cell(rng: np.random.Generator) -> tuple[Edge, ...]:
    edges: list[Edge] = []
    for node in INTERMEDIATE:
        sources = rng.choice(node, size=EDGES_PER_NODE, replace=False)
        ops = rng.integers(len(DERIVABLE_OPS), size=EDGES_PER_NODE)
        edges.extend((DERIVABLE_OPS[op], int(source)) for op, source in zip(ops, sources, strict=True))
    return tuple(edges)


def _edits(arch: Genotype) -> list[tuple[str, int, Edge]]:
    """Every ``(cell field, edge number, new edge)`` that changes one edge and stays valid."""
    edits = []
    for field in ("normal", "reduce"):
        edges = getattr(arch, field)
        for k, (op, source) in enumerate(edges):
            edits.extend((field, k, (new, source)) for new in DERIVABLE_OPS if new != op)
            taken = {edges[e][1] for e in _edges_into(node_of(k))}
            edits.extend((field, k, (op, new)) for new in range(node_of(k)) if new not in taken)
    return edits
