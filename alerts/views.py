from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, serializers, services
from alphaloop.contract import query_data
from alphaloop.net import client_ip
from alphaloop.scoping import user_account


class AlertListView(generics.ListAPIView):
    serializer_class = serializers.AlertSerializer

    @extend_schema(parameters=[serializers.AlertListQuerySerializer], tags=["alerts"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = serializers.AlertListQuerySerializer(data=query_data(self.request))
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        if "account_id" in filters:  # an account that is not yours is a 404, as on every sibling endpoint
            filters["account_id"] = user_account(self.request.user, filters["account_id"]).pk
        return selectors.alerts_list(user=self.request.user, **filters)


class AlertCreateView(APIView):
    @extend_schema(request=serializers.AlertCreateSerializer, responses={201: serializers.AlertSerializer}, tags=["alerts"])
    def post(self, request):
        body = serializers.AlertCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        account = user_account(request.user, data.pop("account_id", None))
        alert = services.alert_create(account=account, user=request.user, ip_address=client_ip(request), **data)
        return Response(serializers.AlertSerializer(alert).data, status=status.HTTP_201_CREATED)


class AlertDetailView(APIView):
    def _alert(self, request, pk: int):
        alert = selectors.alerts_list(user=request.user).filter(pk=pk).select_related("account").first()
        if alert is None:
            raise Http404
        return alert

    @extend_schema(responses=serializers.AlertSerializer, tags=["alerts"])
    def get(self, request, pk: int):
        return Response(serializers.AlertSerializer(self._alert(request, pk)).data)

    @extend_schema(request=serializers.AlertUpdateSerializer, responses=serializers.AlertSerializer, tags=["alerts"])
    def patch(self, request, pk: int):
        alert = self._alert(request, pk)
        body = serializers.AlertUpdateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        alert = services.alert_update(alert=alert, user=request.user, ip_address=client_ip(request), **body.validated_data)
        return Response(serializers.AlertSerializer(alert).data)

    @extend_schema(request=None, responses={204: None}, tags=["alerts"])
    def delete(self, request, pk: int):
        services.alert_delete(alert=self._alert(request, pk), user=request.user, ip_address=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertHistoryView(generics.ListAPIView):
    """What fired, newest first (``?limit=20`` as the spec spells the page size)."""

    serializer_class = serializers.AlertHistorySerializer
    page_size_aliases = ("limit",)

    @extend_schema(parameters=[serializers.AlertHistoryQuerySerializer], tags=["alerts"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = serializers.AlertHistoryQuerySerializer(data=query_data(self.request))
        query.is_valid(raise_exception=True)
        return selectors.alert_history_list(user=self.request.user, **query.validated_data)
