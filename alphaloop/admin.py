from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.forms.models import model_to_dict

from alphaloop.audit import audit_log_create
from alphaloop.models import AuditLog
from alphaloop.usernames import CaseInsensitiveUserChangeForm


class AuditedModelAdmin(admin.ModelAdmin):
    """Every add, change and delete made in the admin writes an audit row."""

    def _resource(self, obj) -> str:
        return f"{obj._meta.label_lower}:{obj.pk}"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = "admin.change" if change else "admin.add"
        changed = {name: model_to_dict(obj).get(name) for name in (form.changed_data if form else [])}
        audit_log_create(action=action, resource=self._resource(obj), payload=changed, request=request)

    def delete_model(self, request, obj):
        resource = self._resource(obj)
        super().delete_model(request, obj)
        audit_log_create(action="admin.delete", resource=resource, payload={"repr": str(obj)}, request=request)

    def delete_queryset(self, request, queryset):
        resources = [self._resource(obj) for obj in queryset]
        super().delete_queryset(request, queryset)
        for resource in resources:
            audit_log_create(action="admin.delete", resource=resource, request=request)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "action", "resource", "ip_address")
    list_filter = ("action", "created_at")
    search_fields = ("action", "resource", "user__username", "ip_address")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = ("user", "action", "resource", "payload", "ip_address", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    """Django's user admin, audited; a user added here gets their paper account (orders.accounts)."""

    form = CaseInsensitiveUserChangeForm


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserAdmin)
