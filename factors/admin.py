from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from factors.models import Signal


@admin.register(Signal)
class SignalAdmin(AuditedModelAdmin):
    list_display = ("as_of", "symbol", "direction", "strength", "score", "win_rate", "rr_ratio", "sample_size")
    list_filter = ("direction", "as_of")
    search_fields = ("symbol",)
    date_hierarchy = "as_of"
