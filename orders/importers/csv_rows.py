"""CSV reading shared by the CSV formats: rows with the physical line each starts on."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from orders.importers.base import FileError


def csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` for every non-blank row; ``line`` is where the row starts (a quoted cell may span lines).

    Raises ``FileError`` where the text stops being CSV (e.g. a NUL byte, a cell over the csv module's limit).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(start, f"not readable as CSV: {exc}") from None
        end = reader.line_num
        if row and any(cell.strip() for cell in row):
            yield start, row
