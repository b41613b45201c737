from rest_framework import serializers

from orders.models import Account


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "id", "code", "name", "base_currency", "cash", "initial_cash", "realized_pnl", "total_commission",
            "allow_short", "is_paper", "trading_state", "breaker_tripped_at", "breaker_session", "created_at",
        ]
        read_only_fields = fields
