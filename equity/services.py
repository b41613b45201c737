"""Equity writes: FIFO P&L attribution from fills, and daily equity snapshots.

Fills are the source of truth. Both the attribution and the snapshots are
rebuilt from them (plus daily bars for marks), so a backfill produces exactly
what the live path would have written.

Attribution conventions:

* ``fifo_rebuild`` replays every fill of a symbol through the pure ``Ledger`` and
  makes the ``TradePnlAttribution`` rows equal to the replay. It also stores the
  open lots left at the end in the symbol's ``FifoBook`` (entry fill ids and
  signed open quantities, oldest first) with the last fill replayed
  (``through_fill``, in execution order: ``executed_at``, then id).
* ``attribution_record_fill`` is incremental: under the account's row lock it
  reads the book, loads the fills after ``through_fill`` (normally just the new
  one) and only the entry fills of the lots they close, matches them FIFO
  exactly as the ledger does, creates the new rows and rewrites the book: the
  work is in the lots touched, not in the symbol's history.
* It falls back to the full replay when the book cannot be trusted: a fill
  executed before ``through_fill`` (late, out of order or corrected), no book
  while the symbol has other fills (data from before the book existed), or a
  fill the book refers to was deleted. Both paths write identical rows (a
  Hypothesis test compares them on random fill sequences).

Snapshot conventions (spec 2.1, ``equity_snapshots``):

* positions and cash are the replay of every fill executed up to the end of the
  snapshot date in New York (after-hours fills count for their trade date);
* each open symbol is marked at the freshest price known on that date: the
  session's bar close; otherwise the latest of an earlier bar close, the live
  quote and the last fill price (a bar wins a tie, then the quote);
* ``total_equity = cash + market_value``; ``unrealized_pnl`` marks the open FIFO
  lots against their entry prices; ``realized_pnl = total_equity - initial_cash
  - unrealized_pnl``, i.e. closed-trade P&L net of every commission paid so far;
* ``daily_return`` is against the previous snapshot's equity (``initial_cash``
  for the first snapshot), so compounding the daily returns gives exactly the
  ``cumulative_return`` against ``initial_cash``;
* ``max_drawdown`` is the running maximum drawdown as a non-positive
  fraction (-0.05 = the worst close so far was 5% below the running peak; the
  peak starts at ``initial_cash``), the sign the backtest metrics use;
* ``benchmark_return`` is the benchmark's (SPY) close-to-close return from the
  previous session's bar to this session's bar, null when either is missing.

REAL mode: an account reconciled against a real broker gets today's snapshot from the
broker: reconciled first, then ``total_equity`` is the broker's equity, ``cash`` its cash,
``market_value`` the difference and ``unrealized_pnl`` that minus the broker's cost of the
positions. When the broker does not answer, the snapshot is the ledger's (as for paper).
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from alphaloop import bus
from alphaloop.audit import audit_log_create
from alphaloop.events import EquityUpdated, TradeClosed
from alphaloop.exceptions import ApplicationError
from alphaloop.money import money, ratio
from equity.ledger import LONG, SHORT, ClosedTrade, Ledger, LedgerFill
from equity.models import EquitySnapshot, FifoBook, TradePnlAttribution
from marketdata import calendar
from marketdata.calendar import market_date, market_day_end
from marketdata.models import Bar, Quote
from orders.models import Account, Fill, Position
from orders.reconciliation import broker_reconcile, reconciled_accounts
from orders.selectors import broker_books, broker_positions

logger = logging.getLogger(__name__)

def benchmark_symbol() -> str:
    return settings.EQUITY_BENCHMARK_SYMBOL


# --- fills -> ledger ---------------------------------------------------------


def _multipliers(account: Account) -> dict[str, int]:
    return dict(Position.objects.filter(account=account).values_list("symbol", "multiplier"))


def _ledger_fill(fill: Fill, multipliers: dict[str, int]) -> LedgerFill:
    order = fill.order
    return LedgerFill(
        id=fill.pk,
        symbol=fill.symbol,
        side=fill.side,
        quantity=fill.quantity,
        price=fill.price,
        commission=fill.commission,
        executed_at=fill.executed_at,
        multiplier=multipliers.get(fill.symbol, 1),
        strategy_tag=order.strategy_tag,
        factor_tag=order.factor_tag,
        plan_id=order.plan_id,
    )


def account_fills(account: Account, *, symbol: str | None = None, until: dt.datetime | None = None) -> list[LedgerFill]:
    """The account's fills in execution order (``executed_at``, then id), strictly before ``until``."""
    fills = Fill.objects.filter(account=account).select_related("order").order_by("executed_at", "id")
    if symbol is not None:
        fills = fills.filter(symbol=symbol)
    if until is not None:
        fills = fills.filter(executed_at__lt=until)
    multipliers = _multipliers(account)
    return [_ledger_fill(fill, multipliers) for fill in fills]


# --- P&L attribution -------------------------------------------------------------


@dataclass(frozen=True)
class AttributionSync:
    created: list[TradePnlAttribution]
    updated: int
    deleted: int


SYNCED_FIELDS = (
    "symbol", "trade_date", "entry_date", "direction", "entry_price", "exit_price", "quantity", "realized_pnl",
    "holding_days", "strategy_tag", "factor_tag", "plan_id",
)


def _attribution_values(trade: ClosedTrade) -> dict:
    entry_day = market_date(trade.entry.executed_at)
    exit_day = market_date(trade.exit.executed_at)
    return {
        "symbol": trade.exit.symbol,
        "trade_date": exit_day,
        "entry_date": entry_day,
        "direction": trade.direction,
        "entry_price": trade.entry.price,
        "exit_price": trade.exit.price,
        "quantity": trade.quantity,
        "realized_pnl": money(trade.net_pnl),
        "holding_days": (exit_day - entry_day).days,
        "strategy_tag": trade.entry.strategy_tag or None,
        "factor_tag": trade.entry.factor_tag or None,
        "plan_id": trade.entry.plan_id,
    }


def _attribution_sync(*, account: Account, symbol: str, live: bool) -> AttributionSync:
    """Make the account's rows for ``symbol`` equal the FIFO replay of its fills.

    Keyed on (entry_fill, exit_fill): existing pairs are updated in place, new
    ones created (and announced with ``TradeClosed``), pairs the replay no
    longer produces (a late fill changed the matching, a fill was deleted)
    deleted; their journal entries stay, unlinked. Stores the open lots left in
    the symbol's ``FifoBook``. Runs under the account's row lock so two fills of
    one account never match concurrently.
    """
    Account.objects.select_for_update().filter(pk=account.pk).first()
    fills = account_fills(account, symbol=symbol)
    ledger = Ledger(initial_cash=Decimal("0"))
    trades = ledger.apply_all(fills)
    rows = list(TradePnlAttribution.objects.filter(account=account, symbol=symbol))
    existing = {(row.entry_fill_id, row.exit_fill_id): row for row in rows if row.entry_fill_id and row.exit_fill_id}
    orphans = [row.pk for row in rows if not (row.entry_fill_id and row.exit_fill_id)]  # a fill was deleted
    created: list[TradePnlAttribution] = []
    updated = 0
    for trade in trades:
        values = _attribution_values(trade)
        row = existing.pop((trade.entry.id, trade.exit.id), None)
        if row is None:
            row = TradePnlAttribution.objects.create(
                account=account, entry_fill_id=trade.entry.id, exit_fill_id=trade.exit.id, **values
            )
            created.append(row)
            continue
        changed = [name for name in SYNCED_FIELDS if getattr(row, name) != values[name]]
        if changed:
            for name in changed:
                setattr(row, name, values[name])
            row.save(update_fields=changed)
            updated += 1
    deleted = 0
    stale = orphans + [row.pk for row in existing.values()]
    if stale:
        deleted, _ = TradePnlAttribution.objects.filter(pk__in=stale).delete()
    if fills:
        FifoBook.objects.update_or_create(account=account, symbol=symbol, defaults={
            "through_fill_id": fills[-1].id,
            "lots": [[lot.fill.id, str(lot.quantity)] for lot in ledger.lots.get(symbol, ())],
        })
    else:
        FifoBook.objects.filter(account=account, symbol=symbol).delete()
    for row in created:
        bus.publish(TradeClosed(attribution_id=row.pk, live=live))
    return AttributionSync(created=created, updated=updated, deleted=deleted)


def _book_match(lots: list[list], fill: LedgerFill) -> list[tuple[int, Decimal, str]]:
    """Match ``fill`` against ``lots`` (``[entry_id, signed quantity]``, oldest first) in place, as ``Ledger.apply``
    does; returns (entry fill id, quantity, direction) of each trade it closed."""
    remaining = fill.signed_quantity
    closed = []
    while remaining and lots and (lots[0][1] > 0) != (remaining > 0):
        entry_id, open_quantity = lots[0]
        matched = min(abs(open_quantity), abs(remaining))
        closed.append((entry_id, matched, LONG if open_quantity > 0 else SHORT))
        step = matched if open_quantity > 0 else -matched
        lots[0][1] = open_quantity - step
        remaining += step
        if not lots[0][1]:
            lots.pop(0)
    if remaining:
        lots.append([fill.id, remaining])
    return closed


def _attribution_extend(*, fill: Fill) -> list[TradePnlAttribution] | None:
    """Extend the (account, symbol) book with the fills after its ``through_fill``; ``None`` when only the full
    replay is right (see the module docstring). Runs under the account's row lock."""
    account, symbol = fill.account, fill.symbol
    fills = Fill.objects.filter(account=account, symbol=symbol)
    book = FifoBook.objects.filter(account=account, symbol=symbol).select_related("through_fill").first()
    if book is None:
        if fills.exclude(pk=fill.pk).exists():
            return None
        lots: list[list] = []
        newer = fills
    else:
        through = book.through_fill
        if through is None or (fill.executed_at, fill.pk) < (through.executed_at, through.pk):
            return None
        if fill.pk == through.pk:
            return []  # already recorded
        lots = [[entry_id, Decimal(quantity)] for entry_id, quantity in book.lots]
        newer = fills.filter(
            Q(executed_at__gt=through.executed_at) | Q(executed_at=through.executed_at, pk__gt=through.pk)
        )
    multipliers = _multipliers(account)
    pending = [_ledger_fill(row, multipliers) for row in newer.select_related("order").order_by("executed_at", "id")]
    matches = []
    for exit_fill in pending:
        matches += [(entry_id, exit_fill, quantity, direction)
                    for entry_id, quantity, direction in _book_match(lots, exit_fill)]
    entries = {row.id: row for row in pending}
    wanted = {entry_id for entry_id, *_ in matches} - set(entries)
    if wanted:
        loaded = Fill.objects.filter(pk__in=wanted, account=account, symbol=symbol).select_related("order")
        entries |= {row.pk: _ledger_fill(row, multipliers) for row in loaded}
        if not wanted <= set(entries):
            return None  # an entry fill of the book was deleted
    created = [
        TradePnlAttribution.objects.create(
            account=account, entry_fill_id=entry_id, exit_fill_id=exit_fill.id,
            **_attribution_values(ClosedTrade(
                entry=entries[entry_id], exit=exit_fill, quantity=quantity, direction=direction,
            )),
        )
        for entry_id, exit_fill, quantity, direction in matches
    ]
    if pending:
        FifoBook.objects.update_or_create(account=account, symbol=symbol, defaults={
            "through_fill_id": pending[-1].id,
            "lots": [[entry_id, str(quantity)] for entry_id, quantity in lots],
        })
    for row in created:
        bus.publish(TradeClosed(attribution_id=row.pk, live=True))
    return created


@transaction.atomic
def attribution_record_fill(*, fill: Fill) -> list[TradePnlAttribution]:
    """Bring the FIFO attribution of the fill's (account, symbol) up to date with every fill so far.

    Incremental when the fill comes after every fill already matched; the full replay otherwise (module
    docstring). Returns the closed trades created now: on the live path, where fills are recorded in
    execution order, exactly the trades ``fill`` closed. Idempotent: recording the same fill again
    creates nothing.
    """
    Account.objects.select_for_update().filter(pk=fill.account_id).first()
    created = _attribution_extend(fill=fill)
    if created is None:
        created = _attribution_sync(account=fill.account, symbol=fill.symbol, live=True).created
    return created


@transaction.atomic
def fifo_rebuild(*, account: Account, symbol: str | None = None) -> AttributionSync:
    """Rebuild the account's attribution (one symbol, or all) from every fill. Idempotent.

    Trades found by a rebuild are announced with ``live=False``: their journal
    drafts are made without a notification each.
    """
    if symbol is not None:
        symbols = {symbol}
    else:
        symbols = set(Fill.objects.filter(account=account).values_list("symbol", flat=True).distinct())
        symbols |= set(TradePnlAttribution.objects.filter(account=account).values_list("symbol", flat=True).distinct())
    created: list[TradePnlAttribution] = []
    updated = deleted = 0
    for name in sorted(symbols):
        result = _attribution_sync(account=account, symbol=name, live=False)
        created += result.created
        updated += result.updated
        deleted += result.deleted
    audit_log_create(
        action="equity.fifo_rebuild",
        resource=f"account:{account.pk}",
        payload={"symbol": symbol, "created": len(created), "updated": updated, "deleted": deleted},
    )
    return AttributionSync(created=created, updated=updated, deleted=deleted)


# --- daily snapshots -------------------------------------------------------------


class Prices:
    """Bar closes and quotes, one query at a time: the daily path marks a handful of symbols."""

    def last_bar(self, symbol: str, day: dt.date) -> tuple[dt.date, Decimal] | None:
        return (
            Bar.objects.filter(instrument__symbol=symbol, date__lte=day)
            .order_by("-date")
            .values_list("date", "close")
            .first()
        )

    def close_on(self, symbol: str, day: dt.date) -> Decimal | None:
        return Bar.objects.filter(instrument__symbol=symbol, date=day).values_list("close", flat=True).first()

    def quote(self, symbol: str) -> tuple[dt.datetime, Decimal] | None:
        return Quote.objects.filter(instrument__symbol=symbol).values_list("timestamp", "price").first()


class PreloadedPrices(Prices):
    """The same reads from bars loaded in one query: a backfill marks every session of a range."""

    def __init__(self, symbols: set[str], until: dt.date) -> None:
        self._dates: dict[str, list[dt.date]] = {}
        self._closes: dict[str, list[Decimal]] = {}
        bars = Bar.objects.filter(instrument__symbol__in=symbols, date__lte=until).order_by("date")
        for symbol, day, close in bars.values_list("instrument__symbol", "date", "close"):
            self._dates.setdefault(symbol, []).append(day)
            self._closes.setdefault(symbol, []).append(close)
        self._quotes = {
            symbol: (at, price)
            for symbol, at, price in Quote.objects.filter(instrument__symbol__in=symbols).values_list(
                "instrument__symbol", "timestamp", "price"
            )
        }

    def last_bar(self, symbol: str, day: dt.date) -> tuple[dt.date, Decimal] | None:
        dates = self._dates.get(symbol, [])
        index = bisect.bisect_right(dates, day) - 1
        return (dates[index], self._closes[symbol][index]) if index >= 0 else None

    def close_on(self, symbol: str, day: dt.date) -> Decimal | None:
        bar = self.last_bar(symbol, day)
        return bar[1] if bar is not None and bar[0] == day else None

    def quote(self, symbol: str) -> tuple[dt.datetime, Decimal] | None:
        return self._quotes.get(symbol)


def _marks(ledger: Ledger, day: dt.date, prices: Prices) -> dict[str, Decimal]:
    """The freshest price known on ``day`` for every open symbol (see the module docstring)."""
    marks: dict[str, Decimal] = {}
    for symbol in ledger.open_symbols():
        last_fill = ledger.last_fill[symbol]
        candidates = [(market_date(last_fill.executed_at), 0, last_fill.price)]
        bar = prices.last_bar(symbol, day)
        if bar is not None:
            candidates.append((bar[0], 2, bar[1]))
        quote = prices.quote(symbol)
        if quote is not None and market_date(quote[0]) <= day:
            candidates.append((market_date(quote[0]), 1, quote[1]))
        marks[symbol] = max(candidates)[2]
    return marks


def benchmark_return(day: dt.date, prices: Prices | None = None) -> Decimal | None:
    """The benchmark's close-to-close return into session ``day``, from daily bars."""
    prices = prices or Prices()
    today = prices.close_on(benchmark_symbol(), day)
    previous = prices.close_on(benchmark_symbol(), calendar.previous_session(day))
    if today is None or not previous:
        return None
    return ratio(today / previous - 1)


def _broker_figures(account: Account, day: dt.date) -> tuple[Decimal, Decimal, Decimal] | None:
    """REAL mode, today's session: (cash, market value, unrealized P&L) from the broker, just reconciled."""
    if day != market_date(timezone.now()) or account.pk not in {a.pk for a in reconciled_accounts()}:
        return None
    if broker_reconcile(account=account).status == "unavailable":
        logger.warning("equity snapshot of account %s on %s: the broker did not answer, the ledger's figures used",
                       account.pk, day)
        return None
    books = broker_books(account)
    if books is None:
        return None
    market_value = books.equity - books.cash
    cost = sum((p.cost_basis for p in broker_positions(books, account)), Decimal("0"))
    return books.cash, market_value, market_value - cost


def _snapshot_upsert(
    *, account: Account, day: dt.date, fills: list[LedgerFill], prices: Prices, publish: bool,
    broker: tuple[Decimal, Decimal, Decimal] | None = None,
) -> EquitySnapshot:
    if broker is not None:
        cash, market_value, unrealized = broker
    else:
        ledger = Ledger(initial_cash=account.initial_cash)
        ledger.apply_all(fills)
        marks = _marks(ledger, day, prices)
        cash = money(ledger.cash)
        market_value = money(ledger.market_value(marks))
        unrealized = money(ledger.unrealized(marks))
    equity = cash + market_value
    initial = account.initial_cash

    earlier = EquitySnapshot.objects.filter(account=account, snapshot_date__lt=day)
    previous = earlier.order_by("-snapshot_date").first()
    base = previous.total_equity if previous is not None else initial
    peak = max(initial, earlier.aggregate(peak=Max("total_equity"))["peak"] or initial, equity)
    drawdown = ratio(equity / peak - 1) if peak > 0 else None
    previous_max_dd = previous.max_drawdown if previous is not None else None
    max_dd = min((v for v in (drawdown, previous_max_dd, Decimal("0")) if v is not None))

    values = {
        "total_equity": equity,
        "cash": cash,
        "market_value": market_value,
        "realized_pnl": equity - initial - unrealized,
        "unrealized_pnl": unrealized,
        "daily_return": ratio(equity / base - 1) if base > 0 else None,
        "cumulative_return": ratio(equity / initial - 1) if initial > 0 else None,
        "max_drawdown": max_dd,
        "benchmark_return": benchmark_return(day, prices),
    }
    current = EquitySnapshot.objects.filter(account=account, snapshot_date=day).first()
    if current is not None and all(getattr(current, name) == value for name, value in values.items()):
        return current  # nothing changed: no write, no event
    with transaction.atomic():
        # The account's row lock serializes writers: concurrent upserts of a missing row would
        # otherwise deadlock on InnoDB's unique-key gap locks.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        snapshot, _ = EquitySnapshot.objects.update_or_create(account=account, snapshot_date=day, defaults=values)
        if publish:
            _publish(snapshot)
    return snapshot


def _publish(snapshot: EquitySnapshot) -> None:
    bus.publish(EquityUpdated(
        user_id=snapshot.account.user_id,
        snapshot={
            "account_id": snapshot.account_id,
            "date": snapshot.snapshot_date,
            "total_equity": snapshot.total_equity,
            "cash": snapshot.cash,
            "market_value": snapshot.market_value,
            "realized_pnl": snapshot.realized_pnl,
            "unrealized_pnl": snapshot.unrealized_pnl,
            "daily_return": snapshot.daily_return,
            "cumulative_return": snapshot.cumulative_return,
            "max_drawdown": snapshot.max_drawdown,
            "benchmark_return": snapshot.benchmark_return,
        },
    ))


def _require_session(day: dt.date) -> None:
    if not calendar.is_session(day):
        raise ApplicationError(
            f"{day.isoformat()} is not an NYSE session.", code="not_a_session", extra={"date": day.isoformat()}
        )


def create_daily_snapshot(*, account: Account, date: dt.date, publish: bool = True) -> EquitySnapshot:
    """Write (or rewrite) the account's snapshot for session ``date`` and push it as ``equity_update``."""
    _require_session(date)
    broker = _broker_figures(account, date)
    fills = [] if broker is not None else account_fills(account, until=market_day_end(date))
    return _snapshot_upsert(account=account, day=date, fills=fills, prices=Prices(), publish=publish, broker=broker)


def equity_snapshots_backfill(*, account: Account, start: dt.date, end: dt.date) -> list[EquitySnapshot]:
    """Rewrite the snapshots of every session from ``start`` to ``end`` from fills and bars, in date order.

    Loads the fills and the bars once; each session replays its prefix of the
    fills and reads the same marks the daily path would query. Nothing is pushed live.
    Later snapshots outside the range keep their stored returns: backfill up to
    the latest snapshot (or from the account's first fill) to keep them chained.
    """
    if start > end:
        raise ApplicationError(
            "start must be on or before end.", code="invalid_range", extra={"start": start.isoformat()}
        )
    fills = account_fills(account, until=market_day_end(end))
    executed = [fill.executed_at for fill in fills]
    prices = PreloadedPrices({fill.symbol for fill in fills} | {benchmark_symbol()}, until=end)
    snapshots = []
    for day in calendar.sessions_between(start, end):
        prefix = fills[: bisect.bisect_left(executed, market_day_end(day))]
        snapshots.append(_snapshot_upsert(account=account, day=day, fills=prefix, prices=prices, publish=False))
    audit_log_create(
        action="equity.backfill",
        resource=f"account:{account.pk}",
        payload={"start": start, "end": end, "snapshots": len(snapshots)},
    )
    return snapshots


def equity_snapshots_backfill_since(
    *, account: Account, start: dt.date, now: dt.datetime | None = None
) -> list[EquitySnapshot]:
    """Backfill from ``start`` through the last closed session (nothing when that is before ``start``): after fills
    dated in the past were booked, every later snapshot is rewritten, so the curve stays chained to today."""
    end = calendar.last_closed_session(now or timezone.now())
    if start > end:
        return []
    return equity_snapshots_backfill(account=account, start=start, end=end)


def equity_snapshot_job_run(*, now: dt.datetime | None = None) -> dict:
    """The 16:30 ET job: snapshot every account for today's session once it has closed.

    Skips days that are not NYSE sessions and calls made before the close; running it
    again rewrites the same rows (upsert on account and date).
    """
    now = now or timezone.now()
    day = market_date(now)
    if not calendar.is_session(day):
        return {"session": None, "skipped": "not a session", "accounts": 0}
    if now < calendar.session_open_close(day)[1]:
        return {"session": day.isoformat(), "skipped": "session not closed", "accounts": 0}
    done, failed = [], []
    for account in Account.objects.order_by("id"):
        try:
            create_daily_snapshot(account=account, date=day)
            done.append(account.pk)
        except Exception:  # one broken account must not cost every other account its snapshot
            logger.exception("equity snapshot failed for account %s on %s", account.pk, day)
            failed.append(account.pk)
    audit_log_create(
        action="equity.snapshot_job",
        resource=f"session:{day.isoformat()}",
        payload={"accounts": done, "failed": failed},
    )
    return {"session": day.isoformat(), "skipped": None, "accounts": len(done), "failed": failed}
