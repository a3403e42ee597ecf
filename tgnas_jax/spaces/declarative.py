"""Spaces written as a spec: a cell of edges with op choices, or a chain of layers with op choices.

A user describes a space in a few lines (Python, or a JSON / TOML file read by :func:`load_space`)
and gets scoring, sampling, mutation, every search method, and sizes where the op kinds are known
(:mod:`tgnas_jax.spaces.opsize`). An architecture is the tuple of chosen op names, one per edge
or layer; its string is those names joined by commas.

* :class:`CellSpace`: feature-map nodes (the first ``inputs`` are the cell's inputs) joined by
  ``edges``; each edge picks an op from its ``choices``. Ops named ``none`` / ``zero`` pass no
  data. The output sums (or concatenates) the nodes in ``outputs``. NB201 and DARTS-style cells
  with fixed wiring are instances.
* :class:`ChainSpace`: ``layers`` in sequence, each picking an op from its ``choices``, with a
  stride and an output width. An identity op (``identity``, ``skip``, ``skip_connect``) skips its
  layer: it becomes an edge, as NB101 writes a residual. A layer's node is named after its op,
  with ``_s2`` appended at stride 2 so the predictor sees where resolution drops.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from tgnas_jax._text import quote
from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph, contract, edge_cell
from tgnas_jax.spaces.base import SearchSpace, SpaceError
from tgnas_jax.spaces.opsize import op_size

DeclaredArch = tuple[str, ...]
#: Op names that pass no data (a cell edge with one of them is absent).
VOID_OPS = frozenset({"none", "zero"})
#: Op names that pass their input on unchanged (a chain layer with one of them is skipped).
IDENTITY_OPS = frozenset({"identity", "skip", "skip_connect"})
#: Largest space a spec may declare before enumeration refuses.
ENUMERATE_LIMIT = 10**6
#: A spec's edges / layers; more than this is not a cell or a block sequence.
MAX_POSITIONS = 256


class SpecError(ValueError):
    """A space spec that does not describe a space; the message names the field."""


def _op_names(where: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise SpecError(f"{where} must be a non-empty list of op names, got {quote(value)}")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip() or "," in name:
            raise SpecError(f"{where}: {quote(name)} is no op name (a non-empty string without commas or edge spaces)")
        if name in (INPUT, OUTPUT):
            raise SpecError(f"{where}: {name!r} is reserved for the cell's ends")
    if len(set(names)) != len(names):
        raise SpecError(f"{where} lists an op twice: {quote(list(names))}")
    return names


def _positive(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{where} must be an integer >= 1, got {quote(value)}")
    return value


class _Declared(SearchSpace[DeclaredArch]):
    """What both spec kinds share: one op choice per position (edge or layer)."""

    name: str

    @property
    def positions(self) -> tuple[tuple[str, ...], ...]:
        """The op choices of each position."""
        raise NotImplementedError

    @property
    def ops(self) -> tuple[str, ...]:  # type: ignore[override]
        """Every op name the space uses, first seen first."""
        return tuple(dict.fromkeys(op for choices in self.positions for op in choices))

    @property
    def size(self) -> int:
        return int(np.prod([len(c) for c in self.positions], dtype=object))

    def parse(self, text: str) -> DeclaredArch:
        if not isinstance(text, str):
            raise SpaceError(f"a {self.name} arch string must be a str, got {type(text).__name__}")
        if len(text) > 64 * MAX_POSITIONS * 8:
            raise SpaceError(f"bad {self.name} arch string {quote(text)}: far too long")
        return self.check(tuple(op.strip() for op in text.split(",")))

    def format(self, arch: DeclaredArch) -> str:
        return ",".join(self.check(arch))

    def check(self, arch: object) -> DeclaredArch:
        count = len(self.positions)
        if isinstance(arch, str) or not isinstance(arch, tuple | list) or len(arch) != count:
            raise SpaceError(f"a {self.name} arch is a tuple of {count} op names, got {quote(arch)}")
        for i, (op, choices) in enumerate(zip(arch, self.positions, strict=True)):
            if op not in choices:
                raise SpaceError(
                    f"{self.name} arch {quote(arch)}: {quote(op)} is no choice at position {i}; it takes {choices}"
                )
        return tuple(arch)

    def sample(self, rng: np.random.Generator) -> DeclaredArch:
        return tuple(choices[int(rng.integers(len(choices)))] for choices in self.positions)

    def mutate(self, arch: DeclaredArch, rng: np.random.Generator) -> DeclaredArch:
        """Give one position with more than one choice, chosen uniformly, another of its ops."""
        arch = self.check(arch)
        free = [i for i, choices in enumerate(self.positions) if len(choices) > 1]
        if not free:
            raise SpaceError(f"the {self.name} space has one architecture; there is no neighbour to mutate to")
        i = free[int(rng.integers(len(free)))]
        others = [op for op in self.positions[i] if op != arch[i]]
        return (*arch[:i], others[int(rng.integers(len(others)))], *arch[i + 1 :])

    def enumerate(self) -> Iterator[DeclaredArch]:
        if self.size > ENUMERATE_LIMIT:
            raise NotImplementedError(f"the {self.name} space holds {self.size:,} architectures; too many to enumerate")
        return iter(itertools.product(*self.positions))

    def num_params(self, arch: DeclaredArch) -> int:
        """Parameters of the declared network (see :mod:`tgnas_jax.spaces.opsize` for the conventions)."""
        return self._sizes(arch)[0]

    def num_flops(self, arch: DeclaredArch) -> int:
        """Multiply-accumulates of one forward pass of the declared network."""
        return self._sizes(arch)[1]

    def position_sizes(self, position: int, op: str) -> tuple[int, int]:
        """``(params, MACs)`` of ``op`` at ``position``; ``NotImplementedError`` for an op of unknown kind."""
        raise NotImplementedError

    def fixed_sizes(self) -> tuple[int, int]:
        """``(params, MACs)`` of the parts no choice changes."""
        return 0, 0

    def _sizes(self, arch: DeclaredArch) -> tuple[int, int]:
        arch = self.check(arch)
        params, macs = self.fixed_sizes()
        for position, op in enumerate(arch):
            p, m = self.position_sizes(position, op)
            params, macs = params + p, macs + m
        return params, macs

    def _known_size(self, op: str, c_in: int, c_out: int, stride: int, size: int) -> tuple[int, int]:
        counted = op_size(op, c_in, c_out, stride, size)
        if counted is None:
            raise NotImplementedError(
                f"the {self.name} space has no size for op {op!r}: its kind is not one tgnas_jax.spaces.opsize knows"
            )
        return counted


@dataclass(frozen=True, eq=False)
class CellSpace(_Declared):
    """A cell of ``edges`` ``(source, target)`` between nodes, each edge choosing an op.

    ``choices`` is one list for every edge or a list per edge. Sizes, where every op's kind is
    known, count a one-cell network: a 3x3 stem convolution from ``in_channels`` to ``channels``,
    the cell at ``resolution`` (every edge keeps the shape), and a linear classifier to
    ``num_classes`` after global pooling.
    """

    name: str
    edges: Sequence[tuple[int, int]]
    choices: Sequence[str] | Sequence[Sequence[str]]
    inputs: int = 1
    #: Nodes the cell's output reads; default: the last node.
    outputs: Sequence[int] | None = None
    channels: int = 16
    resolution: int = 32
    in_channels: int = 3
    num_classes: int = 10

    def __post_init__(self) -> None:
        name = _name(self.name)
        inputs = _positive("inputs", self.inputs)
        edges = _edges(self.edges, inputs)
        per_edge = self.choices and not isinstance(self.choices, str) and not isinstance(self.choices[0], str)
        if per_edge:
            if len(self.choices) != len(edges):
                raise SpecError(f"choices lists {len(self.choices)} edges' ops but the cell has {len(edges)} edges")
            choices = tuple(_op_names(f"choices of edge {e}", c) for e, c in zip(edges, self.choices, strict=True))
        else:
            choices = (_op_names("choices", self.choices),) * len(edges)
        last = max(t for _, t in edges)
        outputs = (last,) if self.outputs is None else self.outputs
        if isinstance(outputs, str) or not isinstance(outputs, Sequence) or not outputs:
            raise SpecError(f"outputs must be a non-empty list of nodes, got {quote(outputs)}")
        targets = {t for _, t in edges}
        for node in outputs:
            if node not in targets:
                raise SpecError(f"output node {quote(node)} is no edge's target; targets are {sorted(targets)}")
        for field, value in (
            ("name", name),
            ("inputs", inputs),
            ("edges", edges),
            ("choices", choices),
            ("outputs", tuple(sorted(set(outputs)))),
            ("channels", _positive("channels", self.channels)),
            ("resolution", _positive("resolution", self.resolution)),
            ("in_channels", _positive("in_channels", self.in_channels)),
            ("num_classes", _positive("num_classes", self.num_classes)),
        ):
            object.__setattr__(self, field, value)

    @property
    def positions(self) -> tuple[tuple[str, ...], ...]:
        return self.choices  # type: ignore[return-value]

    @property
    def network(self) -> str:
        return f"one-cell network, {self.channels} channels at {self.resolution}x{self.resolution}"

    def fixed_sizes(self) -> tuple[int, int]:
        return _stem_and_head(self.in_channels, self.channels, 1, self.resolution, self.num_classes)

    def to_graphs(self, arch: DeclaredArch) -> tuple[ArchGraph, ...]:
        return (edge_cell(self.edges, self.check(arch), self.inputs, self.outputs, VOID_OPS),)

    def position_sizes(self, position: int, op: str) -> tuple[int, int]:
        return self._known_size(op, self.channels, self.channels, 1, self.resolution)


@dataclass(frozen=True)
class Layer:
    """One layer of a :class:`ChainSpace`: its op choices, stride and output width (channels)."""

    choices: Sequence[str]
    stride: int = 1
    width: int = 16


@dataclass(frozen=True, eq=False)
class ChainSpace(_Declared):
    """Layers in sequence, each choosing an op (MobileNet-style macro spaces).

    Sizes count the whole network: a 3x3 stride-``stem_stride`` stem convolution from
    ``in_channels`` to ``stem_width``, the layers (each from the previous width), and a linear
    classifier to ``num_classes`` after global pooling, on a ``resolution``-pixel input.
    """

    name: str
    layers: Sequence[Layer | Mapping[str, Any]]
    resolution: int = 224
    in_channels: int = 3
    stem_width: int = 16
    stem_stride: int = 2
    num_classes: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.layers, str | Mapping) or not isinstance(self.layers, Sequence) or not self.layers:
            raise SpecError(f"layers must be a non-empty list, got {quote(self.layers)}")
        if len(self.layers) > MAX_POSITIONS:
            raise SpecError(f"layers lists {len(self.layers):,} layers; at most {MAX_POSITIONS} are allowed")
        layers = tuple(_layer(i, layer) for i, layer in enumerate(self.layers))
        for field, value in (
            ("name", _name(self.name)),
            ("layers", layers),
            ("resolution", _positive("resolution", self.resolution)),
            ("in_channels", _positive("in_channels", self.in_channels)),
            ("stem_width", _positive("stem_width", self.stem_width)),
            ("stem_stride", _positive("stem_stride", self.stem_stride)),
            ("num_classes", _positive("num_classes", self.num_classes)),
        ):
            object.__setattr__(self, field, value)
        widths = [self.stem_width, *(layer.width for layer in layers)]
        for i, layer in enumerate(layers):
            shape_kept = layer.stride == 1 and widths[i] == widths[i + 1]
            voids = [op for op in layer.choices if op in VOID_OPS]
            if voids:
                raise SpecError(f"layer {i} offers {voids[0]!r}, which passes no data: a chain would break there")
            identities = [op for op in layer.choices if op in IDENTITY_OPS]
            if identities and not shape_kept:
                raise SpecError(
                    f"layer {i} offers {identities[0]!r} but changes the shape (stride {layer.stride}, width "
                    f"{widths[i]} -> {layer.width}); an identity can only skip a layer that keeps it"
                )

    @property
    def positions(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(layer.choices) for layer in self.layers)  # type: ignore[misc]

    @property
    def ops(self) -> tuple[str, ...]:  # type: ignore[override]
        """Every node name the predictor may read, first seen first (see :meth:`node_name`)."""
        names = (self.node_name(i, op) for i, choices in enumerate(self.positions) for op in choices)
        return tuple(dict.fromkeys(names))

    @property
    def network(self) -> str:
        return f"{len(self.layers)}-layer network at {self.resolution}x{self.resolution}, {self.num_classes} classes"

    def node_name(self, position: int, op: str) -> str:
        """The name the predictor reads for ``op`` at layer ``position``: ``_s<stride>`` where it downsamples."""
        stride = self.layers[position].stride  # type: ignore[union-attr]
        return op if stride == 1 or op in IDENTITY_OPS else f"{op}_s{stride}"

    def to_graphs(self, arch: DeclaredArch) -> tuple[ArchGraph, ...]:
        names = [self.node_name(i, op) for i, op in enumerate(self.check(arch))]
        size = len(names) + 2
        chain = ArchGraph(np.eye(size, k=1, dtype=np.uint8), (INPUT, *names, OUTPUT))
        return (contract(chain, IDENTITY_OPS),)

    def _resolutions(self) -> list[int]:
        size = -(-self.resolution // self.stem_stride)
        sizes = []
        for layer in self.layers:
            sizes.append(size)
            size = -(-size // layer.stride)  # type: ignore[union-attr]
        return sizes

    def position_sizes(self, position: int, op: str) -> tuple[int, int]:
        layer = self.layers[position]
        c_in = self.stem_width if position == 0 else self.layers[position - 1].width  # type: ignore[union-attr]
        size = self._resolutions()[position]
        return self._known_size(op, c_in, layer.width, layer.stride, size)  # type: ignore[union-attr]

    def fixed_sizes(self) -> tuple[int, int]:
        last = self.layers[-1].width  # type: ignore[union-attr]
        return _stem_and_head(
            self.in_channels, self.stem_width, self.stem_stride, self.resolution, self.num_classes, last
        )


def _stem_and_head(
    in_channels: int, width: int, stride: int, resolution: int, classes: int, last: int | None = None
) -> tuple[int, int]:
    """``(params, MACs)`` of a 3x3 stem convolution and a linear classifier on ``last`` (default ``width``) features."""
    stem = op_size("conv_3x3", in_channels, width, stride, resolution)
    assert stem is not None
    features = width if last is None else last
    return stem[0] + features * classes + classes, stem[1] + features * classes


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise SpecError(f"name must be a short non-empty string, got {quote(value)}")
    return value


def _edges(value: object, inputs: int) -> tuple[tuple[int, int], ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise SpecError(f"edges must be a non-empty list of (source, target) pairs, got {quote(value)}")
    if len(value) > MAX_POSITIONS:
        raise SpecError(f"edges lists {len(value):,} edges; at most {MAX_POSITIONS} are allowed")
    edges = []
    for edge in value:
        ok = isinstance(edge, Sequence) and not isinstance(edge, str) and len(edge) == 2
        if not ok or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in edge):
            raise SpecError(f"edge {quote(edge)} is not a (source, target) pair of node numbers")
        source, target = edge
        if source >= target:
            raise SpecError(f"edge {quote(edge)} must run from a lower node to a higher one (the cell is a DAG)")
        if target < inputs:
            raise SpecError(f"edge {quote(edge)} enters input node {target}; inputs are nodes 0..{inputs - 1}")
        edges.append((source, target))
    if len(set(edges)) != len(edges):
        raise SpecError("edges lists an edge twice")
    fed = set(range(inputs)) | {t for _, t in edges}
    for source, target in edges:
        if source not in fed:
            raise SpecError(f"edge ({source}, {target}) leaves node {source}, which no edge enters and is no input")
    return tuple(edges)


def _layer(index: int, value: object) -> Layer:
    if isinstance(value, Mapping):
        unknown = set(value) - {f.name for f in fields(Layer)}
        if unknown:
            raise SpecError(f"layer {index} has unknown keys {sorted(unknown)}; a layer has choices, stride, width")
        if "choices" not in value:
            raise SpecError(f"layer {index} lacks choices")
        value = Layer(**value)
    if not isinstance(value, Layer):
        raise SpecError(f"layer {index} must be a Layer or a mapping, got {quote(value)}")
    return Layer(
        _op_names(f"choices of layer {index}", value.choices),
        _positive(f"stride of layer {index}", value.stride),
        _positive(f"width of layer {index}", value.width),
    )


KINDS: dict[str, type[_Declared]] = {"cell": CellSpace, "chain": ChainSpace}


def space_from_spec(spec: Mapping[str, Any]) -> CellSpace | ChainSpace:
    """The space a spec mapping declares: ``{"kind": "cell" | "chain", ...the class's fields}``."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"a space spec is a mapping, got {quote(spec)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise SpecError(f"kind must be one of {sorted(KINDS)}, got {quote(kind)}")
    cls = KINDS[kind]
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    rest = {k: v for k, v in spec.items() if k != "kind"}
    unknown = sorted(set(rest) - names)
    if unknown:
        raise SpecError(f"a {kind} spec has no field {', '.join(unknown)}; its fields are {sorted(names)}")
    try:
        return cls(**rest)  # type: ignore[return-value]
    except TypeError as err:  # a required field missing
        raise SpecError(f"a {kind} spec: {err}") from None


def load_space(path: str | Path) -> CellSpace | ChainSpace:
    """The space a JSON (``.json``) or TOML (``.toml``) spec file declares; :class:`SpecError` naming the fault."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SpecError(f"cannot read space spec {str(path)!r}: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
        spec = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (UnicodeDecodeError, ValueError) as err:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise SpecError(f"space spec {str(path)!r} is not {kind}: {err}") from None
    try:
        return space_from_spec(spec)
    except SpecError as err:
        raise SpecError(f"space spec {str(path)!r}: {err}") from None
