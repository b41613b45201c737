"""What a real broker reports about orders, applied to the ledger: acceptances, executions, cancels, expiries
and rejections (the trade-stream worker, ``orders.brokers.alpaca_stream``, and its catch-up call these).

Every transition goes through the order path's own steps: the account row then the order row locked, an audit
row, ``OrderUpdated`` on the spine (the WebSocket ``order_update``), and for executions ``fill_record`` /
``fill_apply`` (positions, cash to the cent, ``FillRecorded``: FIFO attribution and the journal draft).

- An order is the broker's by its broker order id or, when the broker's answer to the submit was lost, by its
  ``client_order_id`` (AlphaLoop's id is sent as the broker's), among the non-paper accounts.
- Executions are idempotent on the broker's execution id: one fill per execution id and account, held by the
  database, so the same execution reported twice (the stream, then the catch-up) is booked once.
- An execution of an order AlphaLoop does not know (placed in the broker's own app) is booked as a ``BROKER``
  order (``orders.external_fills``) in the account ``BROKER_EXTERNAL_ACCOUNT`` names, by default the only
  non-paper account.
- An execution the ledger refuses (more than the order has left, another order's symbol) is never forced in:
  it is logged, audited and pushed as a ``risk_warning`` for the trader to reconcile.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from alphaloop.audit import audit_log_create
from orders import publish
from orders.external_fills import external_fills_book
from orders.fills import FillRefused, fill_record
from orders.importers import ExternalExecution
from orders.models import Account, Fill, Order
from orders.submission import REJECT_BROKER

logger = logging.getLogger(__name__)

BOOKED, DUPLICATE, REFUSED = "booked", "duplicate", "refused"
CLOSING = {Order.CANCELLED: ("cancelled_at", "order.cancel"), Order.EXPIRED: ("expired_at", "order.expire"),
           Order.REJECTED: ("rejected_at", "order.reject")}


# --- reads ---------------------------------------------------------------------------------------------------


def broker_order_get(*, broker_order_id: str = "", client_order_id: str = "") -> Order | None:
    """The AlphaLoop order (of a non-paper account) the broker means, by its order id, then its client_order_id."""
    orders = Order.objects.filter(account__is_paper=False).select_related("account")
    if broker_order_id:
        found = orders.filter(broker_order_id=broker_order_id).order_by("id").first()
        if found is not None:
            return found
    if client_order_id:
        candidates = orders.filter(client_order_id=client_order_id).exclude(source=Order.BROKER)
        if broker_order_id:
            candidates = candidates.filter(broker_order_id="")
        return candidates.order_by("id").first()
    return None


def broker_account_home() -> Account | None:
    """The account that books executions placed outside AlphaLoop: ``BROKER_EXTERNAL_ACCOUNT``, else the only
    non-paper account (None when there are several and the setting names none)."""
    real = Account.objects.filter(is_paper=False)
    if settings.BROKER_EXTERNAL_ACCOUNT:
        return real.filter(code=settings.BROKER_EXTERNAL_ACCOUNT).first()
    accounts = list(real[:2])
    return accounts[0] if len(accounts) == 1 else None


def broker_open_orders() -> list[Order]:
    """AlphaLoop's open orders that went (or are going) to the real broker."""
    return list(Order.objects.filter(account__is_paper=False, status__in=Order.OPEN_STATUSES)
                .exclude(source=Order.BROKER).order_by("id"))


def broker_executions_since() -> dt.datetime | None:
    """Where a catch-up starts reading the broker's executions: the last one booked in a non-paper account, else
    the oldest open order sent to the broker (None: there is nothing to catch up on before now)."""
    latest = Fill.objects.filter(account__is_paper=False).exclude(external_id="").aggregate(at=Max("executed_at"))["at"]
    if latest is not None:
        return latest
    oldest = Order.objects.filter(account__is_paper=False, status__in=Order.OPEN_STATUSES).exclude(
        source=Order.BROKER).order_by("created_at").values_list("created_at", flat=True).first()
    return oldest


# --- transitions ---------------------------------------------------------------------------------------------


def order_broker_accept(*, order_id: int, broker_order_id: str, at: dt.datetime) -> Order:
    """The broker has the order: NEW -> ACCEPTED; its broker order id is kept (also on an order already past NEW)."""
    account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        fields = []
        if broker_order_id and not order.broker_order_id:
            order.broker_order_id = broker_order_id[:64]
            fields.append("broker_order_id")
        if order.status == Order.NEW:
            order.status, order.accepted_at = Order.ACCEPTED, at
            fields += ["status", "accepted_at"]
        if not fields:
            return order
        order.save(update_fields=[*fields, "updated_at"])
        audit_log_create(action="order.accept" if "status" in fields else "order.broker_order_id",
                         resource=f"order:{order.pk}",
                         payload={"via": "broker", "broker_order_id": order.broker_order_id})
        if "status" in fields:
            publish.order_transition_publish(order, user_id=account.user_id)
    return order


def order_broker_close(*, order_id: int, status: str, reason: str, at: dt.datetime) -> Order:
    """The broker ended an open order: CANCELLED, EXPIRED or REJECTED, with the broker's reason.

    A rejection keeps the reason as the order's ``reject_reason`` (code ``broker_rejected``); every close keeps
    it in its audit row. An order already final is left as it is (the first report wins).
    """
    timestamp_field, action = CLOSING[status]
    account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.is_open:
            return order
        order.status = status
        setattr(order, timestamp_field, at)
        fields = ["status", timestamp_field, "updated_at"]
        if status == Order.REJECTED:
            order.reject_code, order.reject_reason = REJECT_BROKER, reason[:255]
            fields += ["reject_code", "reject_reason"]
        order.save(update_fields=fields)
        audit_log_create(action=action, resource=f"order:{order.pk}",
                         payload={"via": "broker", "reason": reason, "filled_quantity": order.filled_quantity,
                                  "remaining": order.remaining_quantity})
        publish.order_transition_publish(order, user_id=account.user_id)
        if status == Order.REJECTED:
            publish.order_rejection_notify(order, account=account)
    return order


# --- executions ----------------------------------------------------------------------------------------------


def broker_execution_book(*, execution: ExternalExecution, client_order_id: str = "", origin: str) -> str:
    """Book one execution the broker reported, once: ``booked``, ``duplicate`` or ``refused`` (see the module)."""
    order = broker_order_get(broker_order_id=execution.broker_order_id, client_order_id=client_order_id)
    if order is None or order.source == Order.BROKER:
        return _external_book(execution, order, origin=origin)
    if Fill.objects.filter(account_id=order.account_id, execution_key=execution.execution_id).exists():
        return DUPLICATE
    if (order.symbol, order.side) != (execution.symbol, execution.side):
        return _refuse(order.account, execution, origin, f"order #{order.pk} is a {order.side} of {order.symbol}")
    if execution.broker_order_id and not order.broker_order_id:
        order_broker_accept(order_id=order.pk, broker_order_id=execution.broker_order_id, at=execution.executed_at)
    try:
        fill_record(order_id=order.pk, quantity=execution.quantity, price=execution.price,
                    commission=execution.commission, executed_at=execution.executed_at,
                    external_id=execution.execution_id)
    except FillRefused as exc:
        return _refuse(order.account, execution, origin, str(exc))
    except IntegrityError:  # booked a moment ago by another worker: the database holds one fill per execution
        return DUPLICATE
    return BOOKED


def _external_book(execution: ExternalExecution, order: Order | None, *, origin: str) -> str:
    account = order.account if order is not None else broker_account_home()
    if account is None:
        logger.error("%s: execution %s (%s) of an order AlphaLoop does not know is not booked: set "
                     "BROKER_EXTERNAL_ACCOUNT to the account that books such executions", origin,
                     execution.execution_id, execution.describe())
        return REFUSED
    # A broker's clock may run a moment ahead of ours; the ledger refuses executions "in the future".
    execution = _not_after_now(execution)
    booking = external_fills_book(account=account, executions=[execution], origin=origin)
    if booking.errors:
        return _refuse(account, execution, origin, "; ".join(note.message for note in booking.errors))
    return BOOKED if booking.imported else DUPLICATE


def _not_after_now(execution: ExternalExecution) -> ExternalExecution:
    now = timezone.now()
    if execution.executed_at <= now:
        return execution
    return replace(execution, executed_at=now)


def _refuse(account: Account, execution: ExternalExecution, origin: str, reason: str) -> str:
    logger.error("%s: execution %s (%s) not booked: %s", origin, execution.execution_id, execution.describe(), reason)
    facts = {"execution_id": execution.execution_id, "broker_order_id": execution.broker_order_id,
             "symbol": execution.symbol, "side": execution.side, "quantity": str(execution.quantity),
             "price": str(execution.price), "executed_at": execution.executed_at.isoformat(), "reason": reason}
    with transaction.atomic():
        audit_log_create(action="broker.execution_refused", resource=f"account:{account.pk}",
                         payload={"origin": origin, **facts})
        publish.risk_warning_publish(
            account=account, title=f"Broker execution not booked: {execution.describe()}",
            body=f"The broker reported execution {execution.execution_id}; the ledger refused it ({reason}). "
                 "Reconcile the account with the broker.", data=facts,
        )
    return REFUSED
