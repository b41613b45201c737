"""The fake's market data: daily bars for GET /v2/stocks/bars and the data stream's messages.

Bars answer as Alpaca's historical API does: ``{"bars": {SYMBOL: [{t, o, h, l, c, v, n, vw}]},
"next_page_token": ...}``, prices as JSON numbers, a daily bar stamped at midnight New York time,
the page limit counted over all symbols (sorted by symbol, then time), and an opaque page token.
Stream messages are the dicts the data stream sends (``T`` = ``t`` trade, ``q`` quote, ``b`` bar);
the server encodes them with msgpack (the SDK's choice) or JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.alpaca_fake.broker import CODE_INVALID, CODE_UNPROCESSABLE, AlpacaError, parse_time

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
ADJUSTMENTS = ("raw", "split", "dividend", "all")
FEEDS = ("iex", "sip", "delayed_sip", "otc")


@dataclass(frozen=True)
class FakeBar:
    day: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    trade_count: int = 1000
    vwap: Decimal | None = None

    @property
    def timestamp(self) -> dt.datetime:
        return dt.datetime.combine(self.day, dt.time(0), tzinfo=NEW_YORK).astimezone(UTC)

    def as_json(self) -> dict:
        vwap = self.vwap if self.vwap is not None else (self.high + self.low + self.close) / 3
        return {"t": self.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": float(self.open), "h": float(self.high),
                "l": float(self.low), "c": float(self.close), "v": self.volume, "n": self.trade_count,
                "vw": float(round(vwap, 6))}


@dataclass
class FakeBars:
    """Daily bars per symbol, raw and (optionally) split/dividend adjusted."""

    raw: dict[str, list[FakeBar]] = field(default_factory=dict)
    adjusted: dict[str, list[FakeBar]] = field(default_factory=dict)
    #: The largest page the server hands out (Alpaca: 10,000); tests lower it to exercise paging.
    page_limit: int = 10_000

    def add(self, symbol: str, bars: list[FakeBar], *, adjusted: list[FakeBar] | None = None) -> None:
        self.raw[symbol] = sorted(bars, key=lambda b: b.day)
        if adjusted is not None:
            self.adjusted[symbol] = sorted(adjusted, key=lambda b: b.day)

    def query(self, params: dict[str, str]) -> dict:
        symbols = [s.strip().upper() for s in (params.get("symbols") or "").split(",") if s.strip()]
        if not symbols:
            raise AlpacaError(422, CODE_INVALID, "symbols is required")
        if params.get("timeframe") != "1Day":
            raise AlpacaError(422, CODE_UNPROCESSABLE, f"invalid timeframe: {params.get('timeframe')} (this fake serves 1Day)")
        adjustment = params.get("adjustment") or "raw"
        if adjustment not in ADJUSTMENTS:
            raise AlpacaError(422, CODE_INVALID, f"invalid adjustment: {adjustment}")
        if (params.get("feed") or "sip") not in FEEDS:
            raise AlpacaError(422, CODE_INVALID, f"invalid feed: {params.get('feed')}")
        start, end = parse_time(params.get("start"), "start"), parse_time(params.get("end"), "end")
        try:
            limit = int(params.get("limit") or 1000)
        except ValueError:
            raise AlpacaError(422, CODE_INVALID, "invalid limit") from None
        if not 1 <= limit <= 10_000:
            raise AlpacaError(422, CODE_INVALID, "limit must be between 1 and 10000")
        limit = min(limit, self.page_limit)
        source = self.raw if adjustment == "raw" else {**self.raw, **self.adjusted}
        rows = [
            (symbol, bar) for symbol in sorted(set(symbols)) for bar in source.get(symbol, [])
            if (start is None or bar.timestamp >= start) and (end is None or bar.timestamp <= end)
        ]
        first = 0
        if params.get("page_token"):
            cursor = base64.b64decode(params["page_token"]).decode()
            keys = [f"{symbol}|{bar.day.isoformat()}" for symbol, bar in rows]
            if cursor not in keys:
                raise AlpacaError(422, CODE_INVALID, "invalid page_token")
            first = keys.index(cursor)
        page, rest = rows[first:first + limit], rows[first + limit:]
        bars: dict[str, list[dict]] = {}
        for symbol, bar in page:
            bars.setdefault(symbol, []).append(bar.as_json())
        token = None
        if rest:
            token = base64.b64encode(f"{rest[0][0]}|{rest[0][1].day.isoformat()}".encode()).decode()
        return {"bars": bars, "next_page_token": token, "currency": "USD"}


def trade_message(symbol: str, *, price: Decimal, size: int, trade_id: int, moment: dt.datetime) -> dict:
    return {"T": "t", "S": symbol, "i": trade_id, "x": "V", "p": float(price), "s": size, "c": ["@"],
            "t": moment, "z": "C"}


def quote_message(symbol: str, *, bid: Decimal, ask: Decimal, bid_size: int, ask_size: int, moment: dt.datetime) -> dict:
    return {"T": "q", "S": symbol, "bx": "V", "bp": float(bid), "bs": bid_size, "ax": "V", "ap": float(ask),
            "as": ask_size, "c": ["R"], "t": moment, "z": "C"}


def bar_message(symbol: str, *, open: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: int,
                moment: dt.datetime) -> dict:
    return {"T": "b", "S": symbol, "o": float(open), "h": float(high), "l": float(low), "c": float(close),
            "v": volume, "t": moment, "n": 10, "vw": float(close)}
