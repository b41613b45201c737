from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from alphaloop.scoping import user_account
from dashboard.serializers import DashboardSummarySerializer
from dashboard.services import dashboard_summary_data


class SummaryView(APIView):
    @extend_schema(parameters=[OpenApiParameter("account_id", int, required=False)],
                   responses=DashboardSummarySerializer, tags=["dashboard"])
    def get(self, request):
        account = user_account(request.user, query_data(request).get("account_id"))
        return Response(dashboard_summary_data(account=account))
