"""NotificationService (spec 4.6): fan one notification out to the channels the user chose.

Every attempt is a ``NotificationLog`` row. WebSocket and desktop deliveries are local
(a stored live event and a channel-layer push) and run inline, each in its own savepoint so
one failing never disturbs the others or the caller's transaction. Telegram and e-mail are
network I/O: their row is written PENDING and the delivery task runs once the caller's
transaction has committed (at once when there is none), never inside it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ApplicationError
from notifications.exceptions import TransportError
from notifications.models import LiveEvent, NotificationLog, NotificationPreference
from notifications.selectors import CHANNELS, EVENT_TYPES, notification_channels_for, notification_preferences_get
from notifications.transports import TRANSPORTS, Message

logger = logging.getLogger(__name__)

TITLE_LENGTH = NotificationLog._meta.get_field("title").max_length


def notify(
    *, account, event_type: str, title: str, body: str = "", data: dict[str, Any] | None = None
) -> list[NotificationLog]:
    """Send to every channel the account's user chose for ``event_type``; one log row per channel."""
    message = _message(account, event_type, title, body, data)
    channels = notification_channels_for(user=account.user, event_type=event_type)
    return [_dispatch(account, channel, message) for channel in channels]


def notification_send(
    channel: str, event_type: str, title: str, body: str, *, account, data: dict[str, Any] | None = None
) -> NotificationLog:
    """The spec's ``send(channel, event_type, title, body)``: one explicit channel, preferences aside."""
    if channel not in TRANSPORTS:
        raise ValueError(f"unknown notification channel {channel!r}")
    return _dispatch(account, channel, _message(account, event_type, title, body, data))


def _message(account, event_type: str, title: str, body: str, data: dict[str, Any] | None) -> Message:
    user = account.user
    return Message(
        user_id=user.pk,
        event_type=event_type,
        title=title[:TITLE_LENGTH],
        body=body or "",
        data={"account_id": account.pk, **(data or {})},
        email=user.email or "",
    )


def _dispatch(account, channel: str, message: Message) -> NotificationLog:
    transport = TRANSPORTS[channel]
    if transport.network_io:
        return _defer(account, channel, message)
    status, note = NotificationLog.SENT, ""
    try:
        with transaction.atomic():
            note = transport.notify(message)
    except TransportError as exc:
        logger.warning("%s notification %s failed: %s", channel, message.event_type, exc)
        status, note = NotificationLog.FAILED, str(exc)
    except Exception as exc:  # isolate channels: a broken transport must not stop the others
        logger.exception("%s notification %s failed", channel, message.event_type)
        status, note = NotificationLog.FAILED, f"{type(exc).__name__}: {exc}"
    return _log(account, channel, message, status, note)


def _log(account, channel: str, message: Message, status: str, error: str = "") -> NotificationLog:
    return NotificationLog.objects.create(
        account=account,
        channel=channel,
        event_type=message.event_type[:32],
        title=message.title,
        body=message.body,
        status=status,
        error=error,
    )


def _defer(account, channel: str, message: Message) -> NotificationLog:
    row = _log(account, channel, message, NotificationLog.PENDING)
    inside_transaction = connection.in_atomic_block
    transaction.on_commit(lambda: _enqueue(row.pk))
    if not inside_transaction:  # on_commit ran it already
        row.refresh_from_db()
    return row


def _enqueue(log_id: int) -> None:
    from notifications.tasks import notification_deliver_task

    try:
        notification_deliver_task.delay(log_id)
    except Exception as exc:  # broker down: record it rather than leave the row PENDING forever
        logger.exception("notification %s could not be queued", log_id)
        NotificationLog.objects.filter(pk=log_id, status=NotificationLog.PENDING).update(
            status=NotificationLog.FAILED, error=f"could not queue the delivery: {type(exc).__name__}: {exc}"
        )


def notification_deliver(*, log_id: int) -> NotificationLog | None:
    """Attempt a PENDING network delivery once; the row ends SENT or FAILED. Outside transactions."""
    row = NotificationLog.objects.select_related("account__user").filter(pk=log_id).first()
    if row is None or row.status != NotificationLog.PENDING:
        return row
    user = row.account.user
    message = Message(user_id=user.pk, event_type=row.event_type, title=row.title, body=row.body or "", email=user.email or "")
    status, note = NotificationLog.SENT, ""
    try:
        note = TRANSPORTS[row.channel].notify(message)
    except TransportError as exc:
        logger.warning("%s notification %s failed: %s", row.channel, row.pk, exc)
        status, note = NotificationLog.FAILED, str(exc)
    except Exception as exc:  # never leave the row PENDING on an unexpected error
        logger.exception("%s notification %s failed", row.channel, row.pk)
        status, note = NotificationLog.FAILED, f"{type(exc).__name__}: {exc}"
    NotificationLog.objects.filter(pk=row.pk, status=NotificationLog.PENDING).update(status=status, error=note)
    row.refresh_from_db()
    return row


@transaction.atomic
def notification_mark_read(*, notification: NotificationLog, user=None, ip_address: str | None = None) -> NotificationLog:
    """SENT -> READ (READ stays READ); a pending or failed delivery cannot be read."""
    if notification.status not in (NotificationLog.SENT, NotificationLog.READ):
        raise ApplicationError(
            f"A {notification.status.lower()} notification cannot be marked read.", code="not_delivered"
        )
    changed = NotificationLog.objects.filter(pk=notification.pk, status=NotificationLog.SENT).update(
        status=NotificationLog.READ
    )
    if changed:
        audit_log_create(
            action="notification.read", resource=f"notification:{notification.pk}", user=user, ip_address=ip_address
        )
    notification.refresh_from_db()
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user, ip_address: str | None = None) -> int:
    changed = NotificationLog.objects.filter(account__user=user, status=NotificationLog.SENT).update(
        status=NotificationLog.READ
    )
    if changed:
        audit_log_create(
            action="notification.read_all", resource=f"user:{user.pk}", user=user, payload={"count": changed},
            ip_address=ip_address,
        )
    return changed


@transaction.atomic
def notification_preferences_set(
    *, user, preferences: dict[str, list[str]], ip_address: str | None = None
) -> dict[str, dict]:
    """Store the channels of each given event type (others keep theirs); returns every preference."""
    errors = {}
    for event_type, channels in preferences.items():
        if event_type not in EVENT_TYPES:
            errors[event_type] = f"Unknown event type; known: {', '.join(EVENT_TYPES)}."
        elif unknown := sorted(set(channels) - set(CHANNELS)):
            errors[event_type] = f"Unknown channel(s) {', '.join(unknown)}; known: {', '.join(CHANNELS)}."
        elif NotificationLog.EMAIL in channels and not user.email:
            errors[event_type] = "E-mail needs an e-mail address on your user."
    if errors:
        raise ValidationError({"preferences": [f"{key}: {message}" for key, message in errors.items()]})
    for event_type, channels in preferences.items():
        NotificationPreference.objects.update_or_create(
            user=user, event_type=event_type, defaults={"channels": [c for c in CHANNELS if c in channels]}
        )
    audit_log_create(
        action="notification.preferences", resource=f"user:{user.pk}", user=user, payload=preferences,
        ip_address=ip_address,
    )
    return notification_preferences_get(user=user)


@transaction.atomic
def live_events_prune(*, now: datetime | None = None) -> int:
    """Delete live events older than ``LIVE_EVENT_RETENTION_DAYS``; returns how many.

    They only serve a reconnecting client's catch-up (the notification log keeps the record).
    The newest row always stays, so event ids keep rising even where the database would reuse
    the highest freed id (SQLite).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LIVE_EVENT_RETENTION_DAYS)
    newest = LiveEvent.objects.order_by("-id").values_list("id", flat=True).first()
    deleted, _ = LiveEvent.objects.filter(timestamp__lt=cutoff).exclude(pk=newest).delete()
    if deleted:
        audit_log_create(action="live_events.prune", resource="live_events",
                         payload={"deleted": deleted, "older_than": cutoff.isoformat()})
    return deleted
