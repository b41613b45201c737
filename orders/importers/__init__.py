"""Readers of broker trade-history files: each turns a file's text into executions and per-line notes."""

from __future__ import annotations

from collections.abc import Callable

from orders.importers import alpaca, generic_csv, ibkr_flex
from orders.importers.base import ExternalExecution, ParsedFile, RowNote

READERS: dict[str, Callable[[str], ParsedFile]] = {
    "alpaca": alpaca.parse,
    "ibkr-flex": ibkr_flex.parse,
    "csv": generic_csv.parse,
}
FORMATS = tuple(READERS)

__all__ = ["FORMATS", "READERS", "ExternalExecution", "ParsedFile", "RowNote"]
