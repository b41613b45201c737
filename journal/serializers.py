"""Input and output serializers of the journal API (spec 3.3)."""

from __future__ import annotations

from rest_framework import serializers

from alphaloop.scoping import owned_by
from journal.models import JournalTag, TradeJournal
from orders.models import TradingPlan

DIRECTIONS = ("LONG", "SHORT")
SYMBOL = r"^[A-Za-z0-9.\-]{1,32}$"
TAG_NAME = r"^[a-z][a-z0-9_]{0,15}$"
PRICE = {"max_digits": 20, "decimal_places": 6}
MONEY = {"max_digits": 20, "decimal_places": 2}


class JournalSerializer(serializers.ModelSerializer):
    plan_id = serializers.IntegerField(allow_null=True, read_only=True)
    attribution_id = serializers.IntegerField(allow_null=True, read_only=True)
    account_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = TradeJournal
        fields = [
            "id", "account_id", "symbol", "direction", "entry_date", "exit_date", "entry_price", "exit_price",
            "quantity", "realized_pnl", "plan_id", "attribution_id", "execution_quality", "emotion_state",
            "mistake_tags", "lesson_learned", "notes", "context", "ai_review", "ai_review_source", "journal_status",
            "created_at", "updated_at",
        ]
        read_only_fields = fields


class JournalListQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False, min_value=1,
                                          help_text="Only this account (default: all yours)")
    symbol = serializers.RegexField(SYMBOL, required=False)
    status = serializers.ChoiceField(choices=TradeJournal.STATUSES, required=False)


class _JournalFieldsSerializer(serializers.Serializer):
    """Fields a trader may write; the vocabulary and the status flow are checked by the service."""

    symbol = serializers.RegexField(SYMBOL)
    direction = serializers.ChoiceField(choices=DIRECTIONS)
    entry_date = serializers.DateField(required=False, allow_null=True)
    exit_date = serializers.DateField(required=False, allow_null=True)
    entry_price = serializers.DecimalField(**PRICE, min_value=0, required=False, allow_null=True)
    exit_price = serializers.DecimalField(**PRICE, min_value=0, required=False, allow_null=True)
    quantity = serializers.DecimalField(**PRICE, min_value=0, required=False, allow_null=True)
    realized_pnl = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    plan_id = serializers.PrimaryKeyRelatedField(
        source="plan", queryset=TradingPlan.objects.none(), required=False, allow_null=True
    )
    execution_quality = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    emotion_state = serializers.CharField(max_length=16, required=False, allow_null=True, allow_blank=True)
    mistake_tags = serializers.ListField(
        child=serializers.CharField(max_length=16), required=False, allow_null=True, max_length=20
    )
    lesson_learned = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10000)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent when drf-spectacular builds the schema
        if request is not None:
            self.fields["plan_id"].queryset = owned_by(TradingPlan.objects.all(), request.user)


class JournalCreateSerializer(_JournalFieldsSerializer):
    account_id = serializers.IntegerField(required=False, min_value=1, help_text="Default: your first account")


class JournalUpdateSerializer(_JournalFieldsSerializer):
    journal_status = serializers.ChoiceField(choices=TradeJournal.STATUSES, required=False)


class AiReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradeJournal
        fields = ["id", "ai_review", "ai_review_source", "journal_status"]
        read_only_fields = fields


class WeeklyReportQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False, min_value=1)
    date = serializers.DateField(required=False, help_text="Any day of the ISO week; default today")


class _TradeBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    realized_pnl = serializers.DecimalField(**MONEY)
    exit_date = serializers.DateField()


class _MistakeSerializer(serializers.Serializer):
    tag = serializers.CharField()
    count = serializers.IntegerField()
    pnl = serializers.DecimalField(**MONEY)


class _EmotionSerializer(serializers.Serializer):
    emotion = serializers.CharField()
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    win_rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    pnl = serializers.DecimalField(**MONEY)


class _AdherenceSerializer(serializers.Serializer):
    with_plan = serializers.IntegerField()
    followed = serializers.IntegerField()
    rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    pnl_followed = serializers.DecimalField(**MONEY)
    pnl_not_followed = serializers.DecimalField(**MONEY)


class WeeklyReportSerializer(serializers.Serializer):
    week_start = serializers.DateField()
    week_end = serializers.DateField()
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    total_pnl = serializers.DecimalField(**MONEY)
    average_r = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    best_trade = _TradeBriefSerializer(allow_null=True)
    worst_trade = _TradeBriefSerializer(allow_null=True)
    mistakes = _MistakeSerializer(many=True)
    emotions = _EmotionSerializer(many=True)
    plan_adherence = _AdherenceSerializer()
    narrative = serializers.CharField()
    narrative_source = serializers.ChoiceField(choices=["llm", "rule_based"])


class TagSerializer(serializers.ModelSerializer):
    builtin = serializers.SerializerMethodField()
    retired = serializers.SerializerMethodField(help_text="Retired: not offered for new tagging; entries keep it")
    editable = serializers.SerializerMethodField(help_text="You may rename or retire it (yours; built-ins: staff)")

    class Meta:
        model = JournalTag
        fields = ["id", "kind", "name", "description", "builtin", "retired", "editable"]
        read_only_fields = fields

    def get_builtin(self, tag: JournalTag) -> bool:
        return tag.user_id is None

    def get_retired(self, tag: JournalTag) -> bool:
        return tag.retired_at is not None

    def get_editable(self, tag: JournalTag) -> bool:
        user = self.context["user"]
        return tag.user_id == user.pk or (tag.user_id is None and user.is_staff)


class TagCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=JournalTag.KINDS)
    name = serializers.RegexField(
        TAG_NAME, error_messages={"invalid": "Use 1-16 lowercase letters, digits or _, starting with a letter."}
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=128, default="")


class TagUpdateSerializer(serializers.Serializer):
    name = serializers.RegexField(
        TAG_NAME, required=False,
        error_messages={"invalid": "Use 1-16 lowercase letters, digits or _, starting with a letter."},
        help_text="Rename: every entry carrying the old name is rewritten",
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=128)
    retired = serializers.BooleanField(required=False, help_text="true retires the tag, false restores it")
