"""Equity API (spec 3.2), mounted at /api/v1/equity/. Thin: validate, call a service or selector, serialize."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.audit import audit_log_create
from alphaloop.contract import query_data
from alphaloop.scoping import user_account
from equity import selectors, serializers
from equity.services import create_daily_snapshot
from marketdata import calendar
from marketdata.calendar import market_date


def _query(request, serializer_class) -> dict:
    serializer = serializer_class(data=query_data(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SnapshotCreateApi(APIView):
    @extend_schema(
        summary="Take (or retake) the equity snapshot of a session",
        parameters=[serializers.AccountQuerySerializer],
        request=serializers.SnapshotCreateSerializer,
        responses=serializers.SnapshotSerializer,
    )
    def post(self, request):
        account = user_account(request.user, query_data(request).get("account_id"))
        now = timezone.now()
        body = serializers.SnapshotCreateSerializer(data=request.data, context={"today": market_date(now)})
        body.is_valid(raise_exception=True)
        day = body.validated_data.get("date") or calendar.current_session(now)
        snapshot = create_daily_snapshot(account=account, date=day)
        audit_log_create(
            action="equity.snapshot",
            resource=f"account:{account.pk}",
            request=request,
            payload={"date": day, "total_equity": snapshot.total_equity},
        )
        return Response(serializers.SnapshotSerializer(snapshot).data)


class SnapshotListApi(APIView):
    @extend_schema(
        summary="Equity snapshots of the last N calendar days (today included)",
        parameters=[serializers.SnapshotsQuerySerializer],
        responses=serializers.SnapshotsSerializer,
    )
    def get(self, request):
        query = _query(request, serializers.SnapshotsQuerySerializer)
        account = user_account(request.user, query.get("account_id"))
        since = market_date(timezone.now()) - dt.timedelta(days=query["days"] - 1)  # today is one of the days
        rows = selectors.equity_snapshots_get(account=account, since=since)
        return Response(serializers.SnapshotsSerializer({"snapshots": rows}).data)


class PnlAttributionApi(APIView):
    @extend_schema(
        summary="Closed-trade P&L grouped by symbol, strategy tag or factor tag",
        parameters=[serializers.AttributionQuerySerializer],
        responses=serializers.AttributionSerializer,
    )
    def get(self, request):
        query = _query(request, serializers.AttributionQuerySerializer)
        account = user_account(request.user, query.get("account_id"))
        data = selectors.pnl_attribution_get(
            account=account, start=query.get("start_date"), end=query.get("end_date"), group_by=query["group_by"]
        )
        return Response(serializers.AttributionSerializer(data).data)


class StatsApi(APIView):
    @extend_schema(
        summary="Alpha and beta of the daily returns against the benchmark (SPY)",
        parameters=[serializers.DateRangeQuerySerializer],
        responses=serializers.StatsSerializer,
    )
    def get(self, request):
        query = _query(request, serializers.DateRangeQuerySerializer)
        account = user_account(request.user, query.get("account_id"))
        data = selectors.equity_stats_get(account=account, start=query.get("start_date"), end=query.get("end_date"))
        return Response(serializers.StatsSerializer(data).data)


class MonthlyReturnsApi(APIView):
    @extend_schema(
        summary="Monthly returns compounded from the daily snapshot returns",
        parameters=[serializers.DateRangeQuerySerializer],
        responses=serializers.MonthlyReturnsSerializer,
    )
    def get(self, request):
        query = _query(request, serializers.DateRangeQuerySerializer)
        account = user_account(request.user, query.get("account_id"))
        rows = selectors.monthly_returns_get(account=account, start=query.get("start_date"), end=query.get("end_date"))
        return Response(serializers.MonthlyReturnsSerializer({"monthly_returns": rows}).data)
