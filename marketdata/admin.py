from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from marketdata.models import Bar, FundamentalSnapshot, Instrument, Quote


@admin.register(Instrument)
class InstrumentAdmin(AuditedModelAdmin):
    list_display = ("symbol", "name", "asset_class", "sector", "is_synthetic", "active")
    list_filter = ("asset_class", "is_synthetic", "active", "sector")
    search_fields = ("symbol", "name")


@admin.register(Bar)
class BarAdmin(AuditedModelAdmin):
    list_display = ("instrument", "date", "open", "high", "low", "close", "volume")
    list_filter = ("instrument__is_synthetic",)
    search_fields = ("instrument__symbol",)
    list_select_related = ("instrument",)
    date_hierarchy = "date"


@admin.register(Quote)
class QuoteAdmin(AuditedModelAdmin):
    list_display = ("instrument", "price", "source", "timestamp")
    list_filter = ("source",)
    search_fields = ("instrument__symbol",)
    list_select_related = ("instrument",)


@admin.register(FundamentalSnapshot)
class FundamentalSnapshotAdmin(AuditedModelAdmin):
    list_display = ("instrument", "as_of", "eps", "book_value_per_share", "roe", "is_synthetic")
    list_filter = ("is_synthetic",)
    search_fields = ("instrument__symbol",)
    list_select_related = ("instrument",)
    date_hierarchy = "as_of"
