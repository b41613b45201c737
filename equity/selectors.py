"""Equity reads: snapshot series, P&L attribution, alpha/beta and monthly returns.

Definitions the API documents:

* ``drawdown`` of a snapshot is its equity against the running peak (starting at
  ``initial_cash``), a non-positive fraction; ``max_drawdown`` is the stored
  running worst of those.
* attribution ``pct`` is a group's P&L over the sum of the groups' absolute P&L
  in percent (sign kept, 13.6 = 13.6 %; the absolute shares add up to 100), so a
  group's share stays meaningful when winners and losers net out to nearly zero.
  Units follow one rule across the API: a field named ``*_pct`` (or ``pct``) is
  in percent; returns, rates and drawdowns without that suffix are fractions.
* ``alpha``/``beta`` regress the daily returns on the benchmark's over the
  sessions where both are known, as empyrical's ``alpha_beta`` does: beta is
  the OLS slope, alpha is ``(1 + mean(r - rf - beta * (b - rf)))^252 - 1`` with
  ``rf = RISK_FREE_RATE / 252`` per session.
* monthly returns compound the snapshots' daily returns within each month.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum

from alphaloop.money import CENT, money, percent, ratio
from equity.models import EquitySnapshot, TradePnlAttribution
from orders.models import Account

TRADING_DAYS = 252
GROUPS = {"symbol": "symbol", "strategy": "strategy_tag", "factor": "factor_tag"}
UNTAGGED = "untagged"


def equity_snapshots_get(*, account: Account, since: dt.date | None = None, until: dt.date | None = None) -> list[dict]:
    """The account's snapshots from ``since`` to ``until`` (inclusive) with their current drawdown."""
    snapshots = EquitySnapshot.objects.filter(account=account).order_by("snapshot_date")
    earlier_peak = None
    if since is not None:
        earlier_peak = snapshots.filter(snapshot_date__lt=since).aggregate(peak=Max("total_equity"))["peak"]
        snapshots = snapshots.filter(snapshot_date__gte=since)
    if until is not None:
        snapshots = snapshots.filter(snapshot_date__lte=until)
    peak = max(account.initial_cash, earlier_peak or account.initial_cash)
    rows = []
    for snap in snapshots:
        peak = max(peak, snap.total_equity)
        rows.append(
            {
                "date": snap.snapshot_date,
                "equity": snap.total_equity,
                "cash": snap.cash,
                "market_value": snap.market_value,
                "realized_pnl": snap.realized_pnl,
                "unrealized_pnl": snap.unrealized_pnl,
                "daily_return": snap.daily_return,
                "cumulative_return": snap.cumulative_return,
                "benchmark_return": snap.benchmark_return,
                "drawdown": ratio(snap.total_equity / peak - 1) if peak > 0 else None,
                "max_drawdown": snap.max_drawdown,
            }
        )
    return rows


def equity_latest_snapshot(*, account: Account) -> EquitySnapshot | None:
    return EquitySnapshot.objects.filter(account=account).order_by("-snapshot_date").first()


def _attributions(account: Account, start: dt.date | None, end: dt.date | None) -> QuerySet:
    rows = TradePnlAttribution.objects.filter(account=account)
    if start is not None:
        rows = rows.filter(trade_date__gte=start)
    if end is not None:
        rows = rows.filter(trade_date__lte=end)
    return rows


def pnl_attribution_get(
    *, account: Account, start: dt.date | None = None, end: dt.date | None = None, group_by: str = "symbol"
) -> dict:
    """Closed-trade P&L (net of commissions) by symbol, strategy tag or factor tag, biggest first."""
    column = GROUPS[group_by]
    groups = (
        _attributions(account, start, end)
        .values(column)
        .annotate(pnl=Sum("realized_pnl"), trades=Count("id"), wins=Count("id", filter=Q(realized_pnl__gt=0)))
        .order_by(column)
    )
    merged: dict[str, dict] = {}
    for group in groups:
        label = group[column] or UNTAGGED
        into = merged.setdefault(label, {"label": label, "pnl": Decimal("0"), "trades": 0, "wins": 0})
        into["pnl"] += group["pnl"] or Decimal("0")
        into["trades"] += group["trades"]
        into["wins"] += group["wins"]
    gross = sum((abs(row["pnl"]) for row in merged.values()), Decimal("0"))
    attributions = []
    for row in sorted(merged.values(), key=lambda r: (-r["pnl"], r["label"])):
        row["pnl"] = money(row["pnl"])
        row["pct"] = percent(row["pnl"] / gross if gross else Decimal("0"), CENT)  # two places of percent
        attributions.append(row)
    return {
        "group_by": group_by,
        "start_date": start,
        "end_date": end,
        "total_pnl": money(sum((row["pnl"] for row in attributions), Decimal("0"))),
        "attributions": attributions,
    }


def _window_returns(account: Account, start: dt.date | None, end: dt.date | None) -> list[tuple]:
    """``(date, daily_return, benchmark_return)`` of the window's snapshots with either return known."""
    snapshots = EquitySnapshot.objects.filter(
        Q(daily_return__isnull=False) | Q(benchmark_return__isnull=False), account=account
    ).order_by("snapshot_date")
    if start is not None:
        snapshots = snapshots.filter(snapshot_date__gte=start)
    if end is not None:
        snapshots = snapshots.filter(snapshot_date__lte=end)
    return list(snapshots.values_list("snapshot_date", "daily_return", "benchmark_return"))


def _compounded(values: list) -> float | None:
    known = [float(v) for v in values if v is not None]
    return float(np.prod(1.0 + np.array(known, dtype="float64")) - 1.0) if known else None


def alpha_beta(
    returns: np.ndarray, benchmark: np.ndarray, *, risk_free_per_period: float = 0.0
) -> tuple[float, float] | None:
    """Annualized alpha and beta of ``returns`` against ``benchmark`` (None when undefined)."""
    if len(returns) < 2:
        return None
    centred = benchmark - benchmark.mean()
    variance = float(np.mean(centred * centred))
    if variance == 0.0:
        return None
    beta = float(np.mean(centred * returns)) / variance
    excess = (returns - risk_free_per_period) - beta * (benchmark - risk_free_per_period)
    alpha = (1.0 + float(np.mean(excess))) ** TRADING_DAYS - 1.0
    return alpha, beta


def _to_ratio(value: float | None) -> Decimal | None:
    if value is None or not np.isfinite(value):
        return None
    return ratio(Decimal(repr(value)))


def equity_stats_get(*, account: Account, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Alpha/beta/correlation over the sessions where both returns are known; each total return compounds
    every known daily return of its own series in the window (as the equity curve over the same window does)."""
    rows = _window_returns(account, start, end)
    pairs = [(r, b) for _, r, b in rows if r is not None and b is not None]
    returns = np.array([float(r) for r, _ in pairs], dtype="float64")
    bench = np.array([float(b) for _, b in pairs], dtype="float64")
    rf = float(settings.RISK_FREE_RATE) / TRADING_DAYS
    fitted = alpha_beta(returns, bench, risk_free_per_period=rf)
    correlation = None
    if len(returns) >= 2 and returns.std() > 0 and bench.std() > 0:
        correlation = float(np.corrcoef(returns, bench)[0, 1])
    return {
        "start_date": rows[0][0] if rows else start,
        "end_date": rows[-1][0] if rows else end,
        "observations": len(pairs),
        "alpha": _to_ratio(fitted[0]) if fitted else None,
        "beta": _to_ratio(fitted[1]) if fitted else None,
        "correlation": _to_ratio(correlation),
        "total_return": _to_ratio(_compounded([r for _, r, _ in rows])),
        "benchmark_total_return": _to_ratio(_compounded([b for _, _, b in rows])),
        "risk_free_rate": settings.RISK_FREE_RATE,
    }


def monthly_returns_get(*, account: Account, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """``[{year, month, return}]`` compounding the daily returns of each month's snapshots (exact Decimal)."""
    snapshots = EquitySnapshot.objects.filter(account=account, daily_return__isnull=False).order_by("snapshot_date")
    if start is not None:
        snapshots = snapshots.filter(snapshot_date__gte=start)
    if end is not None:
        snapshots = snapshots.filter(snapshot_date__lte=end)
    growth: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal("1"))
    for day, daily in snapshots.values_list("snapshot_date", "daily_return"):
        growth[(day.year, day.month)] *= 1 + daily
    return [{"year": y, "month": m, "return": ratio(g - 1)} for (y, m), g in sorted(growth.items())]


def equity_period_return(*, account: Account, since: dt.date, until: dt.date | None = None) -> Decimal | None:
    """Compounded return of the snapshots dated ``since`` to ``until`` (MTD/YTD for the dashboard)."""
    snapshots = EquitySnapshot.objects.filter(account=account, snapshot_date__gte=since, daily_return__isnull=False)
    if until is not None:
        snapshots = snapshots.filter(snapshot_date__lte=until)
    growth = Decimal("1")
    found = False
    for daily in snapshots.values_list("daily_return", flat=True):
        growth *= 1 + daily
        found = True
    return ratio(growth - 1) if found else None
