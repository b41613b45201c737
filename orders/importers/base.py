"""What every broker file reader produces: executions with the line they came from, and notes on the rest.

A reader never writes anything. It reads every row, collecting a ``RowNote`` per bad row (``errors``:
the file is refused as a whole) and per row it leaves out on purpose (``skipped``: an option, an FX
conversion, a summary line), so the trader sees what happened to each line of the file.

Numbers are read exactly from their text (``Decimal``, never a float). Quantities and prices keep the
ledger's 6 decimal places: a value that needs more is a bad row, never rounded. Commissions are money:
rounded to the cent, half up, once per execution (the ledger's rule, ``orders.ledger.money``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from alphaloop.money import PRICE_PLACES, money

LIMIT = Decimal("1E14")  # the ledger's columns hold 14 whole digits
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,31}", re.ASCII)
ID_LENGTH = 64


class RowError(ValueError):
    """One row cannot be read; the message says why, in the trader's terms."""


class FileError(ValueError):
    """The file cannot be read on from ``line`` (broken CSV quoting, broken JSON): nothing after it is read."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class RowNote:
    line: int
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True)
class ExternalExecution:
    """One execution at a broker, as a file (or a broker's API) reports it."""

    line: int  # where it was read (1-based; 0 when it did not come from a file)
    execution_id: str  # the broker's execution id: the key that makes booking it idempotent
    symbol: str
    side: str  # "BUY" or "SELL"
    quantity: Decimal  # > 0, at most 6 places
    price: Decimal  # > 0, at most 6 places
    commission: Decimal  # money paid for it (negative: a rebate), in cents
    executed_at: dt.datetime  # aware
    broker_order_id: str = ""  # the broker's order id when the file names it: executions of one order share it
    sequence: Decimal = Decimal("0")  # breaks ties of executions at the same instant (e.g. the order's cum_qty)

    def sort_key(self) -> tuple:
        return self.executed_at, self.sequence, self.line

    def describe(self) -> str:
        return f"{self.side} {self.quantity.normalize():f} {self.symbol} @ {self.price.normalize():f}"


@dataclass
class ParsedFile:
    executions: list[ExternalExecution] = field(default_factory=list)
    errors: list[RowNote] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)
    rows: int = 0  # the data rows read (executions, skipped rows and bad rows)

    def error(self, line: int, message: str) -> None:
        self.errors.append(RowNote(line, message))

    def skip(self, line: int, message: str) -> None:
        self.skipped.append(RowNote(line, message))


def decimal_read(text: object, name: str, *, strip_thousands: bool = False) -> Decimal:
    """A plain decimal written as text (``"190.05"``, ``"-3"``), exactly; anything else is a ``RowError``."""
    if text is None:
        raise RowError(f"{name} is missing")
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, str):
        raw = text.strip().replace(",", "") if strip_thousands else text.strip()
        if not raw:
            raise RowError(f"{name} is missing")
        if not PLAIN_NUMBER.fullmatch(raw):
            raise RowError(f"{name} {text!r} is not a plain decimal number")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise RowError(f"{name} {text!r} is not a number") from None
    else:
        raise RowError(f"{name} must be a number written as text, not {type(text).__name__}")
    if abs(value) >= LIMIT:
        raise RowError(f"{name} {value} is too large")
    return value


def positive_6dp(value: Decimal, name: str) -> Decimal:
    """A quantity or price: positive, and exact at the ledger's 6 decimal places."""
    if value <= 0:
        raise RowError(f"{name} must be positive, not {value:f}")
    if value != value.quantize(PRICE_PLACES):
        raise RowError(f"{name} {value:f} has more than 6 decimal places")
    return value.quantize(PRICE_PLACES)


def commission_money(value: Decimal) -> Decimal:
    return money(value)


def symbol_read(text: object, name: str = "symbol") -> str:
    """A US-equity ticker, upper case; a space between a class letter becomes a dot (IBKR's ``BRK B`` is ``BRK.B``)."""
    if not isinstance(text, str) or not text.strip():
        raise RowError(f"{name} is missing")
    symbol = re.sub(r"\s+", ".", text.strip().upper())
    if not SYMBOL.fullmatch(symbol):
        raise RowError(f"{name} {text!r} is not a ticker (letters, digits, '.' and '-', at most 32)")
    return symbol


def id_read(text: object, name: str) -> str:
    if text is None or (isinstance(text, str) and not text.strip()):
        raise RowError(f"{name} is missing")
    if not isinstance(text, str):
        raise RowError(f"{name} must be text")
    value = str(text).strip()
    if len(value) > ID_LENGTH or not (value.isascii() and value.isprintable()):
        raise RowError(f"{name} {value[:80]!r} is not an id (printable ASCII, at most {ID_LENGTH} characters)")
    return value


ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?", re.ASCII | re.I
)


def iso_time_read(text: object, name: str, *, naive_tz: ZoneInfo | None) -> dt.datetime:
    """An ISO 8601 / RFC 3339 time. Without an offset it is read in ``naive_tz`` (a ``RowError`` when None).

    Fractions beyond microseconds (Alpaca writes nanoseconds) are cut to microseconds.
    """
    if not isinstance(text, str) or not text.strip():
        raise RowError(f"{name} is missing")
    match = ISO_TIME.fullmatch(text.strip())
    if match is None:
        raise RowError(f"{name} {text!r} is not a date and time such as 2024-03-15T14:30:05-04:00")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                             int((fraction or "0")[:6].ljust(6, "0")))
    except ValueError as exc:
        raise RowError(f"{name} {text!r} is not a valid date and time ({exc})") from None
    if offset is None:
        if naive_tz is None:
            raise RowError(f"{name} {text!r} has no UTC offset (write Z or e.g. -04:00)")
        return moment.replace(tzinfo=naive_tz)
    if offset.upper() == "Z":
        return moment.replace(tzinfo=dt.timezone.utc)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if delta >= dt.timedelta(hours=24):
        raise RowError(f"{name} {text!r} has an impossible UTC offset")
    return moment.replace(tzinfo=dt.timezone(sign * delta))
