import re

from rest_framework import serializers

from alphaloop.openapi import STRIPPED_CLASS
from factors.base import FACTORS, all_factors, factor_for_output
from factors.models import Signal


class SignalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Signal
        fields = ["id", "symbol", "as_of", "direction", "strength", "score", "factors", "win_rate", "rr_ratio",
                  "sample_size", "horizon_days", "created_at"]
        read_only_fields = fields


class SignalsLatestQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=[c for c, _ in Signal.DIRECTIONS], required=False)


def _outputs() -> list[str]:
    return sorted(output for factor in all_factors() for output in factor.outputs)


class _WeightsField(serializers.DictField):
    """Output name -> weight. The schema lists the known outputs; it is built when the schema is, after
    ``FactorsConfig.ready`` registered the factor library."""

    @property
    def _spectacular_annotation(self) -> dict:
        properties = {name: {"type": "number"} for name in _outputs()}
        schema = {"type": "object", "properties": properties, "additionalProperties": False, "minProperties": 1}
        return {"field": schema}


class _FactorNamesField(serializers.CharField):
    """Comma-separated output names; the schema's pattern lists the known ones (built like ``_WeightsField``)."""

    @property
    def _spectacular_annotation(self) -> dict:
        name = "(?:" + "|".join(re.escape(output) for output in _outputs()) + ")"
        space = f"[{STRIPPED_CLASS}]*"
        pattern = rf"^(?:{space},)*{space}{name}{space}(?:,{space}(?:{name}{space})?)*$"
        return {"field": {"type": "string", "pattern": pattern}}


class SignalsRunSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="Session to scan; default the last closed one")
    horizon = serializers.IntegerField(min_value=1, max_value=120, required=False)
    weights = _WeightsField(child=serializers.FloatField(), required=False,
                            help_text="Output name -> weight; negative means low is bullish (default: GET signals/weights)")
    what_if = serializers.BooleanField(
        default=False, help_text="true: a private result for you, returned and never stored, notifying nobody "
                                 "(anyone). false: the shared scan every user reads, which notifies them (staff only)")

    def validate_weights(self, weights: dict) -> dict:
        for name in weights:
            try:
                factor_for_output(name)
            except KeyError:
                raise serializers.ValidationError(f"Unknown factor output {name!r}.") from None
        if not any(weights.values()):
            raise serializers.ValidationError("At least one weight must be non-zero.")
        return weights


class ScanSignalSerializer(SignalSerializer):
    """A scan's signal; ``id`` and ``created_at`` are null in a what-if (nothing is stored)."""

    id = serializers.IntegerField(allow_null=True, read_only=True)
    created_at = serializers.DateTimeField(allow_null=True, read_only=True)


class SignalsRunResultSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    what_if = serializers.BooleanField(help_text="true: a private result, not stored")
    weights = serializers.DictField(child=serializers.FloatField(), help_text="The composite's weights used")
    count = serializers.IntegerField()
    signals = ScanSignalSerializer(many=True)


class SignalWeightsSerializer(serializers.Serializer):
    weights = serializers.DictField(child=serializers.FloatField(), help_text="The shared scan's default weights")


class FactorInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    category = serializers.CharField()
    lookback = serializers.IntegerField()
    outputs = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()


class FactorSeriesQuerySerializer(serializers.Serializer):
    names = _FactorNamesField(help_text="Comma-separated factor or output names, e.g. rsi_14,macd")
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
