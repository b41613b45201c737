"""Reconciliation: AlphaLoop's books against the broker's, on start and every ``BROKER_RECONCILE_SECONDS`` in session.

For an account that trades at a real broker (``ORDER_MODE=REAL``, not a paper account) one run:

1. reads the broker's cash, equity, buying power and positions, then its executions since the last run,
   then its positions again (when they moved meanwhile the comparison waits for the next run: a fill in
   flight is not a difference);
2. books every execution not yet in the ledger through ``orders.external_fills.external_fills_book``:
   executions of orders placed outside AlphaLoop (in the broker's own app) become ``source=BROKER``
   orders and fills, executions of AlphaLoop's orders land on those orders; idempotent on the broker's
   execution id, so the trade stream and reconciliation never book one twice;
3. compares positions (per symbol), cash (to the cent) and open orders (by the broker's order id);
4. records each difference as a ``BrokerMismatch`` (never overwriting either side), warns the owner
   (``risk_warning``) and, per ``BROKER_MISMATCH_ACTION``, moves the account to REDUCING (``reduce``,
   the default) or HALTED (``halt``), or leaves it (``warn``); a state is only ever tightened here. A
   mismatch the next run no longer finds is marked resolved (the trading state stays as it is: the
   trader lifts it in the admin once satisfied).

The broker's figures are kept in ``BrokerSync``: in REAL mode the dashboard, the daily-loss breaker and
the 16:30 equity snapshot read the broker's cash, equity and positions from there.

One broker account (e.g. the Alpaca keys) is reconciled against one AlphaLoop account: the one that books
executions placed outside AlphaLoop (``BROKER_EXTERNAL_ACCOUNT``, else the only non-paper account); with
several real accounts and no such setting nothing is reconciled (their executions would be split arbitrarily).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alphaloop.audit import audit_log_create
from alphaloop.money import money
from marketdata import calendar
from orders import publish
from orders.broker_updates import broker_account_home
from orders.brokers import BrokerAccount, BrokerPosition, BrokerUnavailable, broker_for
from orders.external_fills import ExternalBooking, external_fills_book
from orders.models import Account, BrokerMismatch, BrokerSync, Fill, Order, Position
from orders.risk import account_trading_state_set

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
#: Executions are read again this far back on every run: late-reported ones are not missed (booking is idempotent).
EXECUTIONS_OVERLAP = dt.timedelta(minutes=10)
ACTION_STATES = {"reduce": Account.REDUCING, "halt": Account.HALTED, "warn": None}
STRICTNESS = {Account.ACTIVE: 0, Account.REDUCING: 1, Account.HALTED: 2}
ACTION_WORDS = {"reduce": "the account now only reduces positions", "halt": "the account is halted",
                "warn": "the trading state is unchanged (BROKER_MISMATCH_ACTION=warn)"}


@dataclass(frozen=True)
class Difference:
    kind: str
    symbol: str
    ours: str
    theirs: str

    def describe(self) -> str:
        what = {BrokerMismatch.POSITION: f"{self.symbol} position", BrokerMismatch.CASH: "cash",
                BrokerMismatch.ORDER: f"{self.symbol} open order"}[self.kind]
        return f"{what}: AlphaLoop {self.ours}, broker {self.theirs}"


@dataclass
class Reconciliation:
    """What one run found. ``status``: matched, mismatch, moving (positions moved while read), unavailable."""

    account_id: int
    status: str
    imported: int = 0
    differences: list[Difference] = field(default_factory=list)
    detected: list[BrokerMismatch] = field(default_factory=list)
    resolved: int = 0
    error: str = ""

    def as_dict(self) -> dict:
        return {"account_id": self.account_id, "status": self.status, "imported": self.imported,
                "differences": len(self.differences), "detected": [m.pk for m in self.detected],
                "resolved": self.resolved, "error": self.error}


def _text(value: Decimal) -> str:
    normalized = value.normalize()
    return f"{normalized:f}" if normalized != 0 else "0"


def reconciled_accounts() -> list[Account]:
    """The account reconciled against the broker in REAL mode: the one that books executions placed outside
    AlphaLoop (``BROKER_EXTERNAL_ACCOUNT``, else the only non-paper account), or none."""
    if settings.ORDER_MODE != "REAL":
        return []
    home = broker_account_home()
    return [home] if home is not None else []


def broker_reconcile_all(*, now: dt.datetime | None = None, in_session_only: bool = True) -> dict:
    """The ``broker_reconcile_job`` (and the start of a broker connection): reconcile every reconciled account."""
    now = now or timezone.now()
    if settings.ORDER_MODE != "REAL":
        return {"accounts": 0, "skipped": "ORDER_MODE is not REAL"}
    if in_session_only and not calendar.is_open(now):
        return {"accounts": 0, "skipped": "market closed"}
    results = []
    for account in reconciled_accounts():
        try:
            results.append(broker_reconcile(account=account, now=now).as_dict())
        except Exception:  # one failing account must not stop the others
            logger.exception("reconciliation of account %s failed", account.pk)
            results.append({"account_id": account.pk, "status": "failed"})
    return {"accounts": len(results), "results": results}


def broker_reconcile(*, account: Account, now: dt.datetime | None = None) -> Reconciliation:
    """Reconcile one account with its broker (see the module docstring). Network I/O outside any transaction."""
    now = now or timezone.now()
    broker = broker_for(account)
    sync, _ = BrokerSync.objects.get_or_create(account=account, defaults={"broker": broker.name})
    since = (sync.executions_read_until or account.created_at) - EXECUTIONS_OVERLAP
    try:
        before = broker.positions(account)
        executions = broker.executions(account, after=since)
        theirs_account: BrokerAccount = broker.account(account)
        theirs_positions = broker.positions(account)
        theirs_orders = broker.open_orders(account)
    except BrokerUnavailable as exc:
        return _unavailable(account, sync, now=now, error=str(exc))

    booked = set(Fill.objects.filter(account=account, external_id__in=[e.execution_id for e in executions])
                 .values_list("external_id", flat=True))
    fresh = [execution for execution in executions if execution.execution_id not in booked]
    booking = ExternalBooking()
    if fresh:
        booking = external_fills_book(account=account, executions=fresh, origin="reconciliation")
    if booking.errors:
        error = "; ".join(note.message for note in booking.errors[:3])
        logger.warning("reconciliation of account %s could not book the broker's executions: %s", account.pk, error)
    result = Reconciliation(account_id=account.pk, status="matched", imported=booking.imported)
    if _position_map(before) != _position_map(theirs_positions):
        result.status = "moving"
    else:
        result.differences = _differences(Account.objects.get(pk=account.pk), theirs_account, theirs_positions,
                                          theirs_orders)
    _record(account, sync, result, now=now, theirs_account=theirs_account, positions=theirs_positions,
            read_until=now if not booking.errors else sync.executions_read_until)
    return result


def _unavailable(account: Account, sync: BrokerSync, *, now: dt.datetime, error: str) -> Reconciliation:
    """The broker did not answer: said once when the connection is lost (or never made), then retried each run."""
    first = sync.last_attempt_at is None
    with transaction.atomic():
        lost = BrokerSync.objects.filter(pk=sync.pk, connected=True).update(connected=False)
        BrokerSync.objects.filter(pk=sync.pk).update(last_attempt_at=now, last_error=error[:255], updated_at=now)
        if lost or first:
            data = {"account_id": account.pk, "broker": sync.broker, "error": error[:255]}
            audit_log_create(action="broker.unavailable", resource=f"account:{account.pk}", payload=data)
            publish.risk_warning_publish(
                account=account, title=f"Broker unreachable: {account.code} is not reconciled",
                body=f"The broker did not answer ({error[:200]}). AlphaLoop keeps its own books and tries again "
                     f"every {settings.BROKER_RECONCILE_SECONDS} s.", data=data)
    return Reconciliation(account_id=account.pk, status="unavailable", error=error)


def _position_map(positions: list[BrokerPosition]) -> dict[str, Decimal]:
    return {p.symbol: p.quantity for p in positions if p.quantity != 0}


def _differences(account: Account, theirs_account: BrokerAccount, theirs_positions: list[BrokerPosition],
                 theirs_orders: list) -> list[Difference]:
    differences: list[Difference] = []
    ours = dict(Position.objects.filter(account=account, asset_type=Position.STOCK).exclude(quantity=0)
                .values_list("symbol", "quantity"))
    theirs = _position_map(theirs_positions)
    for symbol in sorted(set(ours) | set(theirs)):
        mine, broker = ours.get(symbol, ZERO), theirs.get(symbol, ZERO)
        if mine != broker:
            differences.append(Difference(BrokerMismatch.POSITION, symbol, _text(mine), _text(broker)))
    if money(account.cash) != money(theirs_account.cash):
        differences.append(Difference(BrokerMismatch.CASH, "", f"{money(account.cash):f}",
                                      f"{money(theirs_account.cash):f}"))
    differences += _order_differences(account, theirs_orders)
    return differences


def _order_differences(account: Account, theirs_orders: list) -> list[Difference]:
    """Open orders by the broker's id. AlphaLoop's NEW orders (still being submitted) are left to the order path."""
    differences: list[Difference] = []
    ours = {o.broker_order_id: o for o in Order.objects.filter(
        account=account, status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED]).exclude(broker_order_id="")}
    submitting = set(Order.objects.filter(account=account, status=Order.NEW).values_list("client_order_id", flat=True))
    theirs = {o.broker_order_id: o for o in theirs_orders}
    for broker_id, order in sorted(ours.items(), key=lambda item: item[1].pk):
        mine = (f"order #{order.pk} {order.side} {_text(order.quantity)} {order.status}, "
                f"{_text(order.filled_quantity)} filled")
        other = theirs.get(broker_id)
        if other is None:
            differences.append(Difference(BrokerMismatch.ORDER, order.symbol, mine, f"order {broker_id} is not open"))
        elif other.filled_quantity != order.filled_quantity or other.quantity != order.quantity:
            differences.append(Difference(BrokerMismatch.ORDER, order.symbol, mine,
                                          f"order {broker_id} {other.side} {_text(other.quantity)} {other.status}, "
                                          f"{_text(other.filled_quantity)} filled"))
    for broker_id, other in theirs.items():
        if broker_id not in ours and other.client_order_id not in submitting:
            differences.append(Difference(BrokerMismatch.ORDER, other.symbol, "no such open order",
                                          f"order {broker_id} {other.side} {_text(other.quantity)} {other.status}, "
                                          f"placed outside AlphaLoop"))
    return differences


def _record(account: Account, sync: BrokerSync, result: Reconciliation, *, now: dt.datetime,
            theirs_account: BrokerAccount, positions: list[BrokerPosition], read_until: dt.datetime | None) -> None:
    """Store the broker's figures and the differences; warn and set the trading state for new ones."""
    action = settings.BROKER_MISMATCH_ACTION
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        sync = BrokerSync.objects.select_for_update().get(pk=sync.pk)
        sync.connected, sync.last_attempt_at, sync.last_success_at, sync.last_error = True, now, now, ""
        sync.cash, sync.equity = money(theirs_account.cash), money(theirs_account.equity)
        sync.buying_power = None if theirs_account.buying_power is None else money(theirs_account.buying_power)
        sync.positions = [{"symbol": p.symbol, "quantity": _text(p.quantity), "avg_cost": _text(p.avg_cost)}
                          for p in sorted(positions, key=lambda p: p.symbol) if p.quantity != 0]
        sync.executions_read_until = read_until
        sync.save()
        if result.status == "moving":
            return
        open_rows = {Difference(m.kind, m.symbol, m.ours, m.theirs): m
                     for m in BrokerMismatch.objects.select_for_update().filter(account=locked, resolved_at__isnull=True)}
        found = set(result.differences)
        for difference, row in open_rows.items():
            if difference not in found:
                row.resolved_at = now
                row.save(update_fields=["resolved_at"])
                result.resolved += 1
                audit_log_create(action="broker.mismatch_resolved", resource=f"account:{locked.pk}",
                                 payload={"mismatch_id": row.pk, "kind": row.kind, "symbol": row.symbol})
        for difference in result.differences:
            if difference not in open_rows:
                result.detected.append(BrokerMismatch.objects.create(
                    account=locked, kind=difference.kind, symbol=difference.symbol, ours=difference.ours[:255],
                    theirs=difference.theirs[:255], action=action, detected_at=now))
        if result.differences:
            result.status = "mismatch"
        if not result.detected:
            return
        data = {"account_id": locked.pk, "action": action,
                "mismatches": [{"id": m.pk, "kind": m.kind, "symbol": m.symbol, "ours": m.ours, "theirs": m.theirs}
                               for m in result.detected]}
        audit_log_create(action="broker.mismatch", resource=f"account:{locked.pk}", payload=data)
        lines = "; ".join(Difference(m.kind, m.symbol, m.ours, m.theirs).describe() for m in result.detected)
        publish.risk_warning_publish(
            account=locked, title=f"Broker mismatch on {locked.code}: {ACTION_WORDS[action]}",
            body=f"{lines}. Nothing was overwritten: check the broker and your books, then set the trading state "
                 "back in the admin.", data=data)
        target = ACTION_STATES[action]
        if target is not None and STRICTNESS[target] > STRICTNESS[locked.trading_state]:
            account_trading_state_set(account=locked, state=target)
