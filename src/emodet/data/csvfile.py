"""Reading CSV files (plain or gzipped) with errors that name the file and line."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

from emodet.errors import DataError

_READ_ERRORS = (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error, OSError)


def open_csv(path: Path):
    """Open ``path`` as text, transparently un-gzipping it when its first bytes say so."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return open(path, newline="", encoding="utf-8")


def read_header(reader, path: Path, required: tuple[str, ...], what: str) -> list[str]:
    """The header row, checked to hold every ``required`` column."""
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path} is empty; expected {what} with header {','.join(required)}") from None
    except _READ_ERRORS as exc:
        raise DataError(f"{path} is not a readable CSV text file ({exc}); expected {what}") from None
    missing = [h for h in required if h not in header]
    if missing:
        raise DataError(f"{path}: header {','.join(header)!r} lacks {', '.join(missing)}; "
                        f"expected {what} with header {','.join(required)}")
    return header


def csv_rows(reader, path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, row)`` for non-empty rows, checking each has ``width`` columns."""
    line = 1
    try:
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != width:
                raise DataError(f"{path}, line {line}: expected {width} columns, found {len(row)}")
            yield line, row
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read past line {line} ({exc}); the file is truncated "
                        "or not a CSV text file") from None
