"""Architecture graphs: the one representation every search space converts to.

A cell is a DAG whose nodes are operators (``input`` and ``output`` included) and whose
edges are data flow (paper section 3.1). Operators are kept as *names*, never indices, so an
operator no space has seen before passes through untouched to the embedding stage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

INPUT = "input"
OUTPUT = "output"


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
        adjacency = np.asarray(self.adjacency)
        ops = tuple(self.ops)
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


def _check(adjacency: np.ndarray, ops: tuple[str, ...]) -> None:
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise GraphError(f"adjacency must be a square matrix, got shape {adjacency.shape}")
    if adjacency.shape[0] != len(ops):
        raise GraphError(f"adjacency is {adjacency.shape[0]}x{adjacency.shape[0]} but {len(ops)} ops were given")
    for i, op in enumerate(ops):
        if not isinstance(op, str) or not op.strip():
            raise GraphError(f"op {i} must be a non-empty string, got {op!r}")
    if not ((adjacency == 0) | (adjacency == 1)).all():
        raise GraphError("adjacency entries must be 0 or 1")
    if np.diagonal(adjacency).any():
        raise GraphError(f"self-loop on node {int(np.flatnonzero(np.diagonal(adjacency))[0])}")
    sources = _sources(ops)
    if not sources:
        raise GraphError(f"graph needs a node named {INPUT!r}; ops are {list(ops)}")
    if ops.count(OUTPUT) != 1:
        raise GraphError(f"graph needs exactly one node named {OUTPUT!r}; ops are {list(ops)}")
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
            raise GraphError(f"node {i} ({op!r}) is disconnected: no path from an input reaches it")
        if not to_output[i]:
            raise GraphError(f"node {i} ({op!r}) is disconnected: no path from it reaches the output")


def prune(adjacency: np.ndarray, ops: Sequence[str]) -> ArchGraph:
    """Drop the nodes off every input -> output path (NB101's ``ModelSpec`` pruning).

    Inputs and the output always stay. When no path exists at all, the result is the broken
    cell ``input -> output`` with no edge.
    """
    adjacency = np.asarray(adjacency, dtype=np.uint8)
    ops = tuple(ops)
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
