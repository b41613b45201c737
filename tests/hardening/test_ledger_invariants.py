"""Ledger invariants under random trading: a Hypothesis state machine drives the paper broker.

Each example opens a fresh account at 100,000.00 and, with the clock frozen inside a regular
session (2026-11-24 10:00 ET) and moved only by the machine, runs random steps: submits of every
order type and side (whole and fractional sizes, limits and stops around the quote, client order
id replays), cancels, ticks through ``marketdata.pipeline.tick_ingest`` (quote moves that fill
resting and partially filled orders), the equity snapshot and daily-loss jobs, trading-state
switches and the passing of time. After every step it checks:

* the ledger identity ``cash == initial_cash + realized_pnl - total_commission - sum(cost_basis)``
  to the cent, and that the account's totals are the sums of its fills (cash flows, commissions,
  realized P&L) and each position the signed sum of its fills;
* every order: ``0 <= filled_quantity <= quantity``, filled quantity = the sum of its fills, and
  a status that agrees with it (REJECTED orders have no fills);
* terminal orders (FILLED, CANCELLED, REJECTED, EXPIRED) never change, row or fills;
* the guard's limits: no accepted order breaks a limit as it stood when it was submitted
  (quantity, value, price band, ``MAX_SINGLE_ORDER_PCT`` of equity, buying power, trading state,
  a tripped breaker), no order is accepted after the daily-loss breaker tripped, and no 60-second
  window holds more than ``MAX_ORDERS_PER_MINUTE`` non-rejected orders;
* a snapshot of today rebuilt by the equity app from the fills has the account's cash.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
import time_machine
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from equity.services import create_daily_snapshot
from marketdata.calendar import sessions_between
from marketdata.models import Bar, Instrument, Quote
from marketdata.pipeline import quote_store, tick_ingest
from orders.cancellation import order_cancel
from orders.ledger import ZERO, adverse_price, money, order_commission
from orders.models import Account, Fill, Order, Position
from orders.risk import account_trading_state_set, breaker_check
from orders.submission import order_place, order_submit

UTC = dt.timezone.utc
START = dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET, the session is open
TODAY, PREVIOUS_SESSION = dt.date(2026, 11, 24), dt.date(2026, 11, 23)
SYMBOLS = ("AAPL", "MSFT")
INITIAL_CASH = D("100000.00")
BPS = D("10000")
CENT = D("0.01")

# Tight limits so that every rule bites within a few steps.
LIMITS = {
    "MAX_ORDERS_PER_MINUTE": 5,
    "MAX_SINGLE_ORDER_PCT": D("0.40"),
    "MAX_DAILY_LOSS_PCT": D("0.01"),
    "MAX_ORDER_QUANTITY": D("400"),
    "MAX_ORDER_VALUE": D("40000"),
    "PRICE_BAND_WARN_PCT": D("0.03"),
    "PRICE_BAND_REFUSE_PCT": D("0.10"),
    "PAPER_MAX_FILL_QTY": D("60"),  # larger orders fill in pieces, on submit and on later ticks
}
SLIPPAGE_BPS, COMMISSION_PER_SHARE, COMMISSION_MIN = D("5"), D("0.005"), D("1.00")
ORDER_FIELDS = [f.attname for f in Order._meta.concrete_fields]
_usernames = itertools.count(1)

quantities = st.one_of(
    st.integers(min_value=1, max_value=120).map(D),
    st.integers(min_value=1, max_value=450).map(D),
    st.decimals(min_value=D("0.000001"), max_value=D("3"), places=6),
)
sides = st.sampled_from([Order.BUY, Order.SELL])
tifs = st.sampled_from([Order.DAY, Order.GTC])
pauses = st.integers(min_value=0, max_value=20)  # seconds the clock moves before a step


def _price(reference: D, bps: int) -> D:
    return (reference * (1 + D(bps) / BPS)).quantize(CENT, rounding=ROUND_HALF_UP)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        user = get_user_model().objects.create_user(f"ledger-{next(_usernames)}", password="x-unused-password-1")
        self.account = user.accounts.get()  # made with the user, PAPER_INITIAL_CASH
        for symbol in SYMBOLS:
            quote_store(symbol=symbol, price=D("100"), source="hypothesis")
        self.terminal: dict[int, tuple[dict, list]] = {}

    def teardown(self) -> None:
        # Later examples reuse the symbols: this account's working orders must not fill on their ticks.
        Order.objects.filter(account=self.account, status__in=Order.OPEN_STATUSES).update(status=Order.CANCELLED)
        self.traveller.stop()

    # --- a model of the account, computed here rather than by the guard --------------------------

    def _books(self) -> dict:
        account = Account.objects.get(pk=self.account.pk)
        quotes = dict(Quote.objects.filter(instrument__symbol__in=SYMBOLS).values_list("instrument__symbol", "price"))
        positions = dict(Position.objects.filter(account=account).values_list("symbol", "quantity"))
        values = {s: money(q * quotes[s]) for s, q in positions.items() if q}
        open_orders = list(Order.objects.filter(account=account, status__in=Order.OPEN_STATUSES).order_by("created_at", "id"))
        return {
            "account": account, "quotes": quotes, "positions": positions, "open": open_orders,
            "equity": account.cash + sum(values.values(), ZERO), "gross": sum((abs(v) for v in values.values()), ZERO),
        }

    @staticmethod
    def _buy_price(order_type: str, limit: D | None, stop: D | None, mark: D) -> D:
        if order_type in (Order.LIMIT, Order.STOP_LIMIT):
            return limit
        return adverse_price(max(p for p in (mark, stop) if p is not None), Order.BUY, SLIPPAGE_BPS)

    def _commitments(self, books: dict) -> D:
        """What open orders may still add, oldest first closing the position (the documented rule)."""
        closable = {s: abs(q) for s, q in books["positions"].items()}
        total = ZERO
        for order in books["open"]:
            held = books["positions"].get(order.symbol, ZERO)
            remaining = order.quantity - order.filled_quantity
            if (held > 0 and order.side == Order.SELL) or (held < 0 and order.side == Order.BUY):
                closes = min(remaining, closable[order.symbol])
                closable[order.symbol] -= closes
                remaining -= closes
            if remaining <= 0:
                continue
            mark = books["quotes"][order.symbol]
            if order.side == Order.BUY:
                price = self._buy_price(order.order_type, order.limit_price, order.stop_price, mark)
            else:
                price = max(p for p in (mark, order.limit_price, order.stop_price) if p is not None)
            total += money(remaining * price)
        return total

    # --- rules ----------------------------------------------------------------------------------------

    def _submit(self, *, symbol: str, side: str, order_type: str, quantity: D, stop: D | None, limit: D | None,
                tif: str, seconds: int, mark: D, books: dict) -> None:
        self.clock.shift(seconds)
        before = Order.objects.filter(account=self.account).count()

        order = order_submit(account=self.account, symbol=symbol, side=side, quantity=quantity, order_type=order_type,
                             time_in_force=tif, limit_price=limit, stop_price=stop)

        assert Order.objects.filter(account=self.account).count() == before + 1
        event(f"submit {order_type} -> {order.status} {order.reject_code}{' warned' if order.warnings else ''}".strip())
        if order.status == Order.REJECTED:
            assert order.reject_code and not order.fills.exists()
            return
        self._assert_within_limits(order, books, mark)

    @rule(symbol=st.sampled_from(SYMBOLS), side=sides, market=st.booleans(), quantity=quantities,
          stop_bps=st.integers(min_value=-500, max_value=500), tif=tifs, seconds=pauses)
    def submit_market_or_stop(self, symbol, side, market, quantity, stop_bps, tif, seconds):
        books = self._books()
        mark = books["quotes"][symbol]
        stop = None if market else _price(mark, stop_bps)
        self._submit(symbol=symbol, side=side, order_type=Order.MARKET if market else Order.STOP, quantity=quantity,
                     stop=stop, limit=None, tif=tif, seconds=seconds, mark=mark, books=books)

    @rule(symbol=st.sampled_from(SYMBOLS), side=sides, stop_limit=st.booleans(), quantity=quantities,
          limit_bps=st.integers(min_value=-1200, max_value=1200), stop_bps=st.integers(min_value=-500, max_value=500),
          tif=tifs, seconds=pauses)
    def submit_limit_or_stop_limit(self, symbol, side, stop_limit, quantity, limit_bps, stop_bps, tif, seconds):
        books = self._books()
        mark = books["quotes"][symbol]
        stop = _price(mark, stop_bps) if stop_limit else None
        limit = _price(stop if stop_limit else mark, limit_bps)
        self._submit(symbol=symbol, side=side, order_type=Order.STOP_LIMIT if stop_limit else Order.LIMIT,
                     quantity=quantity, stop=stop, limit=limit, tif=tif, seconds=seconds, mark=mark, books=books)

    def _assert_within_limits(self, order: Order, books: dict, mark: D) -> None:
        """An accepted order broke no limit as the books stood when it was submitted."""
        account = books["account"]
        assert account.trading_state != Account.HALTED
        assert account.breaker_session != TODAY
        reference = max(p for p in (mark, order.limit_price, order.stop_price) if p is not None)
        assert order.quantity <= LIMITS["MAX_ORDER_QUANTITY"]
        assert money(order.quantity * reference) <= LIMITS["MAX_ORDER_VALUE"]
        if order.order_type in (Order.LIMIT, Order.STOP_LIMIT):
            band = order.stop_price if order.order_type == Order.STOP_LIMIT else mark
            through = (order.limit_price - band) / band if order.side == Order.BUY else (band - order.limit_price) / band
            assert through <= LIMITS["PRICE_BAND_REFUSE_PCT"]
            assert bool(order.warnings) == (through > LIMITS["PRICE_BAND_WARN_PCT"])
        held = books["positions"].get(order.symbol, ZERO)
        pending = sum((o.quantity - o.filled_quantity for o in books["open"] if o.symbol == order.symbol and o.side == order.side),
                      ZERO)
        opposes = (held > 0 and order.side == Order.SELL) or (held < 0 and order.side == Order.BUY)
        closing = max(ZERO, min(order.quantity, abs(held) - pending)) if opposes else ZERO
        opening = order.quantity - closing
        if account.trading_state == Account.REDUCING:
            assert opening == 0
        assert opening * reference <= LIMITS["MAX_SINGLE_ORDER_PCT"] * books["equity"]
        if opening > 0:
            price = self._buy_price(order.order_type, order.limit_price, order.stop_price, mark) if order.side == Order.BUY else reference
            cost = money(opening * price) + order_commission(order.quantity, COMMISSION_PER_SHARE, COMMISSION_MIN)
            assert cost <= books["equity"] - books["gross"] - self._commitments(books)

    @precondition(lambda self: Order.objects.filter(account=self.account, status__in=Order.OPEN_STATUSES).exists())
    @rule(data=st.data())
    def cancel(self, data):
        ids = list(Order.objects.filter(account=self.account, status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED])
                   .order_by("id").values_list("id", flat=True))
        order = order_cancel(order=Order.objects.get(pk=data.draw(st.sampled_from(ids))))
        assert order.status == Order.CANCELLED and order.filled_quantity < order.quantity

    @precondition(lambda self: Order.objects.filter(account=self.account).exists())
    @rule(data=st.data())
    def replay_a_client_order_id(self, data):
        existing = data.draw(st.sampled_from(list(Order.objects.filter(account=self.account).order_by("id"))))
        count = Order.objects.count()
        order, created = order_place(account=self.account, symbol=existing.symbol, side=existing.side,
                                     quantity=existing.quantity, order_type=existing.order_type,
                                     time_in_force=existing.time_in_force, limit_price=existing.limit_price,
                                     stop_price=existing.stop_price, client_order_id=existing.client_order_id)
        assert (order.pk, created, Order.objects.count()) == (existing.pk, False, count)

    def _tick(self, symbol: str, move_bps: int, volume: int, seconds: int) -> None:
        self.clock.shift(seconds)
        price = Quote.objects.get(instrument__symbol=symbol).price
        moved = min(max(_price(price, move_bps), D("50")), D("200"))
        fills = Fill.objects.filter(account=self.account).count()
        tick_ingest(symbol=symbol, price=moved, source="hypothesis", volume=volume)
        event(f"tick filled {min(Fill.objects.filter(account=self.account).count() - fills, 2)}+ resting orders")

    @rule(symbol=st.sampled_from(SYMBOLS), move_bps=st.integers(min_value=-300, max_value=300),
          volume=st.sampled_from([0, 0, 25, 100]), seconds=pauses)
    def tick(self, symbol, move_bps, volume, seconds):
        self._tick(symbol, move_bps, volume, seconds)

    @rule(symbol=st.sampled_from(SYMBOLS), down=st.booleans(), move_bps=st.integers(min_value=500, max_value=1500),
          seconds=pauses)
    def price_gap(self, symbol, down, move_bps, seconds):
        """A jump that triggers stops and moves equity enough for the daily-loss breaker."""
        self._tick(symbol, -move_bps if down else move_bps, 0, seconds)

    @rule(job=st.sampled_from(["snapshot today", "snapshot previous session", "daily loss check", "set ACTIVE",
                               "set ACTIVE", "set REDUCING", "set HALTED"]), seconds=pauses)
    def job_or_admin_action(self, job, seconds):
        """The periodic jobs (equity snapshot, daily-loss check) and the admin's trading-state switch."""
        self.clock.shift(seconds)
        if job.startswith("set "):
            account_trading_state_set(account=self.account, state=job.removeprefix("set "))
        elif job == "daily loss check":
            event(f"daily loss check tripped: {breaker_check(account=Account.objects.get(pk=self.account.pk))}")
        elif job == "snapshot today":
            snapshot = create_daily_snapshot(account=self.account, date=TODAY)
            assert snapshot.cash == Account.objects.get(pk=self.account.pk).cash  # the fills replay to the same cash
        else:
            snapshot = create_daily_snapshot(account=self.account, date=PREVIOUS_SESSION)
            assert snapshot.total_equity == INITIAL_CASH  # nothing had traded by the previous close

    # Sums are taken in Python: SQLite adds DECIMAL columns as floats, which is no test of a ledger.

    @invariant()
    def ledger_identity_holds(self):
        account = Account.objects.get(pk=self.account.pk)
        positions = list(Position.objects.filter(account=account))
        fills = list(Fill.objects.filter(account=account))
        held_basis = sum((p.cost_basis for p in positions), ZERO)
        assert account.cash == account.initial_cash + account.realized_pnl - account.total_commission - held_basis
        assert account.cash - account.initial_cash == sum((f.cash_flow for f in fills), ZERO)
        assert account.total_commission == sum((f.commission for f in fills), ZERO)
        assert account.realized_pnl == sum((f.realized_pnl for f in fills), ZERO) == sum((p.realized_pnl for p in positions), ZERO)
        for position in positions:
            signed = sum((f.quantity if f.side == Order.BUY else -f.quantity for f in fills if f.symbol == position.symbol), ZERO)
            assert position.quantity == signed
            if position.quantity == 0:
                assert position.cost_basis == 0

    def _fills_by_order(self) -> dict[int, list[tuple[int, D]]]:
        by_order: dict[int, list[tuple[int, D]]] = {}
        for fill_id, order_id, quantity in Fill.objects.filter(account=self.account).values_list("id", "order_id", "quantity"):
            by_order.setdefault(order_id, []).append((fill_id, quantity))
        return by_order

    @invariant()
    def fills_agree_with_their_orders(self):
        fills = self._fills_by_order()
        for order in Order.objects.filter(account=self.account):
            assert ZERO <= order.filled_quantity <= order.quantity
            assert order.filled_quantity == sum((q for _, q in fills.get(order.pk, [])), ZERO)
            if order.status == Order.FILLED:
                assert order.filled_quantity == order.quantity
            elif order.status in (Order.NEW, Order.ACCEPTED, Order.REJECTED):
                assert order.filled_quantity == 0
            elif order.status == Order.PARTIALLY_FILLED:
                assert 0 < order.filled_quantity < order.quantity
            else:
                assert order.filled_quantity < order.quantity

    @invariant()
    def terminal_orders_never_change(self):
        fills = self._fills_by_order()
        rows = Order.objects.filter(account=self.account, status__in=Order.TERMINAL_STATUSES).values(*ORDER_FIELDS)
        seen = set()
        for row in rows:
            state = (row, sorted(fills.get(row["id"], [])))
            seen.add(row["id"])
            assert self.terminal.setdefault(row["id"], state) == state, f"terminal order {row['id']} changed"
        assert set(self.terminal) <= seen, "a terminal order left its terminal status"

    @invariant()
    def no_order_is_accepted_once_the_breaker_tripped(self):
        account = Account.objects.get(pk=self.account.pk)
        if account.breaker_tripped_at is not None:
            late = Order.objects.filter(account=account, created_at__gt=account.breaker_tripped_at).exclude(status=Order.REJECTED)
            assert not late.exists()

    @invariant()
    def no_minute_holds_more_orders_than_the_rate_limit(self):
        times = list(Order.objects.filter(account=self.account).exclude(status=Order.REJECTED)
                     .order_by("created_at").values_list("created_at", flat=True))
        window = dt.timedelta(seconds=60)
        for i, at in enumerate(times):
            assert sum(1 for t in times[: i + 1] if t > at - window) <= LIMITS["MAX_ORDERS_PER_MINUTE"]


@pytest.mark.django_db(transaction=True)
def test_the_ledger_invariants_hold_under_random_trading(settings):
    for name, value in LIMITS.items():
        setattr(settings, name, value)
    settings.PAPER_SLIPPAGE_BPS, settings.PAPER_COMMISSION_PER_SHARE, settings.PAPER_COMMISSION_MIN = (
        SLIPPAGE_BPS, COMMISSION_PER_SHARE, COMMISSION_MIN,
    )
    settings.TRADING_HOURS_ONLY = True
    sessions = sessions_between(dt.date(2026, 10, 1), PREVIOUS_SESSION)[-3:]
    for symbol in SYMBOLS:
        instrument = Instrument.objects.create(symbol=symbol)
        Bar.objects.bulk_create(Bar(instrument=instrument, date=day, open=D("100"), high=D("100"), low=D("100"),
                                    close=D("100"), volume=1_000_000) for day in sessions)

    run_state_machine_as_test(
        LedgerMachine,
        settings=hypothesis_settings(
            max_examples=25, stateful_step_count=40, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
