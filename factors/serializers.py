from rest_framework import serializers

from factors.base import FACTORS, factor_for_output
from factors.models import Signal


class SignalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Signal
        fields = ["id", "symbol", "as_of", "direction", "strength", "score", "factors", "win_rate", "rr_ratio",
                  "sample_size", "horizon_days", "created_at"]
        read_only_fields = fields


class SignalsLatestSerializer(serializers.Serializer):
    as_of = serializers.DateField(allow_null=True)
    signals = SignalSerializer(many=True)


class SignalsLatestQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=[c for c, _ in Signal.DIRECTIONS], required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class SignalsRunSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="Session to scan; default the last closed one")
    horizon = serializers.IntegerField(min_value=1, max_value=120, required=False)
    weights = serializers.DictField(child=serializers.FloatField(), required=False,
                                    help_text="Output name -> weight; negative means low is bullish")

    def validate_weights(self, weights: dict) -> dict:
        for name in weights:
            try:
                factor_for_output(name)
            except KeyError:
                raise serializers.ValidationError(f"Unknown factor output {name!r}.") from None
        if weights and not any(weights.values()):
            raise serializers.ValidationError("At least one weight must be non-zero.")
        return weights


class SignalsRunResultSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    count = serializers.IntegerField()
    signals = SignalSerializer(many=True)


class FactorInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    category = serializers.CharField()
    lookback = serializers.IntegerField()
    outputs = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()


class FactorSeriesQuerySerializer(serializers.Serializer):
    names = serializers.CharField(help_text="Comma-separated factor or output names, e.g. rsi_14,macd")
    days = serializers.IntegerField(min_value=1, max_value=5000, default=60)

    def validate_names(self, value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not names:
            raise serializers.ValidationError("Name at least one factor.")
        unknown = []
        for name in names:
            try:
                factor_for_output(name)
            except KeyError:
                unknown.append(name)
        if unknown:
            raise serializers.ValidationError(f"Unknown factor(s): {', '.join(unknown)}. Known: {', '.join(sorted(FACTORS))}.")
        return names


class FactorPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.FloatField(allow_null=True)


class FactorSeriesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    factors = serializers.DictField(child=FactorPointSerializer(many=True))
