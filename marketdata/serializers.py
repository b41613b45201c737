from decimal import Decimal

from rest_framework import serializers

from marketdata.models import Instrument, Quote


class QuoteInjectSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    price = serializers.DecimalField(max_digits=20, decimal_places=6, min_value=Decimal("0.000001"))
    volume = serializers.IntegerField(min_value=0, required=False, default=0)

    def validate_symbol(self, value: str) -> str:
        symbol = value.strip().upper()
        if not Instrument.objects.filter(symbol=symbol).exists():
            raise serializers.ValidationError(f"Unknown symbol {symbol}.")
        return symbol


class QuoteSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol")
    is_synthetic = serializers.BooleanField(source="instrument.is_synthetic")

    class Meta:
        model = Quote
        fields = ["symbol", "price", "bid", "ask", "volume", "source", "timestamp", "is_synthetic"]
        read_only_fields = fields
