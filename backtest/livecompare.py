"""Live versus backtest: match a replay's simulated fills to an account's real executions.

Pure: plain records in (the backtest never reads the order book itself; ``dashboard.live_compare``
hands the account's fills over as ``Execution`` records), a report out. Money is ``Decimal``.

Conventions (the README's "Live versus backtest" explains them):

- A trade, on either side, is what that side did in one symbol, one direction, one NYSE session:
  its fills summed (quantity, commission) at their volume-weighted price. So a position reversed
  with one order of 200 or with a close of 100 and a new order of 100 is the same trade. A live
  fill belongs to the session of its New York date (a fill outside a session counts on the next).
- Matching: per symbol and side, the backtest's trades in date order each take the unmatched live
  trade nearest in sessions, within ``window`` sessions either way (ties: the earlier one). What is
  left is a missed trade (the backtest traded, you did not) or an extra trade (you traded, the
  backtest did not).
- The P&L of a fill over the range is what it made from its price to the range's last close, minus
  its commission: ``side x quantity x (last close - price) - commission`` (side +1 buy, -1 sell).
  The fills of a round trip add up to its realised P&L, an open position is marked at the last
  close, and the sum over all fills is the P&L over the range. So the difference between live and
  backtest splits exactly into:
  ``slippage`` = ``-side x live quantity x (live price - backtest price)`` (a cost when negative),
  ``size`` = ``side x (live quantity - backtest quantity) x (last close - backtest price)``,
  ``commission`` = ``-(live commission - backtest commission)`` over the matched pairs,
  ``missed`` = minus the P&L of the missed fills and ``extra`` = the P&L of the extra executions.
- ``slippage_per_share`` = ``side x (live price - backtest price)``: positive is worse for you
  (paid more, or sold for less); ``slippage_bps`` is that over the backtest price, in basis points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.money import CENT, PRICE_PLACES

ZERO = Decimal(0)
BPS = Decimal("0.01")
SIGN = {"buy": 1, "sell": -1}


@dataclass(frozen=True)
class SimulatedFill:
    """A fill of the replay, at the open of ``session``."""

    session: date
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    commission: Decimal


@dataclass(frozen=True)
class Execution:
    """One live fill, on the NYSE session it belongs to."""

    order_id: int
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    executed_at: datetime
    session: date


@dataclass(frozen=True)
class _Trade:
    """One side's fills in one symbol, direction and session, summed at their volume-weighted price."""

    session: date
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    fills: int
    executed_at: datetime | None = None
    order_ids: tuple[int, ...] = ()


def _trades(records: Iterable[SimulatedFill | Execution]) -> list[_Trade]:
    groups: dict[tuple[date, str, str], list[SimulatedFill | Execution]] = {}
    for record in records:
        groups.setdefault((record.session, record.symbol, record.side), []).append(record)
    trades = []
    for (session, symbol, side), rows in groups.items():
        quantity = sum((r.quantity for r in rows), ZERO)
        live = [r for r in rows if isinstance(r, Execution)]
        trades.append(_Trade(
            session=session, symbol=symbol, side=side, quantity=quantity,
            price=(sum((r.quantity * r.price for r in rows), ZERO) / quantity).quantize(PRICE_PLACES),
            commission=sum((r.commission for r in rows), ZERO), fills=len(rows),
            executed_at=min((r.executed_at for r in live), default=None),
            order_ids=tuple(sorted({r.order_id for r in live}))))
    return trades


def _pnl(side: str, quantity: Decimal, price: Decimal, commission: Decimal, mark: Decimal) -> Decimal:
    return SIGN[side] * quantity * (mark - price) - commission


def _match(simulated: list[_Trade], live: list[_Trade], position: Mapping[date, int],
           window: int) -> tuple[list[tuple[_Trade, _Trade]], list[_Trade], list[_Trade]]:
    pairs, missed = [], []
    free = sorted(live, key=lambda e: e.session)
    for fill in sorted(simulated, key=lambda f: f.session):
        best = None
        for execution in free:
            distance = abs(position[execution.session] - position[fill.session])
            if distance <= window and (best is None or distance < best[0]):
                best = (distance, execution)
        if best is None:
            missed.append(fill)
        else:
            free.remove(best[1])
            pairs.append((fill, best[1]))
    return pairs, missed, free


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _price(value: Decimal) -> str:
    return str(value.quantize(PRICE_PLACES))


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _simulated_dict(trade: _Trade) -> dict[str, Any]:
    return {"date": trade.session.isoformat(), "price": _price(trade.price), "quantity": _quantity(trade.quantity),
            "commission": _money(trade.commission), "fills": trade.fills}


def _live_dict(trade: _Trade) -> dict[str, Any]:
    return {"date": trade.session.isoformat(), "executed_at": trade.executed_at.isoformat(),
            "price": _price(trade.price), "quantity": _quantity(trade.quantity), "commission": _money(trade.commission),
            "fills": trade.fills, "order_ids": list(trade.order_ids)}


def compare(simulated: Iterable[SimulatedFill], live: Iterable[Execution], *, sessions: Sequence[date],
            marks: Mapping[str, Decimal], window: int) -> dict[str, Any]:
    """The trade-by-trade report and its totals (module doc). ``sessions`` cover every fill's session;
    ``marks`` hold each symbol's last close of the range."""
    position = {day: i for i, day in enumerate(sessions)}
    groups: dict[tuple[str, str], tuple[list[_Trade], list[_Trade]]] = {}
    for trade in _trades(simulated):
        groups.setdefault((trade.symbol, trade.side), ([], []))[0].append(trade)
    for trade in _trades(live):
        groups.setdefault((trade.symbol, trade.side), ([], []))[1].append(trade)
    rows: list[dict[str, Any]] = []
    totals = {name: ZERO for name in ("live_pnl", "backtest_pnl", "slippage", "size", "commission", "missed", "extra")}
    slipped_shares = slipped_notional = ZERO
    for (symbol, side), (sims, executions) in sorted(groups.items()):
        mark, sign = marks[symbol], SIGN[side]
        pairs, missed, extra = _match(sims, executions, position, window)
        for fill, execution in pairs:
            per_share = sign * (execution.price - fill.price)
            slippage = -per_share * execution.quantity
            size = sign * (execution.quantity - fill.quantity) * (mark - fill.price)
            commission = -(execution.commission - fill.commission)
            live_pnl = _pnl(side, execution.quantity, execution.price, execution.commission, mark)
            backtest_pnl = _pnl(side, fill.quantity, fill.price, fill.commission, mark)
            totals["slippage"] += slippage
            totals["size"] += size
            totals["commission"] += commission
            totals["live_pnl"] += live_pnl
            totals["backtest_pnl"] += backtest_pnl
            slipped_shares += execution.quantity
            slipped_notional += per_share * execution.quantity / fill.price
            rows.append({
                "kind": "matched", "symbol": symbol, "side": side, "backtest": _simulated_dict(fill),
                "live": _live_dict(execution), "delay_sessions": position[execution.session] - position[fill.session],
                "slippage_per_share": _price(per_share),
                "slippage_bps": str((per_share / fill.price * 10_000).quantize(BPS)),
                "slippage": _money(slippage), "size_effect": _money(size), "commission_difference": _money(commission),
                "backtest_pnl": _money(backtest_pnl), "live_pnl": _money(live_pnl),
                "pnl_difference": _money(live_pnl - backtest_pnl),
            })
        for fill in missed:
            backtest_pnl = _pnl(side, fill.quantity, fill.price, fill.commission, mark)
            totals["missed"] -= backtest_pnl
            totals["backtest_pnl"] += backtest_pnl
            rows.append({"kind": "missed", "symbol": symbol, "side": side, "backtest": _simulated_dict(fill),
                         "live": None, "delay_sessions": None, "slippage_per_share": None, "slippage_bps": None,
                         "slippage": None, "size_effect": None, "commission_difference": None,
                         "backtest_pnl": _money(backtest_pnl), "live_pnl": None,
                         "pnl_difference": _money(-backtest_pnl)})
        for execution in extra:
            live_pnl = _pnl(side, execution.quantity, execution.price, execution.commission, mark)
            totals["extra"] += live_pnl
            totals["live_pnl"] += live_pnl
            rows.append({"kind": "extra", "symbol": symbol, "side": side, "backtest": None,
                         "live": _live_dict(execution), "delay_sessions": None, "slippage_per_share": None,
                         "slippage_bps": None, "slippage": None, "size_effect": None, "commission_difference": None,
                         "backtest_pnl": None, "live_pnl": _money(live_pnl), "pnl_difference": _money(live_pnl)})
    rows.sort(key=lambda row: ((row["backtest"] or row["live"])["date"], row["symbol"], row["side"], row["kind"]))
    counts = {kind: sum(1 for row in rows if row["kind"] == kind) for kind in ("matched", "missed", "extra")}
    return {
        "rows": rows,
        "totals": {
            **counts,
            "live_pnl": _money(totals["live_pnl"]),
            "backtest_pnl": _money(totals["backtest_pnl"]),
            "pnl_difference": _money(totals["live_pnl"] - totals["backtest_pnl"]),
            "slippage": _money(totals["slippage"]),
            "size_effect": _money(totals["size"]),
            "commission_difference": _money(totals["commission"]),
            "missed_pnl": _money(totals["missed"]),
            "extra_pnl": _money(totals["extra"]),
            "avg_slippage_bps": (str((slipped_notional / slipped_shares * 10_000).quantize(BPS))
                                 if slipped_shares else None),
        },
    }


def pnl_curves(simulated: Sequence[SimulatedFill], live: Sequence[Execution], closes: pd.DataFrame) -> list[dict[str, Any]]:
    """Each session's P&L to date of the backtest's fills and of the live executions, marked at that close.

    ``closes``: session x symbol, forward-filled. Decimal strings to the cent, like every amount of the report.
    """
    index = closes.index
    columns = {symbol: i for i, symbol in enumerate(closes.columns)}
    values = closes.to_numpy(dtype=float)

    def curve(records: Sequence[SimulatedFill | Execution]) -> np.ndarray:
        shares = np.zeros(values.shape)
        cash = np.zeros(len(index))
        for record in records:
            row = int(index.searchsorted(pd.Timestamp(record.session)))
            if row >= len(index):
                continue
            signed = SIGN[record.side] * float(record.quantity)
            shares[row:, columns[record.symbol]] += signed
            cash[row:] -= signed * float(record.price) + float(record.commission)
        return cash + np.nansum(shares * values, axis=1)

    backtest, actual = curve(simulated), curve(live)
    return [{"date": ts.date().isoformat(), "backtest_pnl": f"{b:.2f}", "live_pnl": f"{a:.2f}"}
            for ts, b, a in zip(index, backtest, actual, strict=True)]
