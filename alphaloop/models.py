from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    """Spec 2.6 ``audit_logs``: one row per state change a user (or a job) makes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_logs"
    )
    action = models.CharField(max_length=64)
    resource = models.CharField(max_length=128)
    payload = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "audit_logs"
        indexes = [
            models.Index(fields=["user", "created_at"], name="idx_user_time"),
            models.Index(fields=["action"], name="idx_action"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.user_id} {self.action} {self.resource}"
