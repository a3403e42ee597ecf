"""Architecture graphs: the one representation every search space converts to.

A cell is a DAG whose nodes are operators (``input`` and ``output`` included) and whose
edges are data flow (paper section 3.1). Operators are kept as *names*, never indices, so an
operator no space has seen before passes through untouched to the embedding stage.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Iterable, Sequence, Sized
from dataclasses import dataclass

import numpy as np

from tgnas_jax._text import quote

INPUT = "input"
OUTPUT = "output"
#: Cells are tiny (a DARTS cell has 11 nodes); larger matrices are refused before they are read.
MAX_NODES = 1024


class GraphError(ValueError):
    """An adjacency matrix / operator list that is not a valid architecture graph."""


@dataclass(frozen=True, eq=False)
class ArchGraph:
    """An operator-node DAG.

    ``adjacency[i, j] == 1`` means node ``i`` feeds node ``j``. Nodes named ``input`` are the
    cell's sources (DARTS cells have two); exactly one node is named ``output``. Every other
    node lies on a path from an input to the output. The one graph allowed to break that rule
    is ``input -> output`` with no edge: a cell that passes no data (see :attr:`is_broken`).
    """

    adjacency: np.ndarray
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        adjacency = as_adjacency(self.adjacency)
        ops = _as_ops(self.ops)
        _check(adjacency, ops)
        adjacency = adjacency.astype(np.uint8)
        adjacency.setflags(write=False)
        object.__setattr__(self, "adjacency", adjacency)
        object.__setattr__(self, "ops", ops)

    @property
    def num_nodes(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return int(self.adjacency.sum())

    @property
    def edges(self) -> np.ndarray:
        """``(num_edges, 2)`` array of ``(sender, receiver)`` pairs, row-major order."""
        return np.argwhere(self.adjacency).astype(np.int32)

    @property
    def is_broken(self) -> bool:
        """True when no data reaches the output: such a cell cannot learn anything."""
        return not _reaches(_successors(self.adjacency), _sources(self.ops))[self.ops.index(OUTPUT)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArchGraph):
            return NotImplemented
        return self.ops == other.ops and np.array_equal(self.adjacency, other.adjacency)

    def __hash__(self) -> int:
        return hash((self.ops, self.adjacency.tobytes()))

    def __repr__(self) -> str:
        edges = ", ".join(f"{s}->{r}" for s, r in self.edges)
        return f"ArchGraph(ops={list(self.ops)}, edges=[{edges}])"


def _sources(ops: Sequence[str]) -> list[int]:
    return [i for i, op in enumerate(ops) if op == INPUT]


def _successors(adjacency: np.ndarray) -> list[list[int]]:
    """Adjacency lists: cells are tiny, and Python lists beat numpy calls on 8x8 arrays."""
    return [[j for j, bit in enumerate(row) if bit] for row in adjacency.tolist()]


def _reaches(successors: list[list[int]], starts: Sequence[int]) -> list[bool]:
    """Which nodes are reachable from ``starts`` (``starts`` included)."""
    seen = [False] * len(successors)
    stack = list(starts)
    for node in stack:
        seen[node] = True
    while stack:
        for nxt in successors[stack.pop()]:
            if not seen[nxt]:
                seen[nxt] = True
                stack.append(nxt)
    return seen


def _transpose(successors: list[list[int]]) -> list[list[int]]:
    predecessors: list[list[int]] = [[] for _ in successors]
    for node, nexts in enumerate(successors):
        for nxt in nexts:
            predecessors[nxt].append(node)
    return predecessors


def topological_order(adjacency: np.ndarray) -> list[int]:
    """Kahn's order of the nodes; raises :class:`GraphError` naming the nodes on a cycle."""
    successors = _successors(np.asarray(adjacency))
    indegree = [0] * len(successors)
    for nexts in successors:
        for nxt in nexts:
            indegree[nxt] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    order: list[int] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for nxt in successors[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if len(order) != len(successors):
        stuck = sorted(set(range(len(successors))) - set(order))
        raise GraphError(f"graph has a cycle through nodes {stuck}")
    return order


_NUMBERS = (bool, int, float, np.bool_, np.integer, np.floating)


def as_adjacency(adjacency: object, max_nodes: int = MAX_NODES) -> np.ndarray:
    """``adjacency`` (an array, or nested lists of 0/1 numbers) as a square numeric array, or :class:`GraphError`.

    Ragged rows, ``None``, strings and complex numbers are named here instead of surfacing as
    numpy's errors or warnings; a matrix of over ``max_nodes`` rows is refused before it is read.
    """
    if isinstance(adjacency, list | tuple):
        return _nested_adjacency(adjacency, max_nodes)
    try:
        array = np.asarray(adjacency)
    except (ValueError, TypeError) as err:
        raise GraphError(f"adjacency must be a 0/1 matrix, got {quote(adjacency)} ({err})") from None
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise GraphError(f"adjacency must be a square matrix, got shape {array.shape}")
    if array.shape[0] > max_nodes:
        raise GraphError(f"adjacency has {array.shape[0]:,} rows; graphs have at most {max_nodes:,} nodes")
    if array.dtype == object:
        return _nested_adjacency(array.tolist(), max_nodes)
    if array.dtype.kind not in "biuf":
        raise GraphError(f"adjacency entries must be 0 or 1, got an array of {array.dtype}")
    return array


def _nested_adjacency(rows: Sequence[object], max_nodes: int) -> np.ndarray:
    """Nested lists checked row by row before numpy sees them (cells are small, so a Python loop is cheap)."""
    size = len(rows)
    if size > max_nodes:
        raise GraphError(f"adjacency has {size:,} rows; graphs have at most {max_nodes:,} nodes")
    array = np.zeros((size, size), np.uint8)
    for i, row in enumerate(rows):
        if hasattr(row, "__array__") and np.ndim(row) == 1:
            row = np.asarray(row).tolist()
        if not isinstance(row, list | tuple):
            raise GraphError(f"adjacency must be a square matrix: row {i} is {quote(row)}, not a list of 0/1 entries")
        if len(row) != size:
            raise GraphError(f"adjacency must be a square matrix: row {i} has {len(row):,} entries, not {size}")
        for j, entry in enumerate(row):
            if not (isinstance(entry, _NUMBERS) and entry in (0, 1)):
                raise GraphError(f"adjacency entries must be 0 or 1, got {quote(entry)} at [{i}, {j}]")
            array[i, j] = entry
    return array


def _as_ops(ops: object) -> tuple[str, ...]:
    """The op names as a tuple; a bare string or a non-sequence is a :class:`GraphError`, not a tuple of letters."""
    if isinstance(ops, str | bytes) or not isinstance(ops, Iterable):
        raise GraphError(f"ops must be a sequence of operator names, got {quote(ops)}")
    if isinstance(ops, Sized) and len(ops) > MAX_NODES:
        raise GraphError(f"{len(ops):,} ops were given; graphs have at most {MAX_NODES:,} nodes")
    return tuple(ops)


def _check(adjacency: np.ndarray, ops: tuple[str, ...]) -> None:
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise GraphError(f"adjacency must be a square matrix, got shape {adjacency.shape}")
    if adjacency.shape[0] != len(ops):
        raise GraphError(f"adjacency is {adjacency.shape[0]}x{adjacency.shape[0]} but {len(ops)} ops were given")
    for i, op in enumerate(ops):
        if not isinstance(op, str) or not op.strip():
            raise GraphError(f"op {i} must be a non-empty string, got {quote(op)}")
    if not ((adjacency == 0) | (adjacency == 1)).all():
        raise GraphError("adjacency entries must be 0 or 1")
    if np.diagonal(adjacency).any():
        raise GraphError(f"self-loop on node {int(np.flatnonzero(np.diagonal(adjacency))[0])}")
    sources = _sources(ops)
    if not sources:
        raise GraphError(f"graph needs a node named {INPUT!r}; ops are {quote(list(ops))}")
    if ops.count(OUTPUT) != 1:
        raise GraphError(f"graph needs exactly one node named {OUTPUT!r}; ops are {quote(list(ops))}")
    topological_order(adjacency)
    successors = _successors(adjacency)
    predecessors = _transpose(successors)
    for i in sources:
        if predecessors[i]:
            raise GraphError(f"input node {i} has incoming edges")
    out = ops.index(OUTPUT)
    if successors[out]:
        raise GraphError(f"output node {out} has outgoing edges")
    from_input = _reaches(successors, sources)
    to_output = _reaches(predecessors, [out])
    for i, op in enumerate(ops):
        if op in (INPUT, OUTPUT):
            continue
        if not from_input[i]:
            raise GraphError(f"node {i} ({quote(op)}) is disconnected: no path from an input reaches it")
        if not to_output[i]:
            raise GraphError(f"node {i} ({quote(op)}) is disconnected: no path from it reaches the output")


def prune(adjacency: np.ndarray, ops: Sequence[str]) -> ArchGraph:
    """Drop the nodes off every input -> output path (NB101's ``ModelSpec`` pruning).

    Inputs and the output always stay. When no path exists at all, the result is the broken
    cell ``input -> output`` with no edge.
    """
    adjacency = as_adjacency(adjacency)
    if isinstance(ops, str) or not isinstance(ops, Iterable):
        raise GraphError(f"ops must be a sequence of operator names, got {quote(ops)}")
    ops = tuple(ops)
    if adjacency.shape[0] != len(ops):
        raise GraphError(f"adjacency is {adjacency.shape[0]}x{adjacency.shape[0]} but {len(ops)} ops were given")
    if not ((adjacency == 0) | (adjacency == 1)).all():
        raise GraphError("adjacency entries must be 0 or 1")
    adjacency = adjacency.astype(np.uint8)
    if ops.count(OUTPUT) != 1:
        raise GraphError(f"graph needs exactly one node named {OUTPUT!r}; ops are {list(ops)}")
    topological_order(adjacency)
    out = ops.index(OUTPUT)
    successors = _successors(adjacency)
    from_input = _reaches(successors, _sources(ops))
    to_output = _reaches(_transpose(successors), [out])
    if not from_input[out]:
        return ArchGraph(np.zeros((2, 2), np.uint8), (INPUT, OUTPUT))
    keep = [i for i, op in enumerate(ops) if (from_input[i] and to_output[i]) or op == INPUT]
    return ArchGraph(adjacency[np.ix_(keep, keep)], tuple(ops[i] for i in keep))


def edge_adjacency(edges: Sequence[tuple[int, int]], inputs: int, outputs: Collection[int]) -> np.ndarray:
    """Operator-node adjacency of a cell whose ops sit on edges between feature-map nodes (NB201, DARTS).

    Nodes: the ``inputs`` cell inputs, one op node per edge, the output. The op node of edge
    ``(j, i)`` reads input ``j`` (``j < inputs``) or every op node entering ``j``; op nodes
    entering one of ``outputs`` feed the output. Memoised and read-only: every cell of a space
    shares its wiring, and graph building is on the scoring path.
    """
    return _edge_adjacency(tuple((int(j), int(i)) for j, i in edges), inputs, frozenset(outputs))


@functools.lru_cache(maxsize=4096)
def _edge_adjacency(edges: tuple[tuple[int, int], ...], inputs: int, outputs: frozenset[int]) -> np.ndarray:
    size = inputs + len(edges) + 1
    adjacency = np.zeros((size, size), np.uint8)
    for a, (source, target) in enumerate(edges):
        if source < inputs:
            adjacency[source, inputs + a] = 1
        for b, (next_source, _) in enumerate(edges):
            adjacency[inputs + a, inputs + b] = next_source == target
        adjacency[inputs + a, -1] = target in outputs
    adjacency.setflags(write=False)
    return adjacency


def edge_cell(
    edges: Sequence[tuple[int, int]], ops: Sequence[str], inputs: int, outputs: Collection[int], voids: Collection[str]
) -> ArchGraph:
    """The operator-node DAG of an edge cell (:func:`edge_adjacency`) whose edges carry ``ops``.

    Edges whose op is in ``voids`` (``none``: no data crosses) get no node, and what they strand
    is pruned.
    """
    full = edge_adjacency(edges, inputs, outputs)
    live = [inputs + k for k, op in enumerate(ops) if op not in voids]
    keep = [*range(inputs), *live, len(full) - 1]
    return prune(full[np.ix_(keep, keep)], (INPUT,) * inputs + tuple(ops[k - inputs] for k in live) + (OUTPUT,))


def contract(graph: ArchGraph, identities: Collection[str]) -> ArchGraph:
    """``graph`` with every node whose op is in ``identities`` replaced by edges from its
    predecessors to its successors.

    NB101, the training space, has no identity operator: a residual there is an edge
    (``input -> output`` is its projected shortcut). Contracting identity ops puts other spaces'
    skip connections in the same form.
    """
    drop = [i for i, op in enumerate(graph.ops) if op in identities]
    if not drop:
        return graph
    adjacency = graph.adjacency.astype(bool)
    for node in topological_order(graph.adjacency):
        if node in drop:
            adjacency |= np.outer(adjacency[:, node], adjacency[node, :])
            adjacency[:, node] = adjacency[node, :] = False
    keep = [i for i in range(graph.num_nodes) if i not in drop]
    return ArchGraph(adjacency[np.ix_(keep, keep)], tuple(graph.ops[i] for i in keep))


def wl_hash(adjacency: np.ndarray, labels: Sequence[object]) -> str:
    """NB101's ``graph_util.hash_module``: an isomorphism-invariant iterated MD5 hash.

    ``labels`` are whatever the caller fingerprints nodes by (NB101 passes ``-1`` / ``-2`` for
    input / output and op indices in between); they are compared through ``str``.
    """
    adjacency = np.asarray(adjacency)
    labels = [label.item() if isinstance(label, np.generic) else label for label in labels]
    n = len(adjacency)
    in_edges = adjacency.sum(axis=0).tolist()
    out_edges = adjacency.sum(axis=1).tolist()
    hashes = [hashlib.md5(str((out_edges[v], in_edges[v], labels[v])).encode("utf-8")).hexdigest() for v in range(n)]
    for _ in range(n):
        new_hashes = []
        for v in range(n):
            in_neighbours = sorted(hashes[w] for w in range(n) if adjacency[w, v])
            out_neighbours = sorted(hashes[w] for w in range(n) if adjacency[v, w])
            fingerprint = "|".join(["".join(in_neighbours), "".join(out_neighbours), hashes[v]])
            new_hashes.append(hashlib.md5(fingerprint.encode("utf-8")).hexdigest())
        hashes = new_hashes
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()
