"""Spreading score batches over every local device: data parallelism with ``jax.sharding``.

One :class:`~jax.sharding.Mesh` over the process's local devices, one ``"batch"`` axis: a scoring
function runs under ``jax.shard_map`` on each device's share of the batch, the weights it closes
over replicated. A cell's score depends on that cell alone, so splitting changes no result beyond
float rounding. With one device nothing is split: the function runs as it is.

Local devices, not ``jax.devices()``: under ``jax.distributed`` each process scores records of its
own (``python -m tgnas_jax.score --num-processes``), so no program has to run on all hosts in lockstep.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"
#: Graph nodes a device scores at a time: a packed batch per call, and the chunk a dense batch is
#: looped over (:func:`in_chunks`). On CPU the ensemble's activations (nodes x hidden x members
#: floats, 2 MiB here) then stay in cache. Elsewhere: an untested guess that a GPU or TPU wants
#: about a million nodes to fill.
NODES_PER_CALL = {"cpu": 2048}
ACCELERATOR_NODES_PER_CALL = 1 << 20
#: Such chunks per call of a space's encoded scoring (:mod:`tgnas_jax.search.batch`), 1 where not
#: listed: on CPU a call has a fixed cost of about 2 ms, and DARTS genotypes score 1.7x faster in
#: calls of 4 chunks than of one (``benchmarks/results/chunk_size.md``); a call of a few architectures
#: pays for all 4 (one NB201 cell: about 12 ms rather than 4).
CHUNKS_PER_CALL = {"cpu": 4}


@functools.cache
def local_mesh() -> Mesh:
    """The mesh of this process's devices along :data:`AXIS` (fixed once jax has started)."""
    return Mesh(np.array(jax.local_devices()), (AXIS,))


def device_count() -> int:
    """How many devices a batch is spread over."""
    return local_mesh().size


def round_up(size: int) -> int:
    """The least multiple of the device count that is ``>= size``: a batch size every device gets a share of."""
    devices = device_count()
    return -(-size // devices) * devices


def rows_per_device(nodes_per_row: int) -> int:
    """Rows of ``nodes_per_row`` graph nodes a device scores at a time: the power of two nearest its
    node budget (on a log scale)."""
    budget = NODES_PER_CALL.get(jax.local_devices()[0].platform, ACCELERATOR_NODES_PER_CALL)
    return 1 << max(round(math.log2(budget / max(nodes_per_row, 1))), 0)


def chunks_per_call() -> int:
    """:data:`CHUNKS_PER_CALL` of this process's devices."""
    return CHUNKS_PER_CALL.get(jax.local_devices()[0].platform, 1)


def rows_per_call(nodes_per_row: int) -> int:
    """Rows of ``nodes_per_row`` graph nodes per scoring call: :func:`rows_per_device` for every device."""
    return rows_per_device(nodes_per_row) * device_count()


def replicate(tree: Any) -> Any:
    """``tree`` copied onto every local device (weights loaded onto one device would not mix with a spread batch)."""
    mesh = local_mesh()
    return tree if mesh.size == 1 else jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def in_chunks(fn: Callable[..., jax.Array], rows: int, *batch: Any) -> jax.Array:
    """``fn(*batch)`` computed ``rows`` rows at a time (a ``lax.map`` over chunks, the last zero-padded),
    so only one chunk's activations are live: on CPU they then stay in cache."""
    total = jax.tree.leaves(batch)[0].shape[0]
    if total <= rows:
        return fn(*batch)
    count = -(-total // rows)
    pad = count * rows - total
    chunks = jax.tree.map(
        lambda x: jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(count, rows, *x.shape[1:]), batch
    )
    out = jax.lax.map(lambda chunk: fn(*chunk), chunks)
    return out.reshape(count * rows, *out.shape[2:])[:total]


def over_devices(fn: Callable[..., jax.Array], *batch: Any, nodes_per_row: int | None = None) -> jax.Array:
    """``fn(*batch)``, each device computing the rows of its share of the leading axis; call it under jit.

    ``batch`` (arrays or pytrees of them, one leading length) is zero-padded to a multiple of the
    device count and the padding's rows are dropped from the result, so ``fn`` must treat rows
    independently and give padding rows a harmless value. Values ``fn`` closes over are replicated.
    With ``nodes_per_row``, each device goes through its share :func:`rows_per_device` rows at a time
    (:func:`in_chunks`): a batch of any size runs as fast per row as one of the device's best size.
    """
    if nodes_per_row is not None:
        fn = functools.partial(in_chunks, fn, rows_per_device(nodes_per_row))
    mesh = local_mesh()
    if mesh.size == 1:
        return fn(*batch)
    rows = jax.tree.leaves(batch)[0].shape[0]
    pad = round_up(rows) - rows
    if pad:
        batch = jax.tree.map(lambda x: jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)), batch)
    out = jax.shard_map(fn, mesh=mesh, in_specs=PartitionSpec(AXIS), out_specs=PartitionSpec(AXIS))(*batch)
    return out[:rows] if pad else out


def split(items: Sequence[Any]) -> list[Sequence[Any]]:
    """``items`` in :func:`device_count` consecutive runs of ``ceil(len / devices)``, the last shorter or empty."""
    share = max(round_up(len(items)) // device_count(), 1)
    return [items[start : start + share] for start in range(0, share * device_count(), share)]


def stack(trees: Sequence[Any]) -> Any:
    """One tree whose leaves gain a leading axis, one row per device (numpy, on the host)."""
    return jax.tree.map(lambda *xs: np.stack(xs), *trees)


def unstack(tree: Any) -> Any:
    """A device's own tree out of its one-row share of :func:`stack`'s result."""
    return jax.tree.map(lambda x: x[0], tree)
