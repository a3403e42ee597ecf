"""Files of architectures in, tables of scores out, a row at a time.

Input: one architecture string per line (``lines``; blank lines and ``#`` comments skipped), a
column of a CSV file, or a field of a JSON-lines file. Output: CSV, JSON lines (strict: a
non-finite number is ``null``) or Parquet (with ``pyarrow``). An output file appears only when
complete: rows go to a temporary file beside it, renamed into place by :meth:`RowWriter.close`.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tgnas_jax import strictjson
from tgnas_jax._text import quote

INPUT_FORMATS = ("lines", "csv", "jsonl")
OUTPUT_FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
#: The longest line read; an architecture string is at most a few thousand characters.
MAX_LINE = 1 << 20


class InputError(ValueError):
    """A line of an input file that holds no architecture string; the message names file and line."""


def guess_format(path: Path | None, formats: Sequence[str], default: str) -> str:
    """The format ``path``'s suffix names, if one of ``formats``; else ``default``."""
    found = _SUFFIXES.get(path.suffix.lower()) if path is not None else None
    return found if found in formats else default


def read_archs(stream: TextIO, name: str, fmt: str, column: str = "arch") -> Iterator[tuple[int, str]]:
    """``(line number, architecture string)`` of each record of ``stream`` (called ``name`` in errors)."""
    if fmt not in INPUT_FORMATS:
        raise ValueError(f"unknown input format {fmt!r}; choose one of {list(INPUT_FORMATS)}")
    lines = _lines(stream, name)
    if fmt == "csv":
        yield from _csv_records(lines, name, column)
        return
    for number, line in lines:
        text = line.strip()
        if not text or (fmt == "lines" and text.startswith("#")):
            continue
        yield number, text if fmt == "lines" else _json_field(text, name, number, column)


def _lines(stream: TextIO, name: str) -> Iterator[tuple[int, str]]:
    number = 0
    while True:
        number += 1
        try:
            line = stream.readline(MAX_LINE + 1)
        except UnicodeDecodeError as err:
            raise InputError(f"{name} line {number}: not UTF-8 text ({err.reason})") from None
        if not line:
            return
        if len(line) > MAX_LINE:
            raise InputError(f"{name} line {number}: over {MAX_LINE:,} characters; an architecture is a line")
        yield number, line


def _csv_records(lines: Iterator[tuple[int, str]], name: str, column: str) -> Iterator[tuple[int, str]]:
    numbers: list[int] = []

    def texts() -> Iterator[str]:
        for number, line in lines:
            numbers.append(number)
            yield line

    reader = csv.reader(texts())
    try:
        header = next(reader, None)
        if header is None:
            return
        if column not in header:
            raise InputError(f"{name}: no column {column!r} in the CSV header {quote(header)}; choose it with --column")
        at = header.index(column)
        for row in reader:
            number = numbers[-1]
            numbers.clear()
            if not row or not any(cell.strip() for cell in row):
                continue
            if at >= len(row) or not row[at].strip():
                raise InputError(f"{name} line {number}: the {column!r} column is empty")
            yield number, row[at].strip()
    except csv.Error as err:
        raise InputError(f"{name} line {numbers[-1] if numbers else 1}: not CSV ({err})") from None


def _json_field(text: str, name: str, number: int, column: str) -> str:
    try:
        record = json.loads(text)
    except ValueError as err:
        raise InputError(f"{name} line {number}: not JSON ({err})") from None
    value = record.get(column) if isinstance(record, dict) else record
    if not isinstance(value, str):
        what = f"field {column!r}" if isinstance(record, dict) else "value"
        raise InputError(f"{name} line {number}: the {what} is {quote(value)}, not an architecture string")
    return value


class RowWriter:
    """Rows of fixed ``columns`` into ``path`` (``None``: standard output, CSV / JSON lines only)."""

    def __init__(self, path: Path | None, fmt: str, columns: Sequence[str], types: dict[str, str]) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; choose one of {list(OUTPUT_FORMATS)}")
        if fmt == "parquet" and path is None:
            raise ValueError("Parquet output needs a file: give --out FILE.parquet")
        self.path, self.fmt, self.columns = path, fmt, tuple(columns)
        self._temp: Path | None = None
        if path is None:
            self._file: Any = sys.stdout
        else:
            handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            self._temp = Path(temp)
            if fmt == "parquet":
                self._file = os.fdopen(handle, "wb")
            else:
                self._file = os.fdopen(handle, "w", encoding="utf-8", newline="")
        if fmt == "csv":
            self._csv = csv.writer(self._file, lineterminator="\n")
            self._csv.writerow(self.columns)
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            kinds = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}
            self._schema = pa.schema([(c, kinds[types[c]]) for c in self.columns])
            self._parquet = pq.ParquetWriter(self._file, self._schema)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.fmt == "csv":
            self._csv.writerows([[_csv_cell(row.get(c)) for c in self.columns] for row in rows])
        elif self.fmt == "jsonl":
            self._file.write("".join(strictjson.dumps({c: row.get(c) for c in self.columns}) + "\n" for row in rows))
        elif rows:
            import pyarrow as pa

            table = pa.table({c: [row.get(c) for row in rows] for c in self.columns}, schema=self._schema)
            self._parquet.write_table(table)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.fmt == "parquet":
            self._parquet.close()
        if self._temp is None:
            self._file.flush()
            return
        self._file.close()
        umask = os.umask(0)
        os.umask(umask)
        self._temp.chmod(0o666 & ~umask)  # mkstemp's 0600 would outlive the rename
        os.replace(self._temp, self.path)
        self._temp = None

    def discard(self) -> None:
        """Drop a file that will not be finished: nothing half-written is left at ``path``."""
        if self._temp is None:
            return
        try:
            self._file.close()
        finally:
            self._temp.unlink(missing_ok=True)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return str(np.float32(value)) if np.isfinite(value) or np.isinf(value) else ""
    return str(value)


def short_float(value: float) -> float:
    """``value`` as the shortest decimal that reads back as the same float32 (``1.2345679``, not 17 digits)."""
    return float(str(np.float32(value))) if np.isfinite(value) else float(value)
