import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from alphaloop.scoping import owned_by
from backtest import serializers
from backtest.models import BacktestRun
from backtest.services import RunSpec, backtest_run_create, backtest_sweep_create
from backtest.strategies import STRATEGIES


def _spec(data: dict) -> RunSpec:
    return RunSpec(
        strategy_id=data["strategy_id"], params=data["params"], symbols=data.get("symbols"),
        start_date=data["start_date"], end_date=data["end_date"], initial_capital=data["initial_capital"],
        commission=data["commission"], slippage_bps=data["slippage_bps"], risk_free_rate=data.get("risk_free_rate"),
    )


def _accepted(run: BacktestRun) -> dict:
    return {"id": run.pk, "status": run.status, "results_url": f"/api/v1/backtest/results/{run.pk}"}


class RunView(APIView):
    @extend_schema(request=serializers.RunRequestSerializer, responses={202: serializers.RunAcceptedSerializer}, tags=["backtest"])
    def post(self, request):
        body = serializers.RunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = backtest_run_create(user=request.user, spec=_spec(body.validated_data), request=request)
        run.refresh_from_db()
        return Response(_accepted(run), status=status.HTTP_202_ACCEPTED)


class SweepView(APIView):
    @extend_schema(request=serializers.SweepRequestSerializer, responses={202: serializers.SweepAcceptedSerializer}, tags=["backtest"])
    def post(self, request):
        body = serializers.SweepRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sweep_id, runs = backtest_sweep_create(user=request.user, spec=_spec(body.validated_data),
                                               grid=body.validated_data["grid"], request=request)
        return Response({"sweep_id": sweep_id, "runs": [_accepted(r) for r in runs]}, status=status.HTTP_202_ACCEPTED)


class ResultView(APIView):
    @extend_schema(responses=serializers.RunResultSerializer, tags=["backtest"])
    def get(self, request, pk: int):
        run = get_object_or_404(owned_by(BacktestRun.objects.all(), request.user, owner_path="user"), pk=pk)
        return Response(serializers.RunResultSerializer(run).data)


class RunListView(generics.ListAPIView):
    """Your runs, newest first; ``?sweep_id=`` shows one parameter sweep side by side."""

    serializer_class = serializers.RunSummarySerializer

    @extend_schema(parameters=[OpenApiParameter("sweep_id", OpenApiTypes.UUID, required=False)], tags=["backtest"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        runs = owned_by(BacktestRun.objects.all(), self.request.user, owner_path="user")
        sweep_id = query_data(self.request).get("sweep_id")
        if sweep_id:
            try:
                runs = runs.filter(sweep_id=uuid.UUID(sweep_id))
            except ValueError:
                raise ValidationError({"sweep_id": ["Not a valid UUID."]}) from None
        return runs.order_by("-created_at", "-id")[:100]


class StrategyListView(APIView):
    @extend_schema(responses=serializers.StrategySerializer(many=True), tags=["backtest"])
    def get(self, request):
        return Response([STRATEGIES[key].describe() for key in sorted(STRATEGIES)])
