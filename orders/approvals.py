"""Approval requests: a plan waiting for the trader's yes or no (dashboard or Telegram), its expiry."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ApplicationError, ServiceUnavailable
from orders import publish
from orders.models import ApprovalRequest, Order, TradingPlan
from orders.plans import plan_execute


def _approval_ttl() -> timedelta:
    return timedelta(minutes=settings.APPROVAL_TTL_MINUTES)


def approval_request_create(*, plan: TradingPlan, source: str, reason: str = "") -> ApprovalRequest:
    """Ask the user to approve a plan's execution; one PENDING request per plan (a repeat returns it)."""
    now = timezone.now()
    if plan.status not in (TradingPlan.PENDING, TradingPlan.ACTIVE):
        raise ApplicationError(
            f"The plan is {plan.status}; there is nothing to approve.",
            code="plan_not_executable",
            status_code=status.HTTP_409_CONFLICT,
        )
    with transaction.atomic():
        TradingPlan.objects.select_for_update().get(pk=plan.pk)
        existing = ApprovalRequest.objects.filter(plan=plan, status=ApprovalRequest.PENDING).first()
        if existing is not None and (existing.expires_at is None or existing.expires_at > now):
            return existing
        expires_at = now + _approval_ttl()
        if plan.valid_until is not None:
            expires_at = min(expires_at, plan.valid_until)
        approval = ApprovalRequest.objects.create(
            account_id=plan.account_id,
            plan=plan,
            source=source[:32],
            reason=(reason or "")[:255],
            token=_approval_token(),
            expires_at=expires_at,
        )
        audit_log_create(
            action="approval.create",
            resource=f"approval:{approval.pk}",
            payload={"plan_id": plan.pk, "source": source, "reason": reason},
        )
        side = "Buy" if plan.direction == TradingPlan.LONG else "Sell"
        publish.approval_request_notify(
            account=plan.account,
            title=f"Approve: {side} {plan.quantity.normalize():f} {plan.symbol} @ {plan.entry_price.normalize():f}?",
            body=(
                f"{reason or source}. Reply /approve {approval.token} or /reject {approval.token}, "
                "or decide on the dashboard."
            ),
            data={
                "approval_id": approval.pk,
                "plan_id": plan.pk,
                "token": approval.token,
                "expires_at": expires_at.isoformat(),
            },
        )
    return approval


def _approval_token() -> str:
    while True:
        token = secrets.token_hex(4).upper()
        if not ApprovalRequest.objects.filter(token=token).exists():
            return token


def approval_decide(
    *, approval: ApprovalRequest, approve: bool, via: str, user=None, ip_address: str | None = None
) -> ApprovalRequest:
    """Approve (-> ``plan_execute`` with source APPROVAL) or reject a PENDING request, claimed atomically.

    An approval whose order is not placed (the guard refuses it, e.g. outside trading hours; the
    plan makes an invalid order) goes back to PENDING with ``refusal_code``/``refusal_reason`` (and
    the REJECTED order as its ``order``), so it can be approved again once it can execute, until it
    expires; an invalid order's ``ValidationError`` is raised after that.
    """
    now = timezone.now()
    approval = ApprovalRequest.objects.select_related("plan").get(pk=approval.pk)
    plan_open = approval.plan.status in (TradingPlan.PENDING, TradingPlan.ACTIVE)
    expired = approval.expires_at is not None and approval.expires_at <= now
    if approval.status == ApprovalRequest.PENDING and (expired or not plan_open):
        with transaction.atomic():
            if ApprovalRequest.objects.filter(pk=approval.pk, status=ApprovalRequest.PENDING).update(
                status=ApprovalRequest.EXPIRED, decided_at=now, decided_via=via[:16]
            ):
                audit_log_create(
                    action="approval.expire", resource=f"approval:{approval.pk}", user=user, ip_address=ip_address
                )
        raise ApplicationError(
            "The approval request has expired."
            if expired
            else f"The plan is {approval.plan.status}; the request has lapsed.",
            code="approval_expired",
            status_code=status.HTTP_409_CONFLICT,
        )
    new_status = ApprovalRequest.APPROVED if approve else ApprovalRequest.REJECTED
    with transaction.atomic():
        claimed = ApprovalRequest.objects.filter(pk=approval.pk, status=ApprovalRequest.PENDING).update(
            status=new_status, decided_at=now, decided_via=via[:16]
        )
        if not claimed:
            approval.refresh_from_db()
            raise ApplicationError(
                f"The approval request is already {approval.status}.",
                code="approval_decided",
                status_code=status.HTTP_409_CONFLICT,
            )
        audit_log_create(
            action="approval.approve" if approve else "approval.reject",
            resource=f"approval:{approval.pk}",
            user=user,
            ip_address=ip_address,
            payload={"via": via, "plan_id": approval.plan_id},
        )
    if approve:
        try:
            order = plan_execute(plan=approval.plan, source="APPROVAL", user=user, ip_address=ip_address)
        except ValidationError as exc:
            _approval_requeue(
                approval.pk,
                code="invalid_order",
                reason=_validation_text(exc),
                now=now,
                user=user,
                ip_address=ip_address,
            )
            raise
        except (
            ServiceUnavailable
        ) as exc:  # the order is stored (NEW) and the broker did not answer: it is this approval's
            ApprovalRequest.objects.filter(pk=approval.pk).update(order_id=exc.extra.get("order_id"))
            raise
        except ApplicationError as exc:
            if exc.code == "plan_not_executable":
                _approval_lapse(approval.pk, now=now, user=user, ip_address=ip_address)
            else:
                _approval_requeue(
                    approval.pk, code=exc.code, reason=exc.message, now=now, user=user, ip_address=ip_address
                )
            raise
        if order.status == Order.REJECTED:
            _approval_requeue(
                approval.pk,
                code=order.reject_code,
                reason=order.reject_reason,
                now=now,
                user=user,
                ip_address=ip_address,
                order=order,
            )
        else:
            ApprovalRequest.objects.filter(pk=approval.pk).update(order=order)
    approval.refresh_from_db()
    return approval


def _validation_text(exc: ValidationError) -> str:
    detail = exc.detail if isinstance(exc.detail, dict) else {"order": exc.detail}
    return "; ".join(
        f"{field}: {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
        for field, msgs in detail.items()
    )


def _approval_requeue(
    approval_id: int,
    *,
    code: str,
    reason: str,
    now: datetime,
    user=None,
    ip_address: str | None = None,
    order: Order | None = None,
) -> None:
    """An approved request whose order was not placed waits again (PENDING), saying why."""
    with transaction.atomic():
        if ApprovalRequest.objects.filter(pk=approval_id, status=ApprovalRequest.APPROVED).update(
            status=ApprovalRequest.PENDING,
            decided_at=None,
            decided_via="",
            refusal_code=code[:32],
            refusal_reason=reason[:255],
            refused_at=now,
            order=order,
        ):
            audit_log_create(
                action="approval.refused",
                resource=f"approval:{approval_id}",
                user=user,
                ip_address=ip_address,
                payload={"code": code, "reason": reason, "order_id": order.pk if order else None},
            )


def _approval_lapse(approval_id: int, *, now: datetime, user=None, ip_address: str | None = None) -> None:
    with transaction.atomic():
        if ApprovalRequest.objects.filter(pk=approval_id, status=ApprovalRequest.APPROVED).update(
            status=ApprovalRequest.EXPIRED, decided_at=now
        ):
            audit_log_create(
                action="approval.expire", resource=f"approval:{approval_id}", user=user, ip_address=ip_address
            )


def approvals_expire(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    expired = []
    for approval_id in ApprovalRequest.objects.filter(status=ApprovalRequest.PENDING, expires_at__lte=now).values_list(
        "id", flat=True
    ):
        with transaction.atomic():
            if ApprovalRequest.objects.filter(pk=approval_id, status=ApprovalRequest.PENDING).update(
                status=ApprovalRequest.EXPIRED, decided_at=now, decided_via="expiry"
            ):
                audit_log_create(action="approval.expire", resource=f"approval:{approval_id}")
                expired.append(approval_id)
    return expired
