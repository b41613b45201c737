import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from alphaloop.openapi import ErrorSerializer
from alphaloop.scoping import owned_by
from backtest import selectors, serializers
from backtest.models import BacktestRun, WalkForwardRun
from backtest.services import (RunSpec, WalkForwardSpec, backtest_run_create, backtest_sweep_create,
                               backtest_walk_forward_create)
from backtest.strategies import STRATEGIES


def _spec(data: dict) -> RunSpec:
    return RunSpec(
        strategy_id=data["strategy_id"], params=data["params"], symbols=data.get("symbols"),
        start_date=data["start_date"], end_date=data["end_date"], initial_capital=data["initial_capital"],
        commission=data["commission"], slippage_bps=data["slippage_bps"], risk_free_rate=data.get("risk_free_rate"),
        spread=data["spread"], max_volume_fraction=data.get("max_volume_fraction"),
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
        return runs.order_by("-created_at", "-id")


class StrategyListView(generics.ListAPIView):
    serializer_class = serializers.StrategySerializer

    @extend_schema(tags=["backtest"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return [STRATEGIES[key].describe() for key in sorted(STRATEGIES)]


def _query(request, serializer_class) -> dict:
    query = serializer_class(data=query_data(request))
    query.is_valid(raise_exception=True)
    return query.validated_data


class WalkForwardView(generics.ListAPIView):
    serializer_class = serializers.WalkForwardSummarySerializer

    @extend_schema(tags=["backtest"])
    def get(self, request, *args, **kwargs):
        """Your walk-forwards, newest first."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return owned_by(WalkForwardRun.objects.all(), self.request.user, owner_path="user").order_by("-created_at", "-id")

    @extend_schema(request=serializers.WalkForwardRequestSerializer,
                   responses={202: serializers.WalkForwardSummarySerializer}, tags=["backtest"])
    def post(self, request):
        """Optimise the grid on each train window, trade the winner on the next test window, stitch them."""
        body = serializers.WalkForwardRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        spec = WalkForwardSpec(run=_spec(data), grid=data["grid"], train_days=data["train_days"],
                               test_days=data["test_days"], step_days=data.get("step_days"),
                               anchored=data["anchored"], objective=data["objective"])
        run = backtest_walk_forward_create(user=request.user, spec=spec, request=request)
        run.refresh_from_db()
        return Response(serializers.WalkForwardSummarySerializer(run).data, status=status.HTTP_202_ACCEPTED)


class WalkForwardResultView(APIView):
    @extend_schema(responses=serializers.WalkForwardResultSerializer, tags=["backtest"])
    def get(self, request, pk: int):
        run = get_object_or_404(owned_by(WalkForwardRun.objects.all(), request.user, owner_path="user")
                                .prefetch_related("windows"), pk=pk)
        return Response(serializers.WalkForwardResultSerializer(run).data)


class RobustnessView(APIView):
    @extend_schema(parameters=[serializers.RobustnessQuerySerializer],
                   responses={200: serializers.RobustnessSerializer, 409: ErrorSerializer}, tags=["backtest"])
    def get(self, request, pk: int):
        """Monte Carlo on the run's trades and its metrics by market regime."""
        query = _query(request, serializers.RobustnessQuerySerializer)
        run = selectors.run_finished_get(user=request.user, run_id=pk)
        report = selectors.run_robustness(run=run, paths=query["paths"], seed=query["seed"],
                                          ruin_drawdown=query["ruin_pct"] / 100)
        return Response(serializers.RobustnessSerializer(report).data)


class SensitivityView(APIView):
    @extend_schema(parameters=[serializers.SensitivityQuerySerializer],
                   responses=serializers.SensitivitySerializer, tags=["backtest"])
    def get(self, request, sweep_id: uuid.UUID):
        """The objective over two parameters of a sweep (a heatmap) and how far its best point is from its neighbours."""
        query = _query(request, serializers.SensitivityQuerySerializer)
        report = selectors.sweep_sensitivity(user=request.user, sweep_id=sweep_id, x=query.get("x"),
                                             y=query.get("y"), objective=query["objective"])
        return Response(serializers.SensitivitySerializer(report).data)
