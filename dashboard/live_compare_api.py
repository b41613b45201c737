"""``GET /api/v1/backtest/live-compare``: thin; the work is ``dashboard.live_compare``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from alphaloop.openapi import ErrorSerializer
from backtest.strategies import STRATEGIES
from dashboard.live_compare import (
    MAX_WINDOW_SESSIONS,
    live_compare_report,
    params_parse,
)


class LiveCompareQuerySerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1, required=False, help_text="Your account's id; default: your first")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    strategy_id = serializers.ChoiceField(choices=sorted(STRATEGIES), required=False,
                                          help_text="The strategy to replay (or run_id)")
    params = serializers.CharField(required=False, max_length=2000,
                                   help_text='Its parameters as a JSON object, e.g. {"fast": 10, "slow": 30}')
    run_id = serializers.IntegerField(min_value=1, required=False,
                                      help_text="Replay one of your runs: its strategy, parameters, costs and symbols")
    symbols = serializers.CharField(required=False, max_length=2000,
                                    help_text="Comma-separated; default: the run's, or the symbols the account traded")
    tag = serializers.CharField(required=False, max_length=64,
                                help_text="Only the account's orders with this strategy tag (their own or their plan's)")
    window = serializers.IntegerField(min_value=0, max_value=MAX_WINDOW_SESSIONS, default=1,
                                      help_text="Sessions either way a live fill may be from the backtest's to match it")


class LiveCompareSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    strategy_id = serializers.CharField()
    params = serializers.DictField()
    run_id = serializers.IntegerField(allow_null=True)
    symbols = serializers.ListField(child=serializers.CharField())
    tag = serializers.CharField(allow_null=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    window = serializers.IntegerField()
    initial_capital = serializers.DecimalField(max_digits=20, decimal_places=2,
                                               help_text="The replay's capital: the account's equity before the range")
    capital_source = serializers.CharField()
    marks = serializers.JSONField(help_text="Each symbol's last close of the range, which every fill's P&L runs to")
    ignored_symbols = serializers.ListField(child=serializers.CharField(),
                                            help_text="Symbols the account traded that the replay does not")
    backtest_metrics = serializers.JSONField()
    rows = serializers.JSONField(help_text="Trade by trade: matched, missed (backtest only) and extra (live only)")
    totals = serializers.JSONField()
    curve = serializers.JSONField(help_text="Each session's P&L to date of the backtest and of the live fills")


class LiveCompareView(APIView):
    @extend_schema(parameters=[LiveCompareQuerySerializer],
                   responses={200: LiveCompareSerializer, 404: ErrorSerializer}, tags=["backtest"])
    def get(self, request):
        """Your fills against a replay of the strategy over the same bars: slippage, missed and extra trades, P&L."""
        query = LiveCompareQuerySerializer(data=query_data(request))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        symbols = [s.strip().upper() for s in data.get("symbols", "").split(",") if s.strip()] or None
        report = live_compare_report(
            user=request.user, account_id=data.get("account"), start_date=data["start_date"],
            end_date=data["end_date"], strategy_id=data.get("strategy_id"), params=params_parse(data.get("params")),
            run_id=data.get("run_id"), symbols=symbols, tag=data.get("tag"), window=data["window"])
        return Response(LiveCompareSerializer(report).data)
