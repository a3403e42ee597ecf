"""NAS-Bench-101 (Ying et al., 2019): cells of at most 7 operator vertices and 9 edges.

An architecture is one cell: a strictly upper-triangular adjacency matrix over vertices
``input``, up to five of :data:`OPS`, ``output``. Like nasbench's ``ModelSpec``, a spec is pruned
on construction (vertices off every input -> output path are dropped) and only then checked
against the 7-vertex / 9-edge limits.

Canonical string: the adjacency rows as 0/1 digits joined by ``/``, a ``|``, then the vertex ops
joined by ``,``; row ``i``, column ``j`` is 1 when vertex ``i`` feeds vertex ``j``::

    0110000/0001000/0001000/0000100/0000010/0000001/0000000|input,conv3x3-bn-relu,...,output

Parsing prunes like the constructor, so only already-pruned strings come back byte for byte.

The full space (423,624 cells) is enumerated the way nasbench's ``generate_graphs.py`` does it, and
bit-identically so, but in seconds rather than minutes: labeled graphs are first grouped by an exact
isomorphism key (isomorphic graphs share a hash), and only one graph per group is hashed, by a
numpy-batched ``graph_util.hash_module``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tgnas_jax._text import quote
from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph, GraphError, as_adjacency, prune, wl_hash
from tgnas_jax.spaces.base import SearchSpace, SpaceError

#: nasbench's ``config['available_ops']``; a vertex's position here is its hash label.
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: Every vertex name a cell holds; :attr:`NB101Cells.ops` indexes into it.
CELL_OPS = (INPUT, *OPS, OUTPUT)
MAX_VERTICES = 7
MAX_EDGES = 9
#: Specs are pruned before the vertex limit applies, but larger ones than this are refused unread.
MAX_SPEC_VERTICES = 64
#: A canonical NB101 string is under 200 characters; longer text is refused before it is split.
MAX_TEXT = 4096
#: nasbench's hash labels of the input and output vertices.
_INPUT_LABEL, _OUTPUT_LABEL = -1, -2
#: Vertex name index (into :data:`CELL_OPS`) of each hash label + 2: -2 -> output, -1 -> input, k -> OPS[k].
_LABEL_TO_CELL_OP = np.array([len(CELL_OPS) - 1, 0, 1, 2, 3], dtype=np.int8)
_CHUNK = 256


@dataclass(frozen=True, eq=False)
class NB101Arch:
    """One NB101 cell, pruned; equal (and hashed) by value, not by isomorphism."""

    adjacency: np.ndarray
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        graph = _pruned_cell(*_spec(self.adjacency, self.ops))
        object.__setattr__(self, "adjacency", graph.adjacency)
        object.__setattr__(self, "ops", graph.ops)

    @classmethod
    def _trusted(cls, adjacency: np.ndarray, ops: tuple[str, ...]) -> NB101Arch:
        """A cell already known to be pruned and valid: skips the checks enumeration cannot afford."""
        arch = object.__new__(cls)
        adjacency = adjacency.astype(np.uint8)
        adjacency.setflags(write=False)
        object.__setattr__(arch, "adjacency", adjacency)
        object.__setattr__(arch, "ops", ops)
        return arch

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return int(self.adjacency.sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NB101Arch):
            return NotImplemented
        return self.ops == other.ops and np.array_equal(self.adjacency, other.adjacency)

    def __hash__(self) -> int:
        return hash((self.ops, self.adjacency.tobytes()))

    def __repr__(self) -> str:
        edges = ", ".join(f"{s}->{r}" for s, r in np.argwhere(self.adjacency))
        return f"NB101Arch(ops={list(self.ops)}, edges=[{edges}])"


def _spec(adjacency: object, ops: object) -> tuple[np.ndarray, tuple[str, ...]]:
    """A spec as (matrix, ops), or :class:`SpaceError`; an oversized one is refused before any array is built."""
    if isinstance(ops, str) or not isinstance(ops, Sequence | np.ndarray):
        raise SpaceError(f"ops must be a sequence of operator names, got {quote(ops)}")
    rows = len(adjacency) if isinstance(adjacency, list | tuple) else (np.shape(adjacency) or (0,))[0]
    if max(rows, len(ops)) > MAX_SPEC_VERTICES:
        raise SpaceError(
            f"a spec of {max(rows, len(ops)):,} vertices: NB101 allows at most {MAX_VERTICES} after pruning "
            f"(specs of over {MAX_SPEC_VERTICES} are not read)"
        )
    try:
        return as_adjacency(adjacency, MAX_SPEC_VERTICES), tuple(ops)
    except GraphError as err:
        raise SpaceError(str(err)) from None


def _already_pruned(rows: list[str], ops: tuple[str, ...]) -> bool:
    """Whether the cell of 0/1 ``rows`` is valid and already pruned: every vertex on an input ->
    output path, strictly upper-triangular, within the vertex and edge limits, known ops. Bit
    masks, not :func:`_pruned_cell`'s graph (a parse: 283 -> 33 us), and only ever a shortcut to it."""
    n = len(ops)
    if not 2 <= n <= MAX_VERTICES or ops[0] != INPUT or ops[-1] != OUTPUT or not set(ops[1:-1]) <= set(OPS):
        return False
    successors = [int(row[::-1], 2) for row in rows]  # bit j of vertex i: an edge i -> j
    if any(mask & ((2 << i) - 1) for i, mask in enumerate(successors)):
        return False
    if sum(mask.bit_count() for mask in successors) > MAX_EDGES:
        return False
    reached, reaching = 1, 1 << (n - 1)
    for vertex in range(n):
        if reached >> vertex & 1:
            reached |= successors[vertex]
    for vertex in reversed(range(n - 1)):
        if successors[vertex] & reaching:
            reaching |= 1 << vertex
    return reached == reaching == (1 << n) - 1


def _pruned_matrices(n: int, group: Sequence[tuple[int, str, tuple[str, ...]]]) -> list[np.ndarray | None]:
    """The adjacency of each ``(index, rows text, ops)`` of ``n`` vertices that :func:`_already_pruned`
    would pass (read-only views of one array), else ``None``: :meth:`NB101Space.parse_many`'s batch test."""
    text = "".join(matrix for _, matrix, _ in group).encode("utf-8")
    width = n * n + n - 1
    if len(text) != len(group) * width:  # a multi-byte character somewhere: the strings one by one
        return [None] * len(group)
    raw = np.frombuffer(text, np.uint8).reshape(len(group), width)
    slashes = np.arange(n, width, n + 1)
    digits = np.delete(raw, slashes, axis=1)
    good = (raw[:, slashes] == ord("/")).all(axis=1) & ((digits == ord("0")) | (digits == ord("1"))).all(axis=1)
    adjacency = (digits - ord("0")).reshape(len(group), n, n)
    allowed = set(OPS)
    good &= np.array([ops[0] == INPUT and ops[-1] == OUTPUT and set(ops[1:-1]) <= allowed for _, _, ops in group])
    good &= ~np.tril(adjacency).any(axis=(1, 2)) & (adjacency.sum(axis=(1, 2)) <= MAX_EDGES)
    # Every vertex reached from the input and reaching the output (rows run in topological order).
    reached = np.zeros((len(group), n), bool)
    reached[:, 0] = True
    for vertex in range(n - 1):
        reached |= reached[:, vertex : vertex + 1] & (adjacency[:, vertex] > 0)
    reaching = np.zeros((len(group), n), bool)
    reaching[:, n - 1] = True
    for vertex in reversed(range(n - 1)):
        reaching[:, vertex] = (adjacency[:, vertex] & reaching).any(axis=1)
    good &= reached.all(axis=1) & reaching.all(axis=1)
    adjacency.setflags(write=False)
    return [adjacency[j] if ok else None for j, ok in enumerate(good.tolist())]


def _pruned_cell(adjacency: np.ndarray, ops: tuple[str, ...]) -> ArchGraph:
    """The pruned graph of a spec, or :class:`SpaceError` naming what keeps it out of NB101."""
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise SpaceError(f"adjacency must be a square matrix, got shape {adjacency.shape}")
    if adjacency.shape[0] != len(ops):
        raise SpaceError(f"adjacency is {adjacency.shape[0]}x{adjacency.shape[0]} but {len(ops)} ops were given")
    if len(ops) < 2 or ops[0] != INPUT or ops[-1] != OUTPUT:
        raise SpaceError(f"ops must start with {INPUT!r} and end with {OUTPUT!r}, got {quote(list(ops))}")
    for vertex, op in enumerate(ops[1:-1], start=1):
        if op not in OPS:
            raise SpaceError(f"unknown op {quote(op)} at vertex {vertex}; NB101 ops are {list(OPS)}")
    if not np.isin(adjacency, (0, 1)).all():
        raise SpaceError("adjacency entries must be 0 or 1")
    backward = np.argwhere(np.tril(adjacency))
    if len(backward):
        sender, receiver = backward[0]
        raise SpaceError(f"adjacency is not strictly upper-triangular: edge {sender}->{receiver}")
    graph = prune(adjacency, ops)
    if graph.is_broken:
        raise SpaceError("no path from input to output")
    if graph.num_nodes > MAX_VERTICES:
        raise SpaceError(f"{graph.num_nodes} vertices after pruning; NB101 allows at most {MAX_VERTICES}")
    if graph.num_edges > MAX_EDGES:
        raise SpaceError(f"{graph.num_edges} edges after pruning; NB101 allows at most {MAX_EDGES}")
    return graph


def _arch_or_none(adjacency: np.ndarray, ops: Sequence[str]) -> NB101Arch | None:
    """Rejection sampling's test: the cell, or ``None`` where nasbench's ``is_valid`` says no."""
    try:
        return NB101Arch(adjacency, tuple(ops))
    except SpaceError:
        return None


def _labeling(arch: NB101Arch) -> list[int]:
    """nasbench's ``hash_spec`` labels: -1 input, op index into :data:`OPS`, -2 output."""
    return [_INPUT_LABEL, *(OPS.index(op) for op in arch.ops[1:-1]), _OUTPUT_LABEL]


class NB101Space(SearchSpace[NB101Arch]):
    """The NAS-Bench-101 cell space."""

    name = "nb101"
    ops = OPS

    def parse(self, text: str) -> NB101Arch:
        if not isinstance(text, str):
            raise SpaceError(f"an NB101 arch string must be a str, got {type(text).__name__}")
        if len(text) > MAX_TEXT:
            raise SpaceError(
                f"{quote(text)}: over {MAX_TEXT:,} characters; an NB101 cell has at most {MAX_VERTICES} vertices "
                "and its string under 200 characters"
            )
        matrix_text, bar, ops_text = text.partition("|")
        if not bar:
            raise SpaceError(f"{quote(text)}: expected 'ROWS|OPS', found no '|'")
        rows = matrix_text.split("/")
        ops = tuple(ops_text.split(","))
        if len(rows) != len(ops):
            raise SpaceError(f"{quote(text)}: {len(rows)} adjacency rows but {len(ops)} ops")
        for index, row in enumerate(rows):
            if len(row) != len(ops) or not set(row) <= {"0", "1"}:
                raise SpaceError(f"{quote(text)}: row {index} ({quote(row)}) must be {len(ops)} digits 0 or 1")
        # Every row is len(ops) ASCII digits 0/1 (checked above): their bytes less b"0" are the matrix.
        adjacency = (np.frombuffer("".join(rows).encode("ascii"), np.uint8) - ord("0")).reshape(len(ops), len(ops))
        if _already_pruned(rows, ops):  # what format() writes: nothing to prune, every rule holds
            return NB101Arch._trusted(adjacency, ops)
        try:
            return NB101Arch(adjacency, ops)
        except SpaceError as err:
            raise SpaceError(f"{quote(text)}: {err}") from err

    def parse_many(self, texts: Sequence[str]) -> list[NB101Arch]:
        """Strings as :meth:`parse` reads them. Those :meth:`format` writes (valid, already pruned) are
        checked with numpy, one cell size at a time; any other goes through :meth:`parse`, which
        prunes it or names its fault."""
        out: list[NB101Arch | None] = [None] * len(texts)
        groups: dict[int, list[tuple[int, str, tuple[str, ...]]]] = {}
        for i, text in enumerate(texts):
            if isinstance(text, str) and len(text) <= MAX_TEXT:
                matrix_text, bar, ops_text = text.partition("|")
                ops = tuple(ops_text.split(","))
                n = len(ops)
                if bar and 2 <= n <= MAX_VERTICES and len(matrix_text) == n * n + n - 1:
                    groups.setdefault(n, []).append((i, matrix_text, ops))
                    continue
            out[i] = self.parse(text)
        for n, group in groups.items():
            for (i, _, ops), adjacency in zip(group, _pruned_matrices(n, group), strict=True):
                out[i] = self.parse(texts[i]) if adjacency is None else NB101Arch._trusted(adjacency, ops)
        return out  # type: ignore[return-value]

    def format(self, arch: NB101Arch) -> str:
        rows = "/".join("".join(str(bit) for bit in row) for row in arch.adjacency.tolist())
        return f"{rows}|{','.join(arch.ops)}"

    def check(self, arch: object) -> NB101Arch:
        if not isinstance(arch, NB101Arch):
            raise SpaceError(
                f"an NB101 arch is an NB101Arch or an NB101 string, got {type(arch).__name__} {quote(arch)}; "
                "build NB101Arch(adjacency, ops) to check a cell, or score a raw ArchGraph without a space"
            )
        return arch

    def to_graphs(self, arch: NB101Arch) -> tuple[ArchGraph, ...]:
        arch = self.check(arch)
        return (ArchGraph(arch.adjacency, arch.ops),)

    def hash(self, arch: NB101Arch) -> str:
        """nasbench's ``ModelSpec.hash_spec(available_ops)``: the key of every NB101 table."""
        return wl_hash(arch.adjacency, _labeling(arch))

    def sample(self, rng: np.random.Generator) -> NB101Arch:
        """nasbench's ``random_spec``: fair coins for the 21 edges and fair dice for 5 ops, until valid."""
        while True:
            adjacency = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), k=1)
            labels = rng.integers(0, len(OPS), size=MAX_VERTICES - 2)
            arch = _arch_or_none(adjacency, (INPUT, *(OPS[label] for label in labels), OUTPUT))
            if arch is not None:
                return arch

    def mutate(self, arch: NB101Arch, rng: np.random.Generator) -> NB101Arch:
        """nasbench's ``mutate_spec`` (each edge flips w.p. 1/7, each op changes w.p. 1/5) until valid and new.

        The cell is first padded back to 7 vertices with unconnected random-op vertices, standing
        in for the pruned ones nasbench keeps, so a mutation can also grow the cell. "New" means
        a different NB101 hash, i.e. not isomorphic to ``arch``.
        """
        adjacency, ops = _padded(arch, rng)
        old_hash = self.hash(arch)
        while True:
            flips = np.triu(rng.random(adjacency.shape) < 1 / MAX_VERTICES, k=1)
            new_ops = list(ops)
            for vertex in range(1, MAX_VERTICES - 1):
                if rng.random() < 1 / (MAX_VERTICES - 2):
                    others = [op for op in OPS if op != ops[vertex]]
                    new_ops[vertex] = others[rng.integers(len(others))]
            child = _arch_or_none(adjacency ^ flips, new_ops)
            if child is not None and self.hash(child) != old_hash:
                return child

    def enumerate(self) -> Iterator[NB101Arch]:
        """All 423,624 cells, in the order ``generate_graphs.py`` first meets them; cells stream per vertex count."""
        for batch in _unique_batches():
            for adjacency, labels in zip(batch.adjacency, batch.labels, strict=True):
                yield NB101Arch._trusted(adjacency, tuple(CELL_OPS[i] for i in _LABEL_TO_CELL_OP[labels + 2]))


def _padded(arch: NB101Arch, rng: np.random.Generator) -> tuple[np.ndarray, tuple[str, ...]]:
    """``arch`` as a 7-vertex spec: extra random-op vertices, without edges, just before the output."""
    n = arch.num_vertices
    adjacency = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    adjacency[: n - 1, : n - 1] = arch.adjacency[:-1, :-1]
    adjacency[: n - 1, -1] = arch.adjacency[:-1, -1]
    extra = tuple(OPS[label] for label in rng.integers(0, len(OPS), size=MAX_VERTICES - n))
    return adjacency, (*arch.ops[:-1], *extra, OUTPUT)


@dataclass(frozen=True, eq=False)
class NB101Cells:
    """Every unique NB101 cell, in the order ``generate_graphs.py`` first meets its hash.

    Rows are zero-padded to 7 vertices like the benchmark tables: ``adjacency`` (N, 7, 7) uint8,
    ``ops`` (N, 7) int8 indices into :data:`CELL_OPS` (-1 = padding), ``num_vertices`` (N,) int8,
    ``hashes`` (N,) NB101 hashes as 32-character strings.
    """

    hashes: np.ndarray
    adjacency: np.ndarray
    ops: np.ndarray
    num_vertices: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def arch(self, index: int) -> NB101Arch:
        n = int(self.num_vertices[index])
        return NB101Arch._trusted(self.adjacency[index, :n, :n], tuple(CELL_OPS[i] for i in self.ops[index, :n]))

    def cumulative_counts(self) -> dict[int, int]:
        """Unique cells with at most V vertices, per V: ``generate_graphs.py``'s log, 1; 7; 91; ...; 423,624."""
        counts = np.cumsum(np.bincount(self.num_vertices, minlength=MAX_VERTICES + 1))
        return {v: int(counts[v]) for v in range(2, MAX_VERTICES + 1)}


def enumerate_cells() -> NB101Cells:
    """The whole space as arrays (about 20 s, one core); see :meth:`NB101Space.enumerate` for a stream."""
    batches = list(_unique_batches())
    total = sum(len(batch.hashes) for batch in batches)
    adjacency = np.zeros((total, MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    ops = np.full((total, MAX_VERTICES), -1, dtype=np.int8)
    start = 0
    for batch in batches:
        count, n = batch.labels.shape
        adjacency[start : start + count, :n, :n] = batch.adjacency
        ops[start : start + count, :n] = _LABEL_TO_CELL_OP[batch.labels + 2]
        start += count
    hashes = np.concatenate([batch.hashes for batch in batches]).astype("U32")
    num_vertices = np.repeat(
        np.array([batch.labels.shape[1] for batch in batches], dtype=np.int8), [len(b.hashes) for b in batches]
    )
    return NB101Cells(hashes, adjacency, ops, num_vertices)


@dataclass(frozen=True, eq=False)
class _Batch:
    """Labeled graphs of one vertex count: adjacency (N, V, V), nasbench labels (N, V), hashes (N,) S32."""

    adjacency: np.ndarray
    labels: np.ndarray
    hashes: np.ndarray


def _unique_batches() -> Iterator[_Batch]:
    """Per vertex count, the cells whose hash ``generate_graphs.py`` meets first, in its order.

    Within one vertex count, the graphs with one hash are whole isomorphism classes, so hashing
    the first graph of each class and keeping the first class of each new hash is exact, hash
    collisions between non-isomorphic graphs included.
    """
    seen: set[bytes] = set()
    for n in range(2, MAX_VERTICES + 1):
        pairs, edges = _full_dags(n)
        labelings = np.array(list(itertools.product(range(len(OPS)), repeat=n - 2)), dtype=np.int8)
        labelings = labelings.reshape(len(OPS) ** (n - 2), n - 2)
        keys = _isomorphism_keys(n, pairs, edges, labelings).ravel()
        first = np.sort(np.unique(keys, return_index=True)[1])
        matrix, labeling = np.divmod(first, len(labelings))
        adjacency = np.zeros((len(first), n, n), dtype=np.uint8)
        for bit, (x, y) in enumerate(pairs):
            adjacency[:, x, y] = edges[matrix, bit]
        labels = np.empty((len(first), n), dtype=np.int8)
        labels[:, 0], labels[:, -1], labels[:, 1:-1] = _INPUT_LABEL, _OUTPUT_LABEL, labelings[labeling]
        hashes = _wl_hashes(adjacency, labels)
        new = np.zeros(len(hashes), dtype=bool)
        for index, digest in enumerate(hashes.tolist()):
            if digest not in seen:
                seen.add(digest)
                new[index] = True
        yield _Batch(adjacency[new], labels[new], hashes[new])


def _full_dags(n: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """``generate_graphs.py``'s kept matrices of ``n`` vertices, in its ``bits`` order.

    Returns the edge of each bit (edge ``(x, y)`` is bit ``x + y(y-1)/2``) and a (matrices, bits)
    0/1 array. Kept: every vertex but the output has an out-edge, every vertex but the input an
    in-edge (``is_full_dag``), and at most 9 edges.
    """
    pairs = [(x, y) for y in range(1, n) for x in range(y)]
    bits = np.arange(2 ** len(pairs), dtype=np.int64)
    keep = sum((bits >> bit) & 1 for bit in range(len(pairs))) <= MAX_EDGES
    for vertex in range(n):
        out_mask = sum(1 << bit for bit, (x, _) in enumerate(pairs) if x == vertex)
        in_mask = sum(1 << bit for bit, (_, y) in enumerate(pairs) if y == vertex)
        if vertex < n - 1:
            keep &= (bits & out_mask) != 0
        if vertex > 0:
            keep &= (bits & in_mask) != 0
    kept = bits[keep]
    return pairs, ((kept[:, None] >> np.arange(len(pairs))) & 1).astype(np.uint8)


def _isomorphism_keys(n: int, pairs: list[tuple[int, int]], edges: np.ndarray, labelings: np.ndarray) -> np.ndarray:
    """(matrices, labelings) int64 keys, equal exactly when the labeled graphs are isomorphic.

    The key is the smallest (adjacency code, labeling code) over every relabeling of the inner
    vertices (input and output are fixed by their labels): a canonical form.
    """
    perms = np.array([(0, *perm, n - 1) for perm in itertools.permutations(range(1, n - 1))], dtype=np.int64)
    senders, receivers = np.array(pairs, dtype=np.int64).reshape(len(pairs), 2).T
    weights = np.left_shift(1, perms[:, senders] * n + perms[:, receivers]).T  # (bits, perms), code < 2**49
    adjacency_codes = edges.astype(np.int64) @ weights
    digits = len(OPS) ** np.arange(n - 3, -1, -1, dtype=np.int64)
    moved = np.empty((len(perms), *labelings.shape), dtype=np.int64)
    for index, perm in enumerate(perms):
        moved[index][:, perm[1:-1] - 1] = labelings
    labeling_codes = moved @ digits  # (perms, labelings), code < 3**5
    keys = np.empty((len(edges), len(labelings)), dtype=np.int64)
    for start in range(0, len(edges), _CHUNK):
        codes = adjacency_codes[start : start + _CHUNK, :, None] * len(labelings) + labeling_codes
        keys[start : start + _CHUNK] = codes.min(axis=1)
    return keys


def _wl_hashes(adjacency: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """:func:`tgnas_jax.graph.wl_hash` of many same-size graphs at once, bit-identical, as S32.

    Hex digests are sorted as ``S32`` arrays and fingerprints built as byte rows, so Python only
    runs the MD5 calls themselves.
    """
    count, n = labels.shape
    out_degree, in_degree = adjacency.sum(axis=2), adjacency.sum(axis=1)
    # (out, in, label) packed as one integer: degrees are below 8, labels in -2..2.
    packed = ((out_degree.astype(np.int64) * 8 + in_degree) * 8 + labels + 2).ravel()
    distinct, inverse = np.unique(packed, return_inverse=True)
    triples = zip(distinct // 64, distinct // 8 % 8, distinct % 8 - 2, strict=True)
    initial = np.array([hashlib.md5(str(tuple(map(int, t))).encode()).hexdigest() for t in triples], dtype="S32")
    hashes = initial[inverse].reshape(count, n)
    groups = _degree_groups(adjacency)
    for _ in range(n):
        new = np.empty_like(hashes)
        for graph, vertex, senders, receivers in groups:
            parts = (
                np.sort(hashes[graph[:, None], senders], axis=1),
                _BAR,
                np.sort(hashes[graph[:, None], receivers], axis=1),
                _BAR,
                hashes[graph, vertex][:, None],
            )
            new[graph, vertex] = _md5_rows(_concat_bytes(parts, len(graph)))
        hashes = new
    hashes = np.sort(hashes, axis=1)
    parts = [_OPEN, *itertools.chain.from_iterable((hashes[:, [v]], _COMMA) for v in range(n))]
    parts[-1] = _CLOSE
    return _md5_rows(_concat_bytes(parts, count))


#: Separators of the fingerprint strings, as ``S`` scalars broadcast over rows.
_BAR = np.array([[b"|"]])
_OPEN, _COMMA, _CLOSE = np.array([[b"['"]]), np.array([[b"', '"]]), np.array([[b"']"]])


def _degree_groups(adjacency: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """(graph, vertex, in-neighbours, out-neighbours) index arrays, one group per (in, out) degree pair."""
    count, n, _ = adjacency.shape
    graph, vertex = np.divmod(np.arange(count * n), n)
    incoming = adjacency.transpose(0, 2, 1).reshape(count * n, n).astype(bool)
    outgoing = adjacency.reshape(count * n, n).astype(bool)
    in_degree, out_degree = incoming.sum(axis=1), outgoing.sum(axis=1)
    groups = []
    for a, b in sorted(set(zip(in_degree.tolist(), out_degree.tolist(), strict=True))):
        rows = np.flatnonzero((in_degree == a) & (out_degree == b))
        senders = np.nonzero(incoming[rows])[1].reshape(len(rows), a)
        receivers = np.nonzero(outgoing[rows])[1].reshape(len(rows), b)
        groups.append((graph[rows], vertex[rows], senders, receivers))
    return groups


def _concat_bytes(parts: Sequence[np.ndarray], rows: int) -> np.ndarray:
    """Row-wise byte concatenation of ``S`` arrays (each (rows or 1, k)) into a (rows, width) uint8 array."""
    pieces = []
    for part in parts:
        part = np.ascontiguousarray(np.broadcast_to(part, (rows, part.shape[1])))
        pieces.append(part.view(np.uint8).reshape(rows, part.shape[1] * part.dtype.itemsize))
    return np.concatenate(pieces, axis=1)


def _md5_rows(rows: np.ndarray) -> np.ndarray:
    """The hex MD5 of each byte row, as an S32 array; ``digest`` plus a numpy hex table beats ``hexdigest``."""
    width = rows.shape[1]
    buffer = rows.tobytes()
    md5 = hashlib.md5
    digests = np.frombuffer(
        b"".join([md5(buffer[i : i + width]).digest() for i in range(0, len(buffer), width)]), np.uint8
    )
    hexes = np.empty((len(rows), 32), dtype=np.uint8)
    hexes[:, 0::2] = _HEX_DIGITS[digests.reshape(-1, 16) >> 4]
    hexes[:, 1::2] = _HEX_DIGITS[digests.reshape(-1, 16) & 15]
    return hexes.view("S32").ravel()


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
