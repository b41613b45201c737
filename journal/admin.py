from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from journal.models import JournalTag, TradeJournal


@admin.register(TradeJournal)
class TradeJournalAdmin(AuditedModelAdmin):
    list_display = ("id", "account", "symbol", "direction", "entry_date", "exit_date", "realized_pnl", "emotion_state", "journal_status")
    list_filter = ("journal_status", "emotion_state", "direction")
    search_fields = ("symbol", "account__code", "lesson_learned", "notes")
    list_select_related = ("account", "plan")
    date_hierarchy = "entry_date"


@admin.register(JournalTag)
class JournalTagAdmin(AuditedModelAdmin):
    list_display = ("kind", "name", "user", "description")
    list_filter = ("kind",)
    search_fields = ("name", "description")
    list_select_related = ("user",)
