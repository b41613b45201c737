from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.audit import audit_log_create
from alphaloop.jobs import queue_require
from marketdata.models import Quote
from marketdata.pipeline import tick_ingest
from marketdata.serializers import QuoteInjectSerializer, QuoteSerializer


class PaperModeStaffOnly(permissions.BasePermission):
    """Reading quotes is open to any user; injecting one is for staff in PAPER mode only."""

    message = "Injecting quotes is allowed for staff users in PAPER mode only."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(settings.ORDER_MODE == "PAPER" and request.user and request.user.is_staff)


class QuotesView(generics.ListAPIView):
    """GET: the latest quote of every symbol, by symbol. POST (paper market control): inject a tick that
    flows through the same pipeline as a real feed."""

    permission_classes = [permissions.IsAuthenticated, PaperModeStaffOnly]
    serializer_class = QuoteSerializer

    @extend_schema(tags=["market"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return Quote.objects.select_related("instrument").order_by("instrument__symbol")

    @extend_schema(request=QuoteInjectSerializer, responses={201: QuoteSerializer}, tags=["market"])
    def post(self, request):
        serializer = QuoteInjectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        queue_require()  # the alerts and resting orders react in the background
        tick_ingest(symbol=data["symbol"], price=data["price"], volume=data["volume"], source="paper_api")
        audit_log_create(action="market.quote_inject", resource=f"quote:{data['symbol']}", payload=data, request=request)
        quote = Quote.objects.select_related("instrument").get(instrument__symbol=data["symbol"])
        return Response(QuoteSerializer(quote).data, status=status.HTTP_201_CREATED)


class QuoteDetailView(APIView):
    @extend_schema(responses=QuoteSerializer, tags=["market"])
    def get(self, request, symbol: str):
        quote = get_object_or_404(Quote.objects.select_related("instrument"), instrument__symbol=symbol.upper())
        return Response(QuoteSerializer(quote).data)
