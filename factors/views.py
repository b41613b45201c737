from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from factors import selectors, serializers
from factors.services import signals_scan
from alphaloop.openapi import ErrorSerializer
from factors.scoring import DEFAULT_WEIGHTS
from marketdata import calendar
from marketdata.models import Instrument


class SignalsLatestView(generics.ListAPIView):
    """The signals of the most recent scan (each row says its ``as_of``), strongest first."""

    serializer_class = serializers.SignalSerializer

    @extend_schema(parameters=[serializers.SignalsLatestQuerySerializer], tags=["signals"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = serializers.SignalsLatestQuerySerializer(data=query_data(self.request))
        query.is_valid(raise_exception=True)
        return selectors.signals_latest(**query.validated_data)


class SignalsRunView(APIView):
    @extend_schema(request=serializers.SignalsRunSerializer, tags=["signals"],
                   responses={200: serializers.SignalsRunResultSerializer, 403: ErrorSerializer})
    def post(self, request):
        body = serializers.SignalsRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The session scanned, also when it produced no signal (the service's default: the last closed one).
        as_of = body.validated_data.get("as_of") or calendar.last_closed_session()
        signals = signals_scan(user=request.user, request=request, **{**body.validated_data, "as_of": as_of})
        return Response({"as_of": as_of, "what_if": body.validated_data["what_if"],
                         "weights": body.validated_data.get("weights") or DEFAULT_WEIGHTS, "count": len(signals),
                         "signals": serializers.ScanSignalSerializer(signals, many=True).data})


class SignalWeightsView(APIView):
    @extend_schema(responses=serializers.SignalWeightsSerializer, tags=["signals"])
    def get(self, request):
        return Response({"weights": DEFAULT_WEIGHTS})


class FactorListView(generics.ListAPIView):
    serializer_class = serializers.FactorInfoSerializer

    @extend_schema(tags=["factors"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.factors_catalog()


class FactorSeriesView(APIView):
    @extend_schema(
        parameters=[serializers.FactorSeriesQuerySerializer, OpenApiParameter("symbol", str, OpenApiParameter.PATH)],
        responses=serializers.FactorSeriesSerializer, tags=["factors"],
    )
    def get(self, request, symbol: str):
        instrument = get_object_or_404(Instrument, symbol=symbol.upper())
        query = serializers.FactorSeriesQuerySerializer(data=query_data(request))
        query.is_valid(raise_exception=True)
        series = selectors.factor_series(symbol=instrument.symbol, **query.validated_data)
        return Response({"symbol": instrument.symbol, "factors": series})
