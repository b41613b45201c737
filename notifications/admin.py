from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from notifications.models import LiveEvent, NotificationLog, NotificationPreference


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "account", "channel", "event_type", "title", "status")
    list_filter = ("channel", "status", "event_type")
    search_fields = ("title", "body", "account__code", "error")
    list_select_related = ("account",)
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(AuditedModelAdmin):
    list_display = ("user", "event_type", "channels")
    search_fields = ("user__username", "event_type")
    list_select_related = ("user",)


@admin.register(LiveEvent)
class LiveEventAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "channel", "event", "timestamp")
    list_filter = ("channel",)
    search_fields = ("event", "user__username")
    list_select_related = ("user",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
