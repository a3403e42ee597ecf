"""Benchmark tables: parsing, the parse-once cache, and an error that names the fault for each kind of bad file.

Small synthetic files in ``tmp_path`` mimic the shared data's layout; the real tables are only read
(and skipped when absent) through the ``data_dir`` fixture.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from tgnas_jax import data
from tgnas_jax.data import (
    CACHE_DIR_ENV,
    DATA_DIR_ENV,
    NB101_FILE,
    NB201_EXTRA_FILE,
    NB201_FILE,
    ZC_FILES,
    ZC_PROXIES,
    CacheWarning,
    DataError,
    load_nb101,
    load_nb201,
    load_zc_proxies,
)
from tgnas_jax.graph import ArchGraph

OP_NAMES = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
ARCH_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ARCH_B = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# NASLib op-index tuples and their arch strings, as nb201/PROVENANCE.md maps them.
NET_A = "(4, 0, 3, 1, 4, 3)"
NET_A_STR = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|"
NET_B = "(2, 4, 0, 0, 3, 2)"
NET_B_STR = "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
NB201_HEADER = [
    "CIFAR10TestAccuracy200Epochs",
    "CIFAR100TestAccuracy200Epochs",
    "ImageNetTestAccuracy200Epochs",
    "ArchitectureString",
    "UniqueString",
]
EXTRA_HEADER = ["arch", "cellstr", "params", "score", "test_top1", "valid_top1", "valid_test_top1"]


#: Rows of the synthetic files below; the published counts hold only for the real tables.
SYNTHETIC_ROWS = {"nb101": 2, "nb201": 2, "nb301": 1, "zc-cifar10": 2, "zc-imagenet16": 2}


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache, so none reads another's (or the user's) files."""
    path = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(path))
    return path


@pytest.fixture(autouse=True)
def synthetic_rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row counts of the synthetic files, still enforced; tests of the real tables keep the published ones."""
    if "data_dir" not in request.fixturenames:
        monkeypatch.setattr(data, "EXPECTED_ROWS", dict(SYNTHETIC_ROWS))


def cache_files(cache: Path) -> list[Path]:
    """The table files of a cache (beside them: lock files and the ``sources/`` digests)."""
    return sorted(cache.glob("*.npz"))


# --------------------------------------------------------------------------- synthetic files


def write_nb101(root: Path, drop: str | None = None, test_acc: Sequence[float] = (0.92, 0.1)) -> Path:
    """Two cells: input -> conv3x3 -> output (with validation data) and input -> output (without)."""
    adjacency = np.zeros((2, 7, 7), np.uint8)
    adjacency[0, 0, 1] = adjacency[0, 1, 2] = adjacency[1, 0, 1] = 1
    ops = np.full((2, 7), -1, np.int8)
    ops[0, :3] = (0, 2, 4)
    ops[1, :2] = (0, 4)
    arrays = {
        "hash": np.array([b"0" * 32, b"f" * 32]),
        "adjacency": adjacency,
        "ops": ops,
        "op_names": np.array(OP_NAMES),
        "num_vertices": np.array([3, 2], np.int8),
        "test_acc_ep108_run0": np.array(test_acc),
        "flops": np.array([1e8, 4e7]),
        "val_acc_ep108_run0": np.array([0.93, np.nan]),
        "trainable_parameters": np.array([1e6, np.nan]),
    }
    arrays.pop(drop or "", None)
    path = root / NB101_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def nb201_rows() -> list[list[object]]:
    return [[93.66, 70.29, 44.03, ARCH_A, "unique-a"], [10.0, 1.0, 0.83, ARCH_B, "unique-b"]]


def extra_rows() -> list[list[object]]:
    return [[0, ARCH_A, 0.802426, -279.3, 93.66, 90.7, 90.5], [1, ARCH_B, 0.073306, "", 10.0, 9.7, 10.0]]


def write_nb201(root: Path, rows: list[list[object]] | None = None, extra: list[list[object]] | None = None) -> None:
    write_csv(root / NB201_FILE, NB201_HEADER, nb201_rows() if rows is None else rows)
    write_csv(root / NB201_EXTRA_FILE, EXTRA_HEADER, extra_rows() if extra is None else extra)


def proxy_values(row: int) -> list[float]:
    return [row + j / 10 for j in range(len(ZC_PROXIES))]


def write_zc(root: Path, dataset: str = "cifar10", rows: list[list[object]] | None = None) -> Path:
    """The cifar10 file has ``net_str`` after ``net``; the ImageNet16-120 file has ``net`` alone."""
    if dataset == "cifar10":
        header = ["net", "net_str", *ZC_PROXIES]
        default = [[NET_A, NET_A_STR, *proxy_values(0)], [NET_B, NET_B_STR, *proxy_values(1)]]
    else:
        header = ["net", *ZC_PROXIES]
        default = [[NET_A, *proxy_values(0)], [NET_B, *proxy_values(1)]]
    return write_csv(root / ZC_FILES[dataset], header, default if rows is None else rows)


def drop_column(path: Path, column: str) -> None:
    with path.open(newline="") as handle:
        records = list(csv.reader(handle))
    where = records[0].index(column)
    write_csv(path, records[0][:where] + records[0][where + 1 :], [r[:where] + r[where + 1 :] for r in records[1:]])


def error_of(load: Callable[[], object]) -> str:
    with pytest.raises(DataError) as caught:
        load()
    return str(caught.value)


# --------------------------------------------------------------------------- NB101


def test_nb101_table(tmp_path: Path) -> None:
    write_nb101(tmp_path)
    table = load_nb101(tmp_path)
    assert len(table) == 2
    assert table.hashes.tolist() == ["0" * 32, "f" * 32]
    assert table.adjacency.dtype == np.uint8 and table.adjacency.shape == (2, 7, 7)
    assert table.ops.dtype == np.int8 and table.op_names == OP_NAMES
    assert table.op_strings(0) == ("input", "conv3x3-bn-relu", "output")
    assert table.op_strings(1) == ("input", "output")
    assert table.graph(0) == ArchGraph(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), table.op_strings(0))
    assert table.graph(1).num_edges == 1
    np.testing.assert_array_equal(table.test_accuracy, [0.92, 0.1])
    np.testing.assert_array_equal(table.flops, [1e8, 4e7])
    assert table.val_accuracy[0] == 0.93 and np.isnan(table.val_accuracy[1])
    assert table.params[0] == 1e6 and np.isnan(table.params[1])


def test_nb101_missing_array_is_named(tmp_path: Path) -> None:
    write_nb101(tmp_path, drop="trainable_parameters")
    message = error_of(lambda: load_nb101(tmp_path))
    assert "nb101_decoded.npz" in message and "'trainable_parameters'" in message


def test_nb101_unreadable_archive(tmp_path: Path) -> None:
    path = tmp_path / NB101_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert "nb101_decoded.npz: not a readable .npz archive" in error_of(lambda: load_nb101(tmp_path))


def test_nb101_ops_out_of_range(tmp_path: Path) -> None:
    path = write_nb101(tmp_path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["ops"][0, 1] = 5
    np.savez(path, **arrays)
    assert "'ops' holds indices outside -1..4" in error_of(lambda: load_nb101(tmp_path))


# --------------------------------------------------------------------------- NB201


def test_nb201_table(tmp_path: Path) -> None:
    write_nb201(tmp_path)
    table = load_nb201(tmp_path)
    assert len(table) == 2
    assert table.arch_strings.tolist() == [ARCH_A, ARCH_B]
    np.testing.assert_array_equal(table.cifar10, [93.66, 10.0])
    np.testing.assert_array_equal(table.cifar100, [70.29, 1.0])
    np.testing.assert_array_equal(table.imagenet16, [44.03, 0.83])
    np.testing.assert_array_equal(table.params_m, [0.802426, 0.073306])
    assert table.naswot[0] == -279.3 and np.isnan(table.naswot[1])  # pandas wrote the broken cell's NaN as ''
    assert table.unique_strings.tolist() == ["unique-a", "unique-b"]
    assert table.index_of(ARCH_B) == 1
    with pytest.raises(KeyError, match="not an arch string of the NB201 table"):
        table.index_of(NET_A_STR)


def test_nb201_files_must_agree_row_by_row(tmp_path: Path) -> None:
    extra = extra_rows()
    extra[1][1] = NET_B_STR
    write_nb201(tmp_path, extra=extra)
    message = error_of(lambda: load_nb201(tmp_path))
    assert message.startswith("row 1:") and ARCH_B in message and NET_B_STR in message
    assert "nats_bench.csv" in message and "arch_score_acc.csv" in message


def test_nb201_row_counts_must_agree(tmp_path: Path) -> None:
    write_nb201(tmp_path, extra=extra_rows()[:1])
    assert "arch_score_acc.csv has 1 rows but" in error_of(lambda: load_nb201(tmp_path))


def test_nb201_repeated_arch(tmp_path: Path) -> None:
    rows, extra = nb201_rows(), extra_rows()
    rows[1][3] = extra[1][1] = ARCH_A
    write_nb201(tmp_path, rows=rows, extra=extra)
    assert "row 1 repeats the arch string" in error_of(lambda: load_nb201(tmp_path))


@pytest.mark.parametrize(
    "bad",
    [
        "|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # unknown op
        "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",  # wrong source node
        "|none~0|+|none~0|none~1|+|none~0|none~1|",  # a node short
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2",  # no closing bar
        " |none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # stray space
        "",
    ],
)
def test_nb201_malformed_arch_is_named(tmp_path: Path, bad: str) -> None:
    rows, extra = nb201_rows(), extra_rows()
    rows[1][3] = extra[1][1] = bad
    write_nb201(tmp_path, rows=rows, extra=extra)
    message = error_of(lambda: load_nb201(tmp_path))
    assert "nats_bench.csv: row 1:" in message and repr(bad) in message


@pytest.mark.parametrize("value", ["n/a", "", "93.6%"])
def test_nb201_non_numeric_accuracy_is_named(tmp_path: Path, value: str) -> None:
    rows = nb201_rows()
    rows[0][1] = value
    write_nb201(tmp_path, rows=rows)
    message = error_of(lambda: load_nb201(tmp_path))
    assert f"nats_bench.csv: row 0, column 'CIFAR100TestAccuracy200Epochs': {value!r} is not a number" in message


def test_nb201_ragged_row(tmp_path: Path) -> None:
    rows = nb201_rows()
    rows[1] = rows[1][:4]
    write_nb201(tmp_path, rows=rows)
    assert "nats_bench.csv: row 1 has 4 fields but the header has 5" in error_of(lambda: load_nb201(tmp_path))


def test_nb201_empty_file(tmp_path: Path) -> None:
    write_nb201(tmp_path)
    (tmp_path / NB201_EXTRA_FILE).write_text("")
    assert "arch_score_acc.csv is empty" in error_of(lambda: load_nb201(tmp_path))


# --------------------------------------------------------------------------- zero-cost proxies


@pytest.mark.parametrize("dataset", ["cifar10", "imagenet16"])
def test_zc_table(tmp_path: Path, dataset: str) -> None:
    write_zc(tmp_path, dataset)
    table = load_zc_proxies(tmp_path, dataset)
    assert table.dataset == dataset and len(table) == 2
    assert table.arch_strings.tolist() == [NET_A_STR, NET_B_STR]  # NASLib tuples mapped as PROVENANCE.md says
    assert tuple(table.proxies) == ZC_PROXIES
    np.testing.assert_array_equal(table.proxies["nwot"], [0.7, 1.7])
    np.testing.assert_array_equal(table.proxies["zen"], [1.2, 2.2])


def test_zc_net_and_net_str_must_agree(tmp_path: Path) -> None:
    write_zc(tmp_path, rows=[[NET_A, NET_A_STR, *proxy_values(0)], [NET_B, NET_A_STR, *proxy_values(1)]])
    message = error_of(lambda: load_zc_proxies(tmp_path))
    assert "nb201_zc_proxies.csv: row 1: 'net' '(2, 4, 0, 0, 3, 2)'" in message and NET_A_STR in message


@pytest.mark.parametrize("net", ["(4, 0, 3, 1, 4)", "(4, 0, 3, 1, 4, 5)", "4, 0, 3, 1, 4, 3", "(4,0,3,1,4,3)"])
def test_zc_malformed_net_is_named(tmp_path: Path, net: str) -> None:
    write_zc(tmp_path, "imagenet16", rows=[[NET_A, *proxy_values(0)], [net, *proxy_values(1)]])
    message = error_of(lambda: load_zc_proxies(tmp_path, "imagenet16"))
    assert "nb201_ImageNet16-120_zc_proxies.csv: row 1, column 'net':" in message and repr(net) in message


def test_zc_non_numeric_proxy_is_named(tmp_path: Path) -> None:
    values = proxy_values(1)
    values[ZC_PROXIES.index("synflow")] = "inf?"
    write_zc(tmp_path, rows=[[NET_A, NET_A_STR, *proxy_values(0)], [NET_B, NET_B_STR, *values]])
    assert "row 1, column 'synflow': 'inf?' is not a number" in error_of(lambda: load_zc_proxies(tmp_path))


def test_zc_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_zc_proxies(tmp_path, "cifar100")


# --------------------------------------------------------------------------- files and columns


@pytest.mark.parametrize(
    ("file", "column"),
    [(NB201_FILE, "ImageNetTestAccuracy200Epochs"), (NB201_FILE, "UniqueString"), (NB201_EXTRA_FILE, "cellstr")]
    + [(NB201_EXTRA_FILE, "params"), (ZC_FILES["cifar10"], "net_str"), (ZC_FILES["cifar10"], "grasp")],
)
def test_missing_column_is_named(tmp_path: Path, file: Path, column: str) -> None:
    write_nb201(tmp_path)
    write_zc(tmp_path)
    drop_column(tmp_path / file, column)
    load = load_zc_proxies if file in ZC_FILES.values() else load_nb201
    message = error_of(lambda: load(tmp_path))
    assert message.startswith(f"{tmp_path / file}: missing column {column!r}")


def test_no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert error_of(load_nb101) == f"no data directory: pass --data-dir or set {DATA_DIR_ENV}"


def test_data_dir_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = tmp_path / "absent"
    assert "(from --data-dir) does not exist" in error_of(lambda: load_nb201(absent))
    monkeypatch.setenv(DATA_DIR_ENV, str(absent))
    assert f"(from {DATA_DIR_ENV}) does not exist" in error_of(load_nb201)


@pytest.mark.parametrize(
    ("load", "file"),
    [(load_nb101, NB101_FILE), (load_nb201, NB201_FILE), (load_zc_proxies, ZC_FILES["cifar10"])],
)
def test_missing_file_names_file_dir_and_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: Callable[..., object], file: Path
) -> None:
    assert error_of(lambda: load(tmp_path)) == (
        f"missing file {str(file)!r} in data directory {str(tmp_path)!r} (from --data-dir)"
    )
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert error_of(load).endswith(f"(from {DATA_DIR_ENV})")


def test_missing_second_nb201_file(tmp_path: Path) -> None:
    write_csv(tmp_path / NB201_FILE, NB201_HEADER, nb201_rows())
    assert f"missing file {str(NB201_EXTRA_FILE)!r}" in error_of(lambda: load_nb201(tmp_path))


# --------------------------------------------------------------------------- cache


LOADERS = {
    "nb101": (write_nb101, load_nb101, "_parse_nb101"),
    "nb201": (write_nb201, load_nb201, "_parse_nb201"),
    "zc": (write_zc, load_zc_proxies, "_parse_zc"),
}


def fail_parse(*args: object, **kwargs: object) -> None:
    raise AssertionError("parsed again although the cache is fresh")


def same_arrays(left: object, right: object) -> bool:
    names = [name for name, value in vars(left).items() if isinstance(value, np.ndarray)]
    return bool(names) and all(
        np.array_equal(getattr(left, name), getattr(right, name), equal_nan=getattr(left, name).dtype.kind == "f")
        for name in names
    )


@pytest.mark.parametrize("kind", LOADERS)
def test_cache_is_written_then_reused(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    write, load, parser = LOADERS[kind]
    write(tmp_path)
    first = load(tmp_path)
    (written,) = cache_files(cache)
    assert written.suffix == ".npz" and written.name.startswith(kind)
    with np.load(written) as archive:  # uncompressed, so loading it is a plain read
        assert {info.compress_type for info in archive.zip.infolist()} == {0}
    monkeypatch.setattr(data, parser, fail_parse)
    second = load(tmp_path)
    assert same_arrays(first, second) and cache_files(cache) == [written]


def test_changed_source_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    path = write_nb101(tmp_path)
    assert load_nb101(tmp_path).test_accuracy[0] == 0.92
    mtime = path.stat().st_mtime_ns
    write_nb101(tmp_path, test_acc=(0.5, 0.6))
    os.utime(path, ns=(mtime + 10**9, mtime + 10**9))  # a clock tick coarser than the rewrite must not hide it
    np.testing.assert_array_equal(load_nb101(tmp_path).test_accuracy, [0.5, 0.6])
    assert len(cache_files(cache)) == 2


def test_damaged_cache_is_replaced(tmp_path: Path, cache: Path) -> None:
    write_nb201(tmp_path)
    load_nb201(tmp_path)
    (written,) = cache_files(cache)
    written.write_bytes(written.read_bytes()[:100])
    with pytest.warns(CacheWarning, match="is damaged"):
        assert load_nb201(tmp_path).index_of(ARCH_B) == 1
    with np.load(written) as archive:
        assert "arch_strings" in archive.files


def test_unwritable_cache_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "cache"))
    write_zc(tmp_path)
    with pytest.warns(UserWarning, match="cannot write table cache"):
        assert len(load_zc_proxies(tmp_path)) == 2


# --------------------------------------------------------------------------- the real tables


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_ENV, str(tmp_path_factory.mktemp("real-cache")))
        yield


@pytest.fixture(scope="module")
def nb101(data_dir: Path, real_cache: None) -> data.NB101Table:
    return load_nb101(data_dir)


@pytest.fixture(scope="module")
def nb201(data_dir: Path, real_cache: None) -> data.NB201Table:
    return load_nb201(data_dir)


def test_real_nb101(nb101: data.NB101Table) -> None:
    assert len(nb101) == 423_624 and nb101.op_names == OP_NAMES
    assert nb101.hashes[0] == "00005c142e6f48ac74fdcf73e3439874" and (nb101.hashes[:-1] < nb101.hashes[1:]).all()
    assert nb101.test_accuracy[0] == 0.9211738705635071
    counts = dict(zip(*np.unique(nb101.num_vertices, return_counts=True), strict=True))
    assert counts == {7: 359_082, 6: 62_010, 5: 2_441, 4: 84, 3: 6, 2: 1}
    assert np.isfinite(nb101.val_accuracy).sum() == np.isfinite(nb101.params).sum() == 30_001
    rows = np.arange(len(nb101))
    assert (nb101.ops[:, 0] == 0).all() and (nb101.ops[rows, nb101.num_vertices - 1] == 4).all()
    assert nb101.graph(0).num_nodes == 7 and nb101.graph(len(nb101) - 1).ops == nb101.op_strings(len(nb101) - 1)


def test_real_nb201(nb201: data.NB201Table) -> None:
    assert len(nb201) == 15_625 and len(set(nb201.unique_strings.tolist())) == 6_466
    assert (nb201.cifar10.argmax(), nb201.cifar100.argmax(), nb201.imagenet16.argmax()) == (6111, 9930, 857)
    assert nb201.cifar10[6111] == pytest.approx(94.37333333333333)
    assert nb201.index_of(nb201.arch_strings[6111]) == 6111
    assert 0.07 < nb201.params_m.min() < nb201.params_m.max() < 1.54
    assert np.isnan(nb201.naswot).sum() == 341


@pytest.mark.parametrize("dataset", ["cifar10", "imagenet16"])
def test_real_zc_proxies(nb201: data.NB201Table, data_dir: Path, real_cache: None, dataset: str) -> None:
    table = load_zc_proxies(data_dir, dataset)
    assert len(table) == 9_445 and tuple(table.proxies) == ZC_PROXIES
    rows = [nb201.index_of(arch) for arch in table.arch_strings.tolist()]  # every cell is an NB201 cell
    assert len(set(rows)) == 9_445
    assert all(np.isfinite(values).all() for values in table.proxies.values())


def test_real_imagenet16_nets_map_as_the_valid_nets_file_says(data_dir: Path, real_cache: None) -> None:
    """The ImageNet16-120 proxy file has no ``net_str``; its sibling ``valid_nets`` file, in the same row order, has."""
    with (
        (data_dir / ZC_FILES["imagenet16"]).with_name("nb201_ImageNet16-120_valid_nets.csv").open(newline="") as handle
    ):
        expected = [record["net_str"] for record in csv.DictReader(handle)]
    assert load_zc_proxies(data_dir, "imagenet16").arch_strings.tolist() == expected


# --------------------------------------------------------------------------- NB301

# NASLib compact keys: (input, op) pairs; op indexes max_pool, avg_pool, skip, sep3, sep5, dil3, dil5.
NB301_KEY = "[[(0, 3), (1, 3), (0, 2), (1, 4), (0, 0), (2, 5), (1, 6), (3, 1)], [(0, 0), (1, 0)" + (
    ", (0, 2), (2, 3), (1, 1), (2, 4), (0, 5), (4, 6)]]"
)
NB301_GENOTYPE = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_5x5', 1), "
    "('max_pool_3x3', 0), ('dil_conv_3x3', 2), ('dil_conv_5x5', 1), ('avg_pool_3x3', 3)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 2), "
    "('avg_pool_3x3', 1), ('sep_conv_5x5', 2), ('dil_conv_3x3', 0), ('dil_conv_5x5', 4)], reduce_concat=[2, 3, 4, 5])"
)


def write_nb301(root: Path, records: dict[str, object] | None = None) -> Path:
    record = {"val_accuracy": 93.5, **{name: {"score": 1.5, "time": 0.1} for name in data.NB301_PROXIES}}
    path = root / data.NB301_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cifar10": records if records is not None else {NB301_KEY: record}}))
    return path


def test_nb301_table_converts_naslib_keys_to_genotypes(tmp_path: Path) -> None:
    write_nb301(tmp_path)
    table = data.load_nb301(tmp_path)
    assert table.genotypes.tolist() == [NB301_GENOTYPE]
    assert table.val_accuracy.tolist() == [93.5]
    assert tuple(table.proxies) == data.NB301_PROXIES and table.proxies["synflow"].tolist() == [1.5]
    assert len(data.load_nb301(tmp_path)) == 1  # and again from the cache


@pytest.mark.parametrize(
    ("records", "fault"),
    [
        ({"[[(0, 9)]]": {}}, "not a NASLib compact DARTS encoding"),
        ({NB301_KEY.replace("(1, 3)", "(0, 3)", 1): {}}, "not a NASLib compact DARTS encoding"),  # one input twice
        ({NB301_KEY: {"val_accuracy": "high"}}, "missing or non-numeric"),
        ({NB301_KEY: {"val_accuracy": 93.0}}, "missing or non-numeric"),
        ({}, "must map architecture keys"),
    ],
)
def test_nb301_faults_are_named(tmp_path: Path, records: dict[str, object], fault: str) -> None:
    write_nb301(tmp_path, records)
    assert fault in error_of(lambda: data.load_nb301(tmp_path))


def test_nb301_accuracy_out_of_range(tmp_path: Path) -> None:
    record = {"val_accuracy": 0.935, **{name: {"score": 1.0} for name in data.NB301_PROXIES}}
    write_nb301(tmp_path, {NB301_KEY: {**record, "val_accuracy": 193.5}})
    assert "zc_nasbench301.json: row 0, 'val_accuracy': 193.5 outside (0, 100]" in error_of(
        lambda: data.load_nb301(tmp_path)
    )


def test_nb301_not_json(tmp_path: Path) -> None:
    path = write_nb301(tmp_path)
    path.write_bytes(b"\x00\xff not json")
    assert "not a NAS-Bench-Suite-Zero JSON file" in error_of(lambda: data.load_nb301(tmp_path))


def test_real_nb301(data_dir: Path, real_cache: None) -> None:
    from tgnas_jax.spaces.darts import DartsSpace

    table = data.load_nb301(data_dir)
    assert len(table) == 725 and len(set(table.genotypes.tolist())) == 725
    assert 91.2 < table.val_accuracy.min() < table.val_accuracy.max() < 94.5
    assert table.val_accuracy.mean() == pytest.approx(93.12, abs=0.01)
    space = DartsSpace()
    assert all(space.format(space.parse(g)) == g for g in table.genotypes.tolist())
    assert all(np.isfinite(values).all() and len(values) == 725 for values in table.proxies.values())


# --------------------------------------------------------------------------- damaged sources and caches


def test_row_count_is_enforced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table of another size than the published one (a file cut at a line end) is refused, naming the file."""
    write_nb201(tmp_path)
    monkeypatch.setitem(data.EXPECTED_ROWS, "nb201", 3)
    assert error_of(lambda: load_nb201(tmp_path)) == (
        f"{tmp_path / NB201_FILE}: 2 rows, expected 3 (truncated, or not the published table)"
    )


@pytest.mark.parametrize("file", [NB201_FILE, NB201_EXTRA_FILE, ZC_FILES["cifar10"]])
def test_csv_missing_its_last_40_bytes_is_named(tmp_path: Path, file: Path) -> None:
    write_nb201(tmp_path, rows=[*nb201_rows()[:1], [10.0, 1.0, 0.83, ARCH_B, "unique-" + "b" * 60]])
    write_zc(tmp_path)
    path = tmp_path / file
    path.write_bytes(path.read_bytes()[:-40])
    load = load_zc_proxies if file in ZC_FILES.values() else load_nb201
    assert error_of(lambda: load(tmp_path)).startswith(f"{path}: row ")


def test_csv_cut_inside_its_last_field_is_truncated(tmp_path: Path) -> None:
    """The cut leaves every field of the last row in place: only the missing line end shows it."""
    write_nb201(tmp_path, rows=[*nb201_rows()[:1], [10.0, 1.0, 0.83, ARCH_B, "unique-" + "b" * 60]])
    path = tmp_path / NB201_FILE
    path.write_bytes(path.read_bytes()[:-40])
    assert error_of(lambda: load_nb201(tmp_path)) == f"{path}: row 1 does not end in a line end; the file is truncated"


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "byte 0 is not UTF-8 text"),
        (b"net,net_str\n\0\0\0\n", "byte 12 is NUL"),
    ],
)
def test_binary_csv_is_a_data_error(tmp_path: Path, content: bytes, fault: str) -> None:
    path = write_zc(tmp_path)
    path.write_bytes(content)
    assert error_of(lambda: load_zc_proxies(tmp_path)).startswith(f"{path}: {fault}")


@pytest.mark.parametrize(
    ("row", "column", "value", "file", "fault"),
    [
        (1, 0, 0.0, NB201_FILE, "row 1, 'cifar10': 0.0 outside (0, 100]"),
        (0, 2, 100.5, NB201_FILE, "row 0, 'imagenet16': 100.5 outside (0, 100]"),
        (0, 1, "nan", NB201_FILE, "row 0, 'cifar100': nan outside (0, 100]"),
    ],
)
def test_accuracy_out_of_range_is_named(
    tmp_path: Path, row: int, column: int, value: object, file: Path, fault: str
) -> None:
    rows = nb201_rows()
    rows[row][column] = value
    write_nb201(tmp_path, rows=rows)
    assert error_of(lambda: load_nb201(tmp_path)) == f"{tmp_path / file}: {fault}"


def test_params_must_be_positive(tmp_path: Path) -> None:
    extra = extra_rows()
    extra[1][2] = -0.07
    write_nb201(tmp_path, extra=extra)
    assert (
        error_of(lambda: load_nb201(tmp_path))
        == f"{tmp_path / NB201_EXTRA_FILE}: row 1, 'params_m': -0.07 outside (0, inf]"
    )


@pytest.mark.parametrize("test_acc", [(0.92, 1.5), (0.0, 0.0), (0.92, float("nan"))])
def test_nb101_accuracy_must_be_a_fraction(tmp_path: Path, test_acc: tuple[float, float]) -> None:
    write_nb101(tmp_path, test_acc=test_acc)
    message = error_of(lambda: load_nb101(tmp_path))
    assert message.startswith(f"{tmp_path / NB101_FILE}: row ") and "'test_accuracy'" in message and "(0, 1]" in message


def test_nb101_bit_flips_are_data_errors_or_harmless(tmp_path: Path) -> None:
    """Flipping any sampled byte of the (compressed) source gives a DataError or, in zip metadata, the same table."""
    path = write_nb101(tmp_path)
    expected, original = load_nb101(tmp_path), path.read_bytes()
    errors = 0
    for at in range(0, len(original), 7):
        flipped = bytearray(original)
        flipped[at] ^= 0xFF
        path.write_bytes(bytes(flipped))
        try:
            assert same_arrays(load_nb101(tmp_path), expected), f"byte {at} flipped changed the table silently"
        except DataError as err:
            assert str(err).startswith(f"{path}: "), err
            errors += 1
    assert errors > len(original) // 14  # most flips hit checked data


def rewrite_cache(path: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Edit a cache file's arrays in place, keeping its source stamp: well-formed, but wrong."""
    with np.load(path) as archive:
        arrays = dict(archive)
    change(arrays)
    np.savez(path, **arrays)


def ten_rows(arrays: dict[str, np.ndarray]) -> None:
    for name in ("arch_strings", "cifar10", "cifar100", "imagenet16", "params_m", "naswot", "unique_strings"):
        arrays[name] = np.resize(arrays[name], 10)
    arrays["arch_strings"] = np.array([f"{arch}{i}" for i, arch in enumerate(arrays["arch_strings"])])


def zero_accuracies(arrays: dict[str, np.ndarray]) -> None:
    for name in ("cifar10", "cifar100", "imagenet16"):
        arrays[name] = np.zeros_like(arrays[name])


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    """One bit of an arch string's stored characters (a flip in zip metadata can be harmless)."""
    raw = bytearray(path.read_bytes())
    raw[raw.find(ARCH_A.encode("utf-32-le")) + 8] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("damage", "fault"),
    [
        (lambda path: rewrite_cache(path, ten_rows), r"holds a wrong table \(.*: 10 rows, expected 2"),
        (lambda path: rewrite_cache(path, zero_accuracies), r"holds a wrong table \(.*'cifar10': 0.0 outside"),
        (lambda path: rewrite_cache(path, lambda arrays: arrays.pop("naswot")), "holds arrays"),
        (truncate, "is damaged"),
        (lambda path: path.write_bytes(b""), "is damaged"),
        (flip_a_byte, "is damaged"),
    ],
    ids=["10-rows", "zero-accuracies", "wrong-layout", "truncated", "empty", "bit-flip"],
)
def test_wrong_or_damaged_table_cache_is_rebuilt_once(
    tmp_path: Path, cache: Path, damage: Callable[[Path], None], fault: str
) -> None:
    write_nb201(tmp_path)
    expected = load_nb201(tmp_path)
    (written,) = cache_files(cache)
    damage(written)
    with pytest.warns(CacheWarning, match=fault) as caught:
        rebuilt = load_nb201(tmp_path)
    assert len(caught) == 1 and same_arrays(rebuilt, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same_arrays(load_nb201(tmp_path), expected) and cache_files(cache) == [written]


@pytest.mark.slow
def test_table_cache_bit_flips_are_rebuilt_or_harmless(tmp_path: Path, cache: Path, flip_each_byte) -> None:
    """Any sampled flipped byte of a table cache is reported once and rebuilt, or leaves the same table."""
    write_nb201(tmp_path)
    expected = load_nb201(tmp_path)
    (written,) = cache_files(cache)
    original, reported = written.read_bytes(), 0
    for at in flip_each_byte(written, 11):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert same_arrays(load_nb201(tmp_path), expected), f"byte {at} flipped changed the table silently"
        assert len(caught) <= 1 and all(w.category is CacheWarning for w in caught), [str(w.message) for w in caught]
        reported += len(caught)
    assert reported > len(original) // 22


def test_cache_of_other_sources_is_never_used(tmp_path: Path, cache: Path) -> None:
    """A sound cache file under the name another source's content maps to is refused by its stamp."""
    write_nb201(tmp_path / "a")
    other = load_nb201(tmp_path / "a")
    rows = nb201_rows()
    rows[0][0] = 91.0
    write_nb201(tmp_path / "b", rows=rows)
    target = data.cache_path("nb201", [tmp_path / "b" / NB201_FILE, tmp_path / "b" / NB201_EXTRA_FILE])
    (written,) = cache_files(cache)
    written.rename(target)
    with pytest.warns(CacheWarning, match="was parsed from other source files"):
        table = load_nb201(tmp_path / "b")
    assert table.cifar10[0] == 91.0 and other.cifar10[0] == 93.66


def test_cache_follows_content_not_size_and_mtime(tmp_path: Path) -> None:
    """Same size, same mtime, other bytes: the content digest changes, so the table is parsed again."""
    write_nb201(tmp_path)
    path = tmp_path / NB201_FILE
    assert load_nb201(tmp_path).cifar10[0] == 93.66
    stat, rows = path.stat(), nb201_rows()
    rows[0][0] = 93.67
    write_nb201(tmp_path, rows=rows)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert load_nb201(tmp_path).cifar10[0] == 93.67


def test_source_digest_is_remembered(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged source is hashed once: later loads read its digest from ``sources/``; a changed one is hashed."""
    write_nb201(tmp_path)
    first = load_nb201(tmp_path)
    assert len(list((cache / "sources").iterdir())) == 2
    hashed: list[Path] = []
    real_hash = data._hash_file
    monkeypatch.setattr(data, "_hash_file", lambda path: hashed.append(path) or real_hash(path))
    assert same_arrays(load_nb201(tmp_path), first) and hashed == []
    write_csv(tmp_path / NB201_FILE, NB201_HEADER, nb201_rows()[::-1])
    write_csv(tmp_path / NB201_EXTRA_FILE, EXTRA_HEADER, extra_rows()[::-1])
    assert load_nb201(tmp_path).index_of(ARCH_B) == 0
    assert hashed == [tmp_path / NB201_FILE, tmp_path / NB201_EXTRA_FILE]


def test_real_nb201_missing_its_last_40_bytes(data_dir: Path, tmp_path: Path) -> None:
    """The case that reached ``search`` and ``evaluate``: the last row of the real table cut inside its last field."""
    for file in (NB201_FILE, NB201_EXTRA_FILE):
        (tmp_path / file).parent.mkdir(parents=True)
        (tmp_path / file).write_bytes((data_dir / file).read_bytes())
    path = tmp_path / NB201_FILE
    path.write_bytes(path.read_bytes()[:-40])
    assert error_of(lambda: load_nb201(tmp_path)) == (
        f"{path}: row 15624 does not end in a line end; the file is truncated"
    )
