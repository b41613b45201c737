from django.conf import settings
from django.db import models


class TradeJournal(models.Model):
    """Spec 2.3 ``trade_journal``."""

    DRAFT, COMPLETED, REVIEWED = "DRAFT", "COMPLETED", "REVIEWED"
    STATUSES = [(DRAFT, "Draft"), (COMPLETED, "Completed"), (REVIEWED, "Reviewed")]

    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="journals")
    symbol = models.CharField(max_length=32)
    direction = models.CharField(max_length=8)
    entry_date = models.DateField(null=True, blank=True)
    exit_date = models.DateField(null=True, blank=True)
    entry_price = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    exit_price = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    quantity = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    realized_pnl = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    plan = models.ForeignKey("orders.TradingPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="journals")
    attribution = models.OneToOneField(
        "equity.TradePnlAttribution", null=True, blank=True, on_delete=models.SET_NULL, related_name="journal"
    )
    execution_quality = models.IntegerField(null=True, blank=True, help_text="1-5 self-rating")
    emotion_state = models.CharField(max_length=16, null=True, blank=True)
    mistake_tags = models.JSONField(null=True, blank=True)
    lesson_learned = models.TextField(null=True, blank=True)
    notes = models.TextField(blank=True)
    context = models.JSONField(null=True, blank=True, help_text="Plan, signal and indicators at entry/exit")
    ai_review = models.TextField(null=True, blank=True)
    ai_review_source = models.CharField(max_length=16, blank=True, help_text="llm or rule_based")
    journal_status = models.CharField(max_length=16, choices=STATUSES, default=DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trade_journal"
        indexes = [
            models.Index(fields=["account", "entry_date"], name="idx_journal_account_date"),
            models.Index(fields=["symbol"], name="idx_journal_symbol"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.direction} {self.entry_date} ({self.journal_status})"


class JournalTag(models.Model):
    """The vocabulary of emotion states and mistake tags; built-ins have no owner, users add their own.

    A tag is renamed everywhere it is used (its owner's entries; every entry for a built-in) and is
    retired rather than deleted, so past entries and weekly reports keep their words.
    """

    EMOTION, MISTAKE = "emotion", "mistake"
    KINDS = [(EMOTION, "Emotion state"), (MISTAKE, "Mistake tag")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="journal_tags")
    kind = models.CharField(max_length=8, choices=KINDS)
    name = models.CharField(max_length=16)
    description = models.CharField(max_length=128, blank=True)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Retired: no longer offered for new tagging; entries that carry it keep it"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "name"], name="uk_journal_tag")]
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"
