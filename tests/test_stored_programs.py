"""Lowered programs kept between processes (``compilation.stored_jit``): the same results as tracing,
read back only under their exact key, a damaged file reported and replaced, never used; searches
go through them unless the program holds code of the caller's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tgnas_jax import compilation
from tgnas_jax.cachefiles import CacheWarning, framed
from tgnas_jax.search import api, search
from tgnas_jax.spaces import NB201Space


@pytest.fixture
def programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(compilation.ENV, raising=False)
    return tmp_path / "programs"


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per program traced and exported (not read) from here on."""
    calls: list[int] = []
    export = jax.export.export

    def counted(fn, *args, **kwargs):
        calls.append(1)
        return export(fn, *args, **kwargs)

    monkeypatch.setattr(jax.export, "export", counted)
    return calls


def affine(w: jax.Array, x: jax.Array, scale: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    y = jnp.tanh(x @ w) * (1 if scale is None else scale)
    return y, y.sum()


ARGS = (np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), np.ones((5, 3), np.float32))


def _same(got: tuple, want: tuple) -> None:
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_a_stored_program_computes_what_tracing_does_and_is_read_back(programs, exports):
    want = jax.jit(affine)(*ARGS)
    _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), want)
    assert len(exports) == 1 and len(list(programs.iterdir())) == 1
    _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), want)
    assert len(exports) == 1


@pytest.mark.parametrize(
    "args, key",
    [
        ((ARGS[0], np.ones((6, 3), np.float32)), "affine"),
        ((ARGS[0], np.ones((5, 3), np.float16)), "affine"),
        ((*ARGS, np.float32(2)), "affine"),
        (ARGS, "affine, other settings"),
    ],
    ids=["shape", "dtype", "structure", "key"],
)
def test_anything_the_trace_reads_changes_the_key(programs, exports, args, key):
    compilation.stored_jit(affine, ARGS, "affine")
    compilation.stored_jit(affine, args, key)
    assert len(exports) == 2 and len(list(programs.iterdir())) == 2


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


def _rekey(data: bytes) -> bytes:
    head, key, rest = data.split(b"\n", 2)
    return b"\n".join([head, b"0" * len(key), rest])


def _forged(data: bytes) -> bytes:
    """A payload that is no program, with a checksum that matches it."""
    import hashlib

    head, key, _, _ = data.split(b"\n", 3)
    return b"\n".join([head, key, hashlib.sha256(b"junk").hexdigest().encode(), b"junk"])


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda data: data[: len(data) // 2], "checksum"),
        (_flip_last, "checksum"),
        (lambda data: b"", "file of this key"),
        (_rekey, "file of this key"),
        (_forged, "cannot be read"),
    ],
    ids=["truncated", "flipped", "empty", "other key", "forged"],
)
def test_a_damaged_file_is_reported_and_replaced(programs, exports, damage: Callable[[bytes], bytes], says):
    want = jax.jit(affine)(*ARGS)
    compilation.stored_jit(affine, ARGS, "affine")
    (path,) = programs.iterdir()
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(CacheWarning, match=says):
        _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), want)
    _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), want)  # replaced whole: read silently
    assert len(exports) == 2


def test_a_stored_program_that_does_not_fit_its_call_is_replaced(programs, exports):
    """A file whose key and checksum are right but whose program takes other arguments (as one made
    for another device count would): found when it is read, not when it is first called."""
    compilation.stored_jit(affine, ARGS, "affine")
    (path,) = programs.iterdir()
    name = path.read_bytes().split(b"\n")[1].decode()
    other = jax.export.export(jax.jit(affine))(ARGS[0], np.ones((2, 3), np.float32)).serialize()
    path.write_bytes(framed(compilation.PROGRAM_FORMAT, name, other))
    with pytest.warns(CacheWarning, match="does not fit this process"):
        program = compilation.stored_jit(affine, ARGS, "affine")
    _same(program(*ARGS), jax.jit(affine)(*ARGS))
    assert len(exports) == 3
    _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), jax.jit(affine)(*ARGS))  # replaced
    assert len(exports) == 3


def test_turning_the_compilation_cache_off_stores_nothing(programs, exports, monkeypatch):
    monkeypatch.setenv(compilation.ENV, "off")
    _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), jax.jit(affine)(*ARGS))
    assert not exports and not programs.exists()


def test_an_unwritable_cache_costs_only_the_trace(tmp_path, monkeypatch, exports):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("TGNAS_CACHE_DIR", str(blocker))
    with pytest.warns(CacheWarning, match="cannot write lowered programs under"):
        _same(compilation.stored_jit(affine, ARGS, "affine")(*ARGS), jax.jit(affine)(*ARGS))


def test_a_program_that_does_not_trace_raises_its_own_error(programs):
    with pytest.raises(ValueError, match="matmul input operand"):
        compilation.stored_jit(affine, (ARGS[0], np.float32(1)), "affine")


def test_a_program_export_cannot_serialise_is_traced_as_before(programs):
    class Pair:
        """A pytree jax.export has no serialisation for."""

        def __init__(self, a, b):
            self.a, self.b = a, b

    jax.tree_util.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    with pytest.warns(CacheWarning, match="traced in every process"):
        program = compilation.stored_jit(lambda w, x: Pair(*affine(w, x)), ARGS, "pair")
    np.testing.assert_array_equal(program(*ARGS).b, jax.jit(affine)(*ARGS)[1])
    assert not programs.exists()


@pytest.mark.parametrize("method", ["prune", "evolve"])
def test_a_search_from_stored_programs_finds_what_a_traced_one_does(programs, exports, make_tiny_predictor, method):
    predictor = make_tiny_predictor()
    small = {"population": 8, "generations": 3}
    api._programs.clear()
    first = search("nb201", predictor, method, jax.random.PRNGKey(1), **small)
    stored = len(exports)  # the search's program, and the size prior's scoring of its sample
    assert stored == 2
    api._programs.clear()  # as a fresh process would start
    again = search("nb201", predictor, method, jax.random.PRNGKey(1), **small)
    assert len(exports) == stored
    assert (again.arch_text, again.score, again.history) == (first.arch_text, first.score, first.history)
    with compilation_cache_off():
        api._programs.clear()
        traced = search("nb201", predictor, method, jax.random.PRNGKey(1), **small)
    assert (traced.arch_text, traced.score, traced.history) == (first.arch_text, first.score, first.history)


def test_scores_through_a_stored_program_match_traced_ones(programs, exports, make_tiny_predictor):
    space = NB201Space()
    cells = [space.format(arch) for arch in space.samples(40, seed=3)]
    first = make_tiny_predictor().score(cells, space)
    stored = len(exports)
    assert stored >= 1
    again = make_tiny_predictor().score(cells, space)  # a new predictor builds its scoring anew: read
    assert len(exports) == stored
    with compilation_cache_off():
        traced = make_tiny_predictor().score(cells, space)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(traced, first)


def test_raw_and_typed_random_keys_each_get_their_program(programs, make_tiny_predictor):
    predictor = make_tiny_predictor()
    api._programs.clear()
    raw = search("nb201", predictor, "evolve", jax.random.PRNGKey(1), population=8, generations=2)
    typed = search("nb201", predictor, "evolve", jax.random.key(1), population=8, generations=2)
    assert raw.arch_text == typed.arch_text and raw.score == typed.score


@pytest.mark.parametrize(
    "space, sizes",
    [
        (NB201Space(encoding="residual"), {"population": 8, "generations": 3}),
        (NB201Space(), {"population": 12, "generations": 3}),
        (NB201Space(), {"population": 8, "generations": 4}),
    ],
    ids=["space settings", "population", "generations"],
)
def test_what_a_search_is_built_with_changes_its_stored_program(programs, exports, make_tiny_predictor, space, sizes):
    predictor = make_tiny_predictor(cost_weight=0.0)  # no size prior: the search's program only
    api._programs.clear()
    search(NB201Space(), predictor, "evolve", population=8, generations=3)
    search(space, predictor, "evolve", **sizes)
    assert len(exports) == 2 and len(list(programs.iterdir())) == 2


def test_raw_graphs_are_scored_through_stored_programs_one_per_shape(programs, exports, make_tiny_predictor):
    space = NB201Space()
    small = [space.to_graphs(arch)[0] for arch in space.samples(3, seed=1)]
    large = [space.to_graphs(arch)[0] for arch in space.samples(40, seed=2)]
    first = [make_tiny_predictor().score_graphs(graphs) for graphs in (small, large)]
    stored = len(exports)
    assert stored == len(list(programs.iterdir())) == 2  # two bucketed batch shapes
    again = [make_tiny_predictor().score_graphs(graphs) for graphs in (small, large)]
    assert len(exports) == stored
    with compilation_cache_off():
        traced = [make_tiny_predictor().score_graphs(graphs) for graphs in (small, large)]
    for got, want, plain in zip(again, first, traced, strict=True):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(plain, want)


def test_a_space_of_the_callers_own_code_is_never_stored(programs, exports, make_tiny_predictor):
    class MyNB201(NB201Space):
        """A user's subclass: its code is outside what the key stamps."""

    api._programs.clear()
    search(MyNB201(), make_tiny_predictor(), "prune")
    assert not exports and not programs.exists() and not (programs.parent / "size_prior").exists()


class compilation_cache_off:
    """``$TGNAS_COMPILATION_CACHE=0`` within a block: programs are traced, not read."""

    def __enter__(self) -> None:
        self.patch = pytest.MonkeyPatch()
        self.patch.setenv(compilation.ENV, "0")

    def __exit__(self, *exc: object) -> None:
        self.patch.undo()
