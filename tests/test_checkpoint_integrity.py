"""Damaged checkpoints never load: every file deleted, truncated or flipped, every header field
mistyped, the operator vectors rewritten, each raises :class:`CheckpointError` and nothing else.

"Resigned" cases also rewrite the manifest to match the damage, as a careless tool or hand edit
would: then the header schema, the parameter-shape check and the probe cells have to catch it.
``benchmarks/checkpoint_damage.py`` counts the same cases.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tgnas_jax.predictor_files import DEFAULT_CHECKPOINT, FORMAT_VERSION, CheckpointError, load_predictor
from tgnas_jax.spaces import NB201Space

SHIPPED_FILES = [line.split("  ", 1)[1] for line in (DEFAULT_CHECKPOINT / "MANIFEST.sha256").read_text().splitlines()]
CELLS = [
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
]


@dataclass(frozen=True)
class Case:
    """One way to damage a checkpoint folder; ``mentions``: text the error must contain."""

    name: str
    damage: Callable[[Path], None]
    mentions: str = ""


def resign(path: Path) -> None:
    """Rewrite the manifest to match the files as they are now (hashed independently of save)."""
    files = [path / "predictor.json", path / "op_vectors.npz"]
    files += sorted(p for p in (path / "params").rglob("*") if p.is_file())
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(path).as_posix()}\n" for p in files]
    (path / "MANIFEST.sha256").write_text("".join(lines))


def _flip(name: str, where: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = bytearray((path / name).read_bytes())
        data[min(int(where * len(data)), len(data) - 1)] ^= 0xFF
        (path / name).write_bytes(bytes(data))

    return damage


def _truncate(name: str, keep: float) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: int(keep * len(data))])

    return damage


def _delete(name: str) -> Callable[[Path], None]:
    return lambda path: (path / name).unlink()


def _header(edit: Callable[[dict], object], resigned: bool) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        header = json.loads((path / "predictor.json").read_text())
        replaced = edit(header)
        (path / "predictor.json").write_text(json.dumps(header if replaced is None else replaced))
        if resigned:
            resign(path)

    return damage


def _set(section: str | None, key: str, value: object) -> Callable[[dict], None]:
    """Set ``header[section][key]`` (top level without a section); ``DROP`` removes the key."""

    def edit(header: dict) -> None:
        target = header if section is None else header[section]
        if value is DROP:
            del target[key]
        else:
            target[key] = value

    return edit


class _Drop:
    """The marker of a removed key; its repr keeps test ids the same in every process (pytest-xdist)."""

    def __repr__(self) -> str:
        return "missing"


DROP = _Drop()


def _vectors(edit: Callable[[dict], None], resigned: bool) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with np.load(path / "op_vectors.npz") as z:
            arrays = {k: z[k] for k in z.files}
        edit(arrays)
        np.savez(path / "op_vectors.npz", **arrays)
        if resigned:
            resign(path)

    return damage


def _params(edit: Callable[[list], list]) -> Callable[[Path], None]:
    """Re-save ``params/`` with orbax itself (bypassing Predictor.save's checks), then resign."""

    def damage(path: Path) -> None:
        members = ocp.StandardCheckpointer().restore(path / "params")["members"]
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(path / "params", {"members": edit(jax.tree.map(np.array, members))}, force=True)
        checkpointer.wait_until_finished()
        resign(path)

    return damage


def _poke(layer: str, leaf: str, value: float) -> Callable[[list], list]:
    def edit(members: list) -> list:
        members[1][layer][leaf].flat[0] = value
        return members

    return edit


def _drop_layer(layer: str) -> Callable[[list], list]:
    def edit(members: list) -> list:
        for m in members:
            del m[layer]
        return members

    return edit


def _file_cases() -> list[Case]:
    cases = []
    for name in [*SHIPPED_FILES, "MANIFEST.sha256"]:
        shown = name if name != "predictor.json" else ""  # a broken header may fail on its format_version first
        cases.append(Case(f"delete {name}", _delete(name), name))
        cases += [Case(f"truncate {name} to {k:.0%}", _truncate(name, k), shown) for k in (0.0, 0.5, 0.99)]
        cases += [Case(f"flip {name} at {w:.0%}", _flip(name, w), shown) for w in (0.0, 0.2, 0.45, 0.7, 1.0)]
    return cases


#: Header edits that stay well-formed, so only the manifest catches them (resigned, they are a new model).
VALID_EDITS = [
    ("model", "layers", 3),
    ("model", "direction", "both"),
    ("model", "dropout", 0.5),
    ("embedding", "length", "long"),
    ("embedding", "normalize", True),
    (None, "cost_weight", 0.0),
    (None, "cost_weight", 2.0),
    (None, "conv_weight", 1.0),
    (None, "metadata", {}),
]
#: Header edits that are wrong in themselves: each must also fail resigned.
_SHIPPED_HEADER = json.loads((DEFAULT_CHECKPOINT / "predictor.json").read_text())
BAD_EDITS = [
    *[("model", "hidden", v) for v in (32, 0, -1, "64", 64.0, True, None, DROP)],
    *[("model", "layers", v) for v in (5, 0, "4", 4.5, False, DROP)],
    *[("model", "direction", v) for v in ("backward", 1, None)],
    *[("model", "readout", v) for v in ("global", "max", DROP)],
    *[("model", "norm", v) for v in ("layer", "none", "batch", True)],
    *[("model", "dropout", v) for v in (1.0, -0.1, math.nan, math.inf, "0")],
    ("model", "width", 64),
    *[("embedding", "length", v) for v in ("huge", 1, None)],
    *[("embedding", "dim", v) for v in (64, 0, "384", 384.0, DROP)],
    *[("embedding", "normalize", v) for v in ("false", 0, None)],
    *[("embedding", "features", v) for v in ("onehot", "bert")],
    # The other setting of the shipped header's: vectors of the wrong width.
    *[("embedding", "attributes", v) for v in (not _SHIPPED_HEADER["embedding"]["attributes"], "false", 0, None, DROP)],
    ("embedding", "pca", True),
    *[(None, "num_members", v) for v in ("4", 3, 5, 0, 4.0, True, DROP)],
    *[(None, "cost_weight", v) for v in (math.nan, math.inf, -1.0, "1", None, True, DROP)],
    *[(None, "conv_weight", v) for v in (math.nan, -0.5, "0.5", None, False, DROP)],
    *[(None, "model", v) for v in ([], "gcn", DROP)],
    *[(None, "embedding", v) for v in (None, DROP)],
    *[(None, "metadata", v) for v in ([], None, DROP)],
    (None, "format", 2),
]


def _header_cases() -> list[Case]:
    cases = [Case(f"header {s or ''}.{k}={v!r}", _header(_set(s, k, v), False)) for s, k, v in VALID_EDITS + BAD_EDITS]
    cases += [Case(f"resigned header {s or ''}.{k}={v!r}", _header(_set(s, k, v), True)) for s, k, v in BAD_EDITS]
    cases += [
        Case(f"resigned header is {what}", _header(lambda h, r=replaced: r, True), "predictor.json")
        for what, replaced in (("a list", []), ("a string", "x"))
    ]
    return cases


def _rename(old: str, new: str) -> Callable[[dict], None]:
    def edit(arrays: dict) -> None:
        arrays["names"] = np.array([new if n == old else n for n in arrays["names"].tolist()])

    return edit


def _assign(key: str, make: Callable[[dict], np.ndarray]) -> Callable[[dict], None]:
    def edit(arrays: dict) -> None:
        arrays[key] = make(arrays)

    return edit


def _nan_vector(a: dict) -> np.ndarray:
    vectors = a["vectors"].copy()
    vectors[2, 7] = np.nan
    return vectors


#: Operator-vector rewrites that stay well-formed (only the manifest catches them).
VALID_VECTORS = [
    ("vectors scaled by 1.01", _assign("vectors", lambda a: a["vectors"] * np.float32(1.01))),
    ("an operator renamed", _rename("maxpool3x3", "maxpool5x5")),
    ("vectors reordered", _assign("vectors", lambda a: a["vectors"][::-1].copy())),
]
#: Rewrites that are wrong in themselves.
BAD_VECTORS = [
    ("a NaN vector entry", _assign("vectors", _nan_vector)),
    ("an infinite vector", _assign("vectors", lambda a: np.full_like(a["vectors"], np.inf))),
    ("vectors 383 wide", _assign("vectors", lambda a: a["vectors"][:, :383].copy())),
    ("vectors in float64", _assign("vectors", lambda a: a["vectors"].astype(np.float64))),
    ("one vector fewer", _assign("vectors", lambda a: a["vectors"][:-1].copy())),
    ("a duplicated name", _rename("maxpool3x3", "conv1x1-bn-relu")),
    ("no output operator", _rename("output", "sink")),
    ("an empty name", _rename("input", "")),
    ("integer names", _assign("names", lambda a: np.arange(len(a["names"])))),
    ("names in 2-d", _assign("names", lambda a: a["names"][None])),
    ("an extra array", _assign("extra", lambda a: np.zeros(3))),
    ("half a projection", _assign("pca_mean", lambda a: np.zeros(384, np.float32))),
    ("no vectors", lambda a: a.pop("vectors")),
]


def _vector_cases() -> list[Case]:
    cases = [Case(f"op_vectors {n}", _vectors(e, False), "op_vectors.npz") for n, e in VALID_VECTORS + BAD_VECTORS]
    cases += [Case(f"resigned op_vectors {n}", _vectors(e, True)) for n, e in BAD_VECTORS]
    return cases


def _params_cases() -> list[Case]:
    return [
        Case("resigned params with a NaN weight", _params(_poke("gcn_2", "kernel", np.nan)), "not finite"),
        Case("resigned params with an infinite bias", _params(_poke("head_out", "bias", np.inf)), "not finite"),
        Case("resigned params with a 1e36 weight", _params(_poke("head_out", "bias", 1e36)), "probe"),
        Case("resigned params without gcn_3", _params(_drop_layer("gcn_3")), "gcn_3"),
        Case("resigned params with 3 members", _params(lambda m: m[:3]), "holds 3 members"),
        Case("resigned params with member 2 widened", _params(_widen), "head_hidden"),
    ]


def _widen(members: list) -> list:
    members[2]["head_hidden"]["bias"] = np.zeros(65, np.float32)
    return members


def _manifest_edit(edit: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        lines = (path / "MANIFEST.sha256").read_text().splitlines()
        (path / "MANIFEST.sha256").write_text("".join(f"{line}\n" for line in edit(lines)))

    return damage


def _manifest_cases() -> list[Case]:
    digest = "0" * 64
    return [
        Case("manifest without its params lines", _manifest_edit(lambda ls: ls[:2]), "params/"),
        Case("manifest without op_vectors", _manifest_edit(lambda ls: [ls[0], *ls[2:]]), "op_vectors.npz"),
        Case("manifest with a line twice", _manifest_edit(lambda ls: [*ls, ls[3]]), "twice"),
        Case("manifest with a path outside", _manifest_edit(lambda ls: [*ls, f"{digest}  ../x"]), "line"),
        Case("manifest naming itself", _manifest_edit(lambda ls: [*ls, f"{digest}  MANIFEST.sha256"]), "line"),
        Case("manifest with a missing file", _manifest_edit(lambda ls: [*ls, f"{digest}  params/ghost"]), "ghost"),
        Case("manifest with sha1 sums", _manifest_edit(lambda ls: [ln[24:] for ln in ls]), "line 1"),
        Case("manifest in binary mode", _manifest_edit(lambda ls: [ln.replace("  ", " *") for ln in ls]), "line 1"),
        Case("manifest empty", _manifest_edit(lambda ls: []), "does not list"),
        Case("an unlisted file under params/", lambda p: (p / "params" / "d" / "stray").write_bytes(b"x"), "stray"),
        Case("params/ deleted", lambda p: shutil.rmtree(p / "params"), "params/"),
        Case("an empty folder", lambda p: [shutil.rmtree(p), p.mkdir()] and None, "predictor.json is missing"),
    ]


def damage_cases() -> list[Case]:
    """Every damage case, in a fixed order."""
    return _file_cases() + _header_cases() + _vector_cases() + _params_cases() + _manifest_cases()


def outcome(path: Path) -> tuple[str, str]:
    """``("refused" | "loaded" | "crashed", message)`` of loading ``path``."""
    try:
        load_predictor(path)
    except CheckpointError as err:
        return "refused", str(err)
    except Exception as err:  # the point: anything but CheckpointError is a bug
        return "crashed", f"{type(err).__name__}: {err}"
    return "loaded", ""


def damaged_copy(source: Path, folder: Path, case: Case) -> Path:
    copy = folder / "ckpt"
    shutil.copytree(source, copy)
    case.damage(copy)
    return copy


CASES = damage_cases()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real copy of the shipped checkpoint, model card included."""
    copy = tmp_path_factory.mktemp("shipped") / "tgnas-nb101"
    shutil.copytree(DEFAULT_CHECKPOINT, copy)
    return copy


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_damaged_copy_raises_checkpoint_error(case: Case, shipped: Path, tmp_path: Path) -> None:
    result, message = outcome(damaged_copy(shipped, tmp_path, case))
    assert result == "refused", f"{case.name}: {result} {message}"
    assert case.mentions in message


def test_undamaged_copy_loads_and_scores_identically(shipped: Path) -> None:
    """Files save does not write (a model card, notes) are not covered: removing or adding them is fine."""
    (shipped / "MODEL_CARD.md").unlink()
    (shipped / "notes.txt").write_text("kept beside the checkpoint\n")
    space = NB201Space()
    np.testing.assert_array_equal(load_predictor(shipped).score(CELLS, space), load_predictor().score(CELLS, space))


@pytest.mark.parametrize(
    ("added", "section", "key", "meant"), [(3, "embedding", "attributes", False), (4, None, "conv_weight", 0.0)]
)
def test_a_header_older_than_a_field_means_its_old_value(
    make_tiny_predictor: Callable, tmp_path: Path, added: int, section: str | None, key: str, meant: object
) -> None:
    """A format that added a field reads the format before without it, as it meant; its own format must say."""
    saved = tmp_path / "saved"
    make_tiny_predictor().save(saved)
    header = json.loads((saved / "predictor.json").read_text())
    target = header if section is None else header[section]
    assert header["format_version"] == FORMAT_VERSION and target[key] == meant
    del target[key]
    original = load_predictor(saved)
    for version, loads in ((added - 1, True), (added, False)):
        copy = tmp_path / f"v{version}"
        shutil.copytree(saved, copy)
        (copy / "predictor.json").write_text(json.dumps({**header, "format_version": version}))
        resign(copy)
        if loads:
            loaded = load_predictor(copy)
            assert (loaded.embedding, loaded.conv_weight) == (original.embedding, original.conv_weight)
        else:
            with pytest.raises(CheckpointError, match=f"lacks {key}"):
                load_predictor(copy)


def test_the_cases_cover_every_file_and_header_field() -> None:
    """A file or field added to the format without a damage case fails here."""
    names = {c.name for c in CASES}
    assert all(f"flip {f} at 45%" in names for f in SHIPPED_FILES)
    assert any(f.startswith("params/ocdbt.process_0/d/") for f in SHIPPED_FILES)
    header = _SHIPPED_HEADER
    edited = {(s, k) for s, k, _ in BAD_EDITS}
    fields = {(None, k) for k in header if k != "format_version"} | {
        (s, k) for s in ("model", "embedding") for k in header[s]
    }
    assert fields <= edited


def test_save_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    predictor = load_predictor()
    predictor.cost_weight = math.nan
    with pytest.raises(CheckpointError, match="cost_weight is nan; it must be a finite number"):
        predictor.save(tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def test_a_cell_no_data_crosses_scores_minus_inf_in_the_paper_encoding(make_tiny_predictor: Callable) -> None:
    """The all-``none`` cell and the 340 others like it score -inf, as in the pruned encoding."""
    predictor = make_tiny_predictor()
    paper, pruned = NB201Space(encoding="paper"), NB201Space()
    archs = list(paper.enumerate())
    scores = predictor.score(archs, paper)
    dead = ~np.isfinite(scores)
    assert dead.sum() == 341 and (scores[dead] == -np.inf).all()
    np.testing.assert_array_equal(dead, ~np.isfinite(predictor.score(archs, pruned)))
    assert predictor.score([("none",) * 6], paper)[0] == -np.inf
