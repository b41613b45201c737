"""Ending open orders: a trader's cancel (confirmed by the broker first) and the expiry of DAY orders."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from rest_framework import status

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ApplicationError, ServiceUnavailable
from marketdata import calendar
from orders import publish
from orders.brokers import BrokerUnavailable, broker_for
from orders.models import Order


def order_cancel(*, order: Order, user=None, ip_address: str | None = None) -> Order:
    """Cancel an open order. 409 when it is still being submitted or already final."""
    order = Order.objects.select_related("account").get(pk=order.pk)
    if order.status == Order.NEW:
        raise ApplicationError(
            "The order is still being submitted to the broker; try again in a moment.",
            code="order_not_cancellable",
            status_code=status.HTTP_409_CONFLICT,
        )
    if not order.is_open:
        raise ApplicationError(
            f"The order is {order.status}; only open orders can be cancelled.",
            code="order_not_cancellable",
            status_code=status.HTTP_409_CONFLICT,
        )
    try:
        broker_for(order.account).cancel(order)
    except BrokerUnavailable as exc:
        raise ServiceUnavailable(f"The broker did not confirm the cancel: {exc}", code="broker_unavailable") from exc
    now = timezone.now()
    with transaction.atomic():
        claimed = Order.objects.filter(pk=order.pk, status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED]).update(
            status=Order.CANCELLED, cancelled_at=now, updated_at=now
        )
        order.refresh_from_db()
        if not claimed and order.status == Order.CANCELLED:
            return order  # the broker's own report of the cancel (its trade stream) was booked first
        if not claimed:
            raise ApplicationError(
                f"The order is {order.status}; only open orders can be cancelled.",
                code="order_not_cancellable",
                status_code=status.HTTP_409_CONFLICT,
            )
        audit_log_create(
            action="order.cancel",
            resource=f"order:{order.pk}",
            user=user,
            ip_address=ip_address,
            payload={"filled_quantity": order.filled_quantity, "remaining": order.remaining_quantity},
        )
        publish.order_transition_publish(order, user_id=order.account.user_id)
    return order


def orders_expire(*, now: datetime | None = None) -> list[int]:
    """Expire open DAY orders whose session has closed. Idempotent: each order is claimed once."""
    now = now or timezone.now()
    closed = calendar.last_closed_session(now)
    cutoff = calendar.session_open_close(closed)[1]
    candidates = Order.objects.filter(
        status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED], time_in_force=Order.DAY, created_at__lt=cutoff
    ).values_list("id", "account__user_id")
    expired = []
    for order_id, user_id in candidates:
        with transaction.atomic():
            claimed = Order.objects.filter(pk=order_id, status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED]).update(
                status=Order.EXPIRED, expired_at=now, updated_at=now
            )
            if not claimed:
                continue
            order = Order.objects.get(pk=order_id)
            audit_log_create(
                action="order.expire",
                resource=f"order:{order_id}",
                payload={"session": closed, "filled_quantity": order.filled_quantity},
            )
            publish.order_transition_publish(order, user_id=user_id)
            expired.append(order_id)
    return expired
