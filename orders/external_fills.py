"""Executions that did not come from an AlphaLoop order: a trader's past trades, or trades placed at the
broker outside AlphaLoop. They are booked into the ledger so it stays whole.

``external_fills_book`` is the building block: each execution becomes a fill of a ``source=BROKER``
order (FILLED, carrying the broker's order id when known), booked through ``orders.fills.fill_apply``
under the account's lock, so positions, cash, realized P&L, commissions, audit rows and the live
``order_update``/fill events are exactly those of any other fill. An execution of an order AlphaLoop
placed at the broker (its ``broker_order_id``) is booked on that order instead, as a venue report
(``fill_record``). ``fills_import`` reads a broker's file (``orders.importers``) and books it.

Guarantees:

- Idempotent on the broker's execution id (``Fill.external_id``, unique per account in the database):
  an execution already in the ledger is counted as a duplicate and booked nothing; the same id with
  another symbol, side, quantity or price is a bad row.
- All or nothing: every bad row is reported with its line and then nothing at all is written.
- Executions are booked in ``executed_at`` order. When some are older than fills already booked for
  their symbol, that symbol's position and its fills' realized P&L are replayed in execution order
  (cash does not depend on the order), and ``FillsImported`` (``alphaloop.events``) lets the equity app
  rebuild the FIFO attribution of the symbols and the snapshots from the first imported session on.
- Executions at the broker happened whatever AlphaLoop's guard would say: they are not checked by the
  OrderSafetyGuard (nothing is being sent anywhere), and they may leave cash negative if the account's
  initial cash is below what the history needed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Lower
from django.utils import timezone

from alphaloop import bus
from alphaloop.audit import audit_log_create
from alphaloop.events import FillsImported
from marketdata.models import Instrument
from orders.fills import FillRefused, fill_apply, fill_record
from orders.importers import READERS, ExternalExecution, RowNote
from orders.ledger import average_cost, position_apply
from orders.models import Account, Fill, Order, Position

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
EARLIEST = dt.datetime(1990, 1, 2, tzinfo=dt.timezone.utc)  # the NYSE calendar's first session (marketdata.calendar)
CLIENT_ORDER_ID_LENGTH = 64
IMPORT_STATUSES = [("imported", "Imported"), ("dry_run", "Dry run: nothing written"), ("refused", "Refused: bad rows")]


class _Refused(Exception):
    """Leaves the booking transaction (rolling it back) with the rows at fault."""

    def __init__(self, errors: list[RowNote]):
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = errors


@dataclass
class ExternalBooking:
    """What booking a batch of external executions did (or, refused or in a dry run, would have done)."""

    imported: int = 0
    duplicates: int = 0
    orders_created: int = 0
    instruments_created: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    first_executed_at: dt.datetime | None = None
    last_executed_at: dt.datetime | None = None
    positions_replayed: list[str] = field(default_factory=list)
    errors: list[RowNote] = field(default_factory=list)


@dataclass
class FillsImportReport:
    """The answer to an import: per-row notes and what was booked. ``status``: imported, dry_run or refused."""

    format: str
    account_id: int
    account_code: str
    dry_run: bool
    status: str = "imported"
    rows: int = 0
    executions: int = 0
    booking: ExternalBooking = field(default_factory=ExternalBooking)
    skipped: list[RowNote] = field(default_factory=list)
    errors: list[RowNote] = field(default_factory=list)

    @property
    def detail(self) -> str:
        """One sentence a trader reads first."""
        booked = self.booking
        if self.status == "refused":
            return f"{len(self.errors)} bad row(s): nothing was imported."
        verb = "Would import" if self.dry_run else "Imported"
        text = (f"{verb} {booked.imported} execution(s) into {self.account_code}; {booked.duplicates} already in the "
                f"ledger; {len(self.skipped)} row(s) skipped.")
        return text + (" Dry run: nothing was written." if self.dry_run else "")

    def as_dict(self) -> dict:
        booked = self.booking
        return {
            "status": self.status, "detail": self.detail, "format": self.format, "account_id": self.account_id,
            "account_code": self.account_code, "dry_run": self.dry_run, "rows": self.rows,
            "executions": self.executions, "imported": booked.imported, "duplicates": booked.duplicates,
            "orders_created": booked.orders_created, "instruments_created": booked.instruments_created,
            "symbols": booked.symbols, "first_executed_at": booked.first_executed_at,
            "last_executed_at": booked.last_executed_at, "positions_replayed": booked.positions_replayed,
            "skipped": [note.as_dict() for note in self.skipped], "errors": [note.as_dict() for note in self.errors],
        }


# --- a broker's file ----------------------------------------------------------------------------------------


def fills_import(
    *, account: Account, content: bytes, file_format: str, dry_run: bool = False, max_rows: int | None = None,
    user=None, ip_address: str | None = None,
) -> FillsImportReport:
    """Read a broker's trade-history file (``file_format``: one of ``orders.importers.FORMATS``) and book it.

    A file with any bad row books nothing (``status`` refused, every bad row in ``errors``); with
    ``dry_run`` everything is checked and counted exactly as an import would, then rolled back. A file
    of more than ``max_rows`` data rows is refused as a whole (an upload must answer within a request:
    each fill is booked and announced like a live one).
    """
    report = FillsImportReport(format=file_format, account_id=account.pk, account_code=account.code, dry_run=dry_run)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        byte = content[exc.start]
        report.errors = [RowNote(line, f"not UTF-8 text (byte 0x{byte:02x}): export the file as UTF-8 or ASCII")]
        report.status = "refused"
        return report
    parsed = READERS[file_format](text)
    report.rows, report.executions, report.skipped = parsed.rows, len(parsed.executions), parsed.skipped
    if max_rows is not None and parsed.rows > max_rows:
        parsed.errors.insert(0, RowNote(1, f"{parsed.rows} rows: an upload takes at most {max_rows} "
                                           "(IMPORT_FILLS_MAX_ROWS); split the file or run manage.py import_fills"))
    if parsed.errors:
        report.errors = sorted(parsed.errors, key=lambda note: note.line)
        report.status = "refused"
        return report
    report.booking = external_fills_book(
        account=account, executions=parsed.executions, origin=f"import:{file_format}", dry_run=dry_run,
        user=user, ip_address=ip_address, audit_extra={"rows": parsed.rows, "skipped": len(parsed.skipped)},
    )
    report.errors = report.booking.errors
    report.status = "refused" if report.errors else "dry_run" if dry_run else "imported"
    return report


# --- the building block ----------------------------------------------------------------------------------------


@dataclass
class _OrderPlan:
    """Where a group of executions is booked: a new BROKER order, an existing one, or an AlphaLoop order."""

    executions: list[ExternalExecution]
    order: Order | None = None  # an existing order (BROKER, or AlphaLoop's placed at the broker)
    client_order_id: str = ""  # for a new BROKER order

    @property
    def quantity(self) -> Decimal:
        return sum((execution.quantity for execution in self.executions), ZERO)


def external_fills_book(
    *, account: Account, executions: list[ExternalExecution], origin: str, dry_run: bool = False, user=None,
    ip_address: str | None = None, audit_extra: dict | None = None,
) -> ExternalBooking:
    """Book executions that happened at the broker (see the module docstring). All or nothing.

    ``origin`` says where they come from in the audit row (``import:ibkr-flex``, ``reconciliation``).
    Returns what was booked, or in ``errors`` every execution that stopped it (then nothing was written).
    """
    booking = ExternalBooking()
    now = timezone.now()
    try:
        with transaction.atomic():
            locked = Account.objects.select_for_update().get(pk=account.pk)
            plans, fresh, booking.duplicates = _plan(locked, sorted(executions, key=ExternalExecution.sort_key), now)
            _book(locked, plans, fresh, booking)
            if dry_run:
                transaction.set_rollback(True)
                return booking
            audit_log_create(
                action="orders.external_fills", resource=f"account:{locked.pk}", user=user, ip_address=ip_address,
                payload={"origin": origin, **(audit_extra or {}), "imported": booking.imported,
                         "duplicates": booking.duplicates, "orders_created": booking.orders_created,
                         "instruments_created": booking.instruments_created, "symbols": booking.symbols,
                         "first_executed_at": booking.first_executed_at, "last_executed_at": booking.last_executed_at,
                         "positions_replayed": booking.positions_replayed},
            )
            if fresh:
                _announce(locked, booking)
    except _Refused as refused:
        return ExternalBooking(errors=sorted(refused.errors, key=lambda note: note.line))
    return booking


def _plan(account: Account, executions: list[ExternalExecution], now: dt.datetime):
    """Reads only: the executions not yet booked, grouped by the order they will be booked on; or ``_Refused``."""
    errors: list[RowNote] = []
    for execution in executions:
        if execution.executed_at > now:
            errors.append(RowNote(execution.line, f"executed at {execution.executed_at.isoformat()}, in the future"))
        elif execution.executed_at < EARLIEST:
            errors.append(RowNote(execution.line,
                                  "executed before 1990-01-02, the first session AlphaLoop's NYSE calendar knows"))

    # Execution ids are compared without regard to letter case (as MariaDB's collation compares them), on every
    # database: an id is never booked twice in two spellings.
    seen: dict[str, ExternalExecution] = {}
    unique: list[ExternalExecution] = []
    duplicates = 0
    for execution in executions:
        first = seen.setdefault(execution.execution_id.lower(), execution)
        if first is execution:
            unique.append(execution)
        elif _same(first, execution):
            duplicates += 1
        else:
            errors.append(RowNote(execution.line, f"execution {execution.execution_id} is also on line {first.line} "
                                                  f"with other values ({first.describe()})"))

    booked = _booked_fills(account, [execution.execution_id for execution in unique])
    fresh: list[ExternalExecution] = []
    for execution in unique:
        fill = booked.get(execution.execution_id.lower())
        if fill is None:
            fresh.append(execution)
        elif (fill.symbol, fill.side, fill.quantity, fill.price) == (execution.symbol, execution.side,
                                                                     execution.quantity, execution.price):
            duplicates += 1
        else:
            errors.append(RowNote(execution.line, f"execution {execution.execution_id} is already booked as fill "
                                                  f"#{fill.pk} ({fill.side} {fill.quantity.normalize():f} {fill.symbol} "
                                                  f"@ {fill.price.normalize():f}), not {execution.describe()}"))

    plans, plan_errors = _order_plans(account, fresh)
    errors += plan_errors
    if errors:
        raise _Refused(errors)
    return plans, fresh, duplicates


def _same(a: ExternalExecution, b: ExternalExecution) -> bool:
    return (a.symbol, a.side, a.quantity, a.price, a.commission, a.executed_at) == \
        (b.symbol, b.side, b.quantity, b.price, b.commission, b.executed_at)


def _booked_fills(account: Account, execution_ids: list[str]) -> dict[str, Fill]:
    """The account's fills with these execution ids in any letter case, by lower-case id."""
    found: dict[str, Fill] = {}
    keys = [execution_id.lower() for execution_id in execution_ids]
    fills = Fill.objects.filter(account=account).annotate(key=Lower("external_id"))
    for start in range(0, len(keys), 500):
        found.update({fill.key: fill for fill in fills.filter(key__in=keys[start:start + 500])})
    return found


def _order_plans(account: Account, executions: list[ExternalExecution]) -> tuple[list[_OrderPlan], list[RowNote]]:
    """One plan per broker order id (its executions are one order), one per execution without one."""
    grouped: dict[str, list[ExternalExecution]] = defaultdict(list)
    plans: list[_OrderPlan] = []
    for execution in executions:
        if execution.broker_order_id:
            grouped[execution.broker_order_id].append(execution)
        else:
            plans.append(_OrderPlan([execution], client_order_id=_client_order_id("exec", execution.execution_id)))
    existing = {order.broker_order_id: order for order in Order.objects.select_for_update().filter(
        account=account, broker_order_id__in=list(grouped))} if grouped else {}
    errors: list[RowNote] = []
    for broker_order_id, members in grouped.items():
        first = members[0]
        for execution in members[1:]:
            if (execution.symbol, execution.side) != (first.symbol, first.side):
                errors.append(RowNote(execution.line, f"order {broker_order_id} is a {first.side} of {first.symbol} (line "
                                                      f"{first.line}), this execution a {execution.side} of "
                                                      f"{execution.symbol}"))
        order = existing.get(broker_order_id)
        plan = _OrderPlan(members, order=order, client_order_id=_client_order_id("order", broker_order_id))
        if order is not None:
            errors += _existing_order_errors(order, plan)
        plans.append(plan)
    taken = set(Order.objects.filter(account=account, client_order_id__in=[
        plan.client_order_id for plan in plans if plan.order is None]).values_list("client_order_id", flat=True))
    for plan in plans:
        if plan.order is None and plan.client_order_id in taken:
            errors.append(RowNote(plan.executions[0].line, f"order id {plan.client_order_id} is taken by another order "
                                                           "of this account"))
    return plans, errors


def _existing_order_errors(order: Order, plan: _OrderPlan) -> list[RowNote]:
    first = plan.executions[0]
    if (order.symbol, order.side) != (first.symbol, first.side):
        return [RowNote(first.line, f"broker order {order.broker_order_id} is order #{order.pk} ({order.side} "
                                    f"{order.symbol}), not a {first.side} of {first.symbol}")]
    if order.source == Order.BROKER:
        return []
    if order.status == Order.REJECTED:
        return [RowNote(first.line, f"broker order {order.broker_order_id} is order #{order.pk}, which was rejected")]
    if plan.quantity > order.remaining_quantity:
        return [RowNote(first.line, f"broker order {order.broker_order_id} is order #{order.pk} with "
                                    f"{order.remaining_quantity.normalize():f} left, less than the "
                                    f"{plan.quantity.normalize():f} these executions fill (already booked under "
                                    "other execution ids?)")]
    return []


def _client_order_id(kind: str, key: str) -> str:
    """A BROKER order's ``client_order_id``: derived from the broker's ids, so booking again finds it."""
    client_order_id = f"broker-{kind}-{key}"
    if len(client_order_id) <= CLIENT_ORDER_ID_LENGTH:
        return client_order_id
    return f"broker-{kind}-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def _book(account: Account, plans: list[_OrderPlan], fresh: list[ExternalExecution], booking: ExternalBooking) -> None:
    """The writes, in execution order; a fill the ledger refuses ends in ``_Refused`` (everything rolled back)."""
    if not fresh:
        return
    symbols = sorted({execution.symbol for execution in fresh})
    latest = dict(Fill.objects.filter(account=account, symbol__in=symbols).values("symbol")
                  .annotate(latest=Max("executed_at")).values_list("symbol", "latest"))
    known = set(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    for symbol in symbols:
        if symbol not in known:
            Instrument.objects.create(symbol=symbol, name=symbol, asset_class=Instrument.STOCK)
            booking.instruments_created.append(symbol)
    order_of: dict[str, Order] = {}  # execution id -> the order it is booked on
    for plan in plans:
        order = _order_for(account, plan)
        if plan.order is None:
            booking.orders_created += 1
        order_of.update({execution.execution_id: order for execution in plan.executions})
    for execution in fresh:
        order = order_of[execution.execution_id]
        try:
            if order.source == Order.BROKER:
                fill_apply(account=account, order=order, quantity=execution.quantity, price=execution.price,
                           commission=execution.commission, executed_at=execution.executed_at,
                           external_id=execution.execution_id)
            else:
                fill_record(order_id=order.pk, quantity=execution.quantity, price=execution.price,
                            commission=execution.commission, executed_at=execution.executed_at,
                            external_id=execution.execution_id)
                account.refresh_from_db(fields=["cash", "realized_pnl", "total_commission"])
        except FillRefused as exc:
            raise _Refused([RowNote(execution.line, f"the ledger refused this execution: {exc}")]) from None
    booking.imported = len(fresh)
    booking.symbols = symbols
    booking.first_executed_at = fresh[0].executed_at
    booking.last_executed_at = fresh[-1].executed_at
    for symbol in symbols:
        if latest.get(symbol) and any(e.symbol == symbol and e.executed_at < latest[symbol] for e in fresh):
            if _position_replay(account, symbol):
                booking.positions_replayed.append(symbol)


def _order_for(account: Account, plan: _OrderPlan) -> Order:
    """The order ``plan``'s executions are booked on, opened for exactly their quantity."""
    first = plan.executions[0]
    order = plan.order
    if order is None:
        order = Order.objects.create(
            account=account, client_order_id=plan.client_order_id, broker_order_id=first.broker_order_id,
            symbol=first.symbol, side=first.side, order_type=Order.MARKET, time_in_force=Order.DAY,
            quantity=plan.quantity, status=Order.ACCEPTED, source=Order.BROKER, accepted_at=first.executed_at,
        )
        # The order's time is the broker's, not the import's: history lists it where it happened.
        Order.objects.filter(pk=order.pk).update(created_at=first.executed_at)
        order.created_at = first.executed_at
    elif order.source == Order.BROKER:
        # More executions of an order booked earlier (a partial fill then the rest): it is open for them.
        order.quantity += plan.quantity
        order.status = Order.PARTIALLY_FILLED
        order.save(update_fields=["quantity", "status", "updated_at"])
    return order


def _position_replay(account: Account, symbol: str) -> bool:
    """Rebuild ``symbol``'s position and its fills' realized P&L by replaying every fill in execution order.

    Needed when fills were booked out of execution order (an older history imported after newer fills):
    the average cost and the P&L each sale realized depend on the order. Cash does not, so cash =
    initial cash + realized P&L - commissions - cost basis held still holds. A position that is not
    the sum of its fills (written in the admin) is left as it is (False).
    """
    position = Position.objects.select_for_update().get(account=account, symbol=symbol)
    fills = list(Fill.objects.filter(account=account, symbol=symbol).order_by("executed_at", "id"))
    booked_realized = sum((fill.realized_pnl for fill in fills), ZERO)
    quantity = basis = realized = ZERO
    opened_at = position.opened_at
    changed: list[Fill] = []
    for fill in fills:
        change = position_apply(quantity=quantity, cost_basis=basis, side=fill.side, fill_quantity=fill.quantity,
                                price=fill.price, multiplier=position.multiplier)
        if change.quantity != 0 and (quantity == 0 or (change.quantity > 0) != (quantity > 0)):
            opened_at = fill.executed_at  # as fill_apply: a new position, or the other side after a flip
        quantity, basis = change.quantity, change.cost_basis
        realized += change.realized_pnl
        if fill.realized_pnl != change.realized_pnl:
            fill.realized_pnl = change.realized_pnl
            changed.append(fill)
    if quantity != position.quantity:
        logger.warning("position %s of account %s is not the sum of its fills; not replayed", symbol, account.pk)
        return False
    delta = realized - booked_realized
    Fill.objects.bulk_update(changed, ["realized_pnl"])
    position.cost_basis = basis
    position.avg_cost = average_cost(basis, quantity, position.multiplier)
    position.realized_pnl += delta
    position.opened_at = opened_at
    position.save(update_fields=["cost_basis", "avg_cost", "realized_pnl", "opened_at", "updated_at"])
    account.realized_pnl += delta
    account.save(update_fields=["realized_pnl", "updated_at"])
    audit_log_create(action="position.replay", resource=f"account:{account.pk}",
                     payload={"symbol": symbol, "realized_pnl_change": delta, "avg_cost": position.avg_cost})
    return True


def _announce(account: Account, booking: ExternalBooking) -> None:
    """``FillsImported``, inside the transaction: the apps that derive data from fills rebuild it with the booking."""
    bus.publish(FillsImported(account_id=account.pk, symbols=tuple(booking.symbols), since=booking.first_executed_at))
