"""Scoring inputs of any length in bounded memory: chunks in, scores out.

``score_stream(predictor, archs, space)`` reads ``archs`` (any iterable: a generator, a file's
lines) ``chunk_size`` at a time and yields one score array per chunk, in order. A background
thread reads and parses chunk ``k + 1`` while chunk ``k`` is scored (XLA releases the GIL while
it runs), so host-side conversion overlaps device work. Scores do not depend on the chunking:
the size prior is standardised on a fixed sample of the space (``Predictor.cost_blend``).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

from tgnas_jax.predictor import Predictor
from tgnas_jax.spaces import SearchSpace, get_space
from tgnas_jax.spaces.base import read_archs

T = TypeVar("T")
U = TypeVar("U")
#: Architectures per chunk: large enough to fill the device's batches, small enough to bound memory.
DEFAULT_CHUNK = 8192


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` consecutive items (the last may be shorter); ``itertools.batched`` before 3.12."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"chunk size must be an integer >= 1, got {size!r}")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def prefetched(items: Iterable[T], convert: Callable[[T], U]) -> Iterator[U]:
    """``convert(item)`` of each item, computed one item ahead in a background thread.

    An exception raised while reading or converting is re-raised here, at the item it belongs to;
    a consumer that stops early stops the thread too.
    """
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def offer(entry: tuple[bool, Any]) -> bool:
        """Hand ``entry`` to the consumer; ``False`` once it has stopped listening."""
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, convert(item))):
                    return
            offer((True, done))
        except BaseException as err:  # handed to the consumer, which raises it
            offer((False, err))

    thread = threading.Thread(target=produce, name="tgnas-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = slots.get()
            if not ok:
                raise value
            if value is done:
                return
            yield value
    finally:
        stop.set()
        thread.join()


def score_stream(
    predictor: Predictor,
    archs: Iterable[Any],
    space: SearchSpace[Any] | str,
    chunk_size: int = DEFAULT_CHUNK,
) -> Iterator[np.ndarray]:
    """One float32 array of scores per ``chunk_size`` architectures of ``archs``, in order.

    Each score equals ``predictor.score(arch, space)``. Strings are parsed in the background
    thread; a bad one raises :class:`tgnas_jax.spaces.SpaceError` when its chunk comes up.
    """
    space = get_space(space) if isinstance(space, str) else space

    for parsed in prefetched(chunked(archs, chunk_size), lambda chunk: read_archs(space, chunk)):
        yield np.asarray(predictor.score(parsed, space), np.float32)
