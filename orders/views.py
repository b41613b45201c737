from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.scoping import user_account, user_accounts
from orders.serializers import AccountSerializer


class AccountListView(generics.ListAPIView):
    """The accounts of the requesting user."""

    serializer_class = AccountSerializer
    pagination_class = None

    def get_queryset(self):
        return user_accounts(self.request.user).order_by("id")


class AccountDetailView(generics.RetrieveAPIView):
    serializer_class = AccountSerializer

    def get_queryset(self):
        return user_accounts(self.request.user)


class CurrentAccountView(APIView):
    """The requesting user's account (``?account_id=`` picks one when they have several)."""

    @extend_schema(
        parameters=[OpenApiParameter("account_id", int, required=False)],
        responses=AccountSerializer,
    )
    def get(self, request):
        return Response(AccountSerializer(user_account(request.user, request.query_params.get("account_id"))).data)
