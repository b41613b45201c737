from django.conf import settings
from django.db import models


class NotificationLog(models.Model):
    """Spec 2.7 ``notification_log``: one row per delivery attempt on one channel.

    Network channels (telegram, email) are delivered after the caller's transaction commits:
    their row is PENDING until the attempt ends SENT or FAILED.
    """

    WEBSOCKET, TELEGRAM, EMAIL, DESKTOP = "websocket", "telegram", "email", "desktop"
    CHANNELS = [(c, c) for c in (WEBSOCKET, TELEGRAM, EMAIL, DESKTOP)]
    PENDING, SENT, FAILED, READ = "PENDING", "SENT", "FAILED", "READ"
    STATUSES = [(PENDING, "Pending"), (SENT, "Sent"), (FAILED, "Failed"), (READ, "Read")]

    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=16, choices=CHANNELS)
    event_type = models.CharField(max_length=32)
    title = models.CharField(max_length=128)
    body = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=SENT)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_log"
        indexes = [models.Index(fields=["account", "created_at"], name="idx_notif_account_time")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.event_type} {self.status}: {self.title}"


class NotificationPreference(models.Model):
    """Which channels one event type goes to, per user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    event_type = models.CharField(max_length=32)
    channels = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event_type"], name="uk_notif_pref")]
        ordering = ["user", "event_type"]


class LiveEvent(models.Model):
    """Every event sent to a user's WebSocket group, kept so a reconnecting client can catch up.

    The primary key is the monotonically increasing event id clients acknowledge.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_events")
    channel = models.CharField(max_length=32)
    event = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    timestamp = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "id"], name="idx_live_user_id")]
        ordering = ["id"]
