from django import forms
from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from journal.models import JournalTag, TradeJournal
from journal.services import vocabulary_validate


class TradeJournalAdminForm(forms.ModelForm):
    """Admin edits obey the same vocabulary as the API: built-ins plus the account owner's own tags."""

    class Meta:
        model = TradeJournal
        fields = "__all__"

    def clean(self):
        data = super().clean()
        account = data.get("account")
        if account is not None:
            vocabulary_validate(
                user=account.user, emotion_state=data.get("emotion_state"), mistake_tags=data.get("mistake_tags"),
                journal=self.instance if self.instance.pk else None,
            )
        return data


@admin.register(TradeJournal)
class TradeJournalAdmin(AuditedModelAdmin):
    form = TradeJournalAdminForm
    list_display = (
        "id", "account", "symbol", "direction", "entry_date", "exit_date", "realized_pnl", "emotion_state",
        "journal_status",
    )
    list_filter = ("journal_status", "emotion_state", "direction")
    search_fields = ("symbol", "account__code", "lesson_learned", "notes")
    list_select_related = ("account", "plan")
    date_hierarchy = "entry_date"
    raw_id_fields = ("plan", "attribution")
    readonly_fields = ("context", "ai_review_source", "created_at", "updated_at")


@admin.register(JournalTag)
class JournalTagAdmin(AuditedModelAdmin):
    list_display = ("kind", "name", "user", "description", "retired_at")
    list_filter = ("kind", "retired_at")
    search_fields = ("name", "description")
    list_select_related = ("user",)

    def get_readonly_fields(self, request, obj=None):
        # A rename must rewrite the entries that carry the name: the journal page and PATCH journal/tags/{id} do.
        return ("name", "kind", "user") if obj is not None else ()
