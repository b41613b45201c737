"""Orders API (spec 3.5 and the plans/approvals/positions/exposure endpoints). Thin: validate, call a service, serialize.

A guard refusal is answered with **422 Unprocessable Entity**: the request was well formed but a
risk rule refused it; the body names the rule: ``{"detail", "code": <reject_code>, "order": {...}}``.
Malformed input is a 400 naming the field. Another user's order, plan or approval is a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import ContractMultiPartParser, query_data
from alphaloop.money import percent
from alphaloop.net import client_ip
from alphaloop.scoping import owned_by, user_account, user_accounts
from orders import selectors
from orders.approvals import approval_decide
from orders.cancellation import order_cancel
from orders.external_fills import fills_import
from orders.models import ApprovalRequest, BrokerMismatch, Order, TradingPlan
from orders.plans import plan_create, plan_delete, plan_execute, plan_update
from orders.serializers import (
    AccountSerializer,
    AccountSummarySerializer,
    ApprovalDecideSerializer,
    ApprovalRefusalSerializer,
    ApprovalSerializer,
    BrokerMismatchQuerySerializer,
    BrokerMismatchSerializer,
    ClientOrderIdConflictSerializer,
    ErrorSerializer,
    ExposureSerializer,
    FillsImportRefusalSerializer,
    FillsImportReportSerializer,
    FillsImportSerializer,
    MarketSessionSerializer,
    OrderDetailSerializer,
    OrderPreviewSerializer,
    OrderRefusalSerializer,
    OrderSerializer,
    OrderSubmitSerializer,
    PlanExecuteResponseSerializer,
    PlanSerializer,
    PositionsSerializer,
)
from orders.submission import order_place, order_preview

ACCOUNT_PARAM = OpenApiParameter("account_id", int, required=False, description="One of your accounts (default: the first)")
REFUSED = OpenApiResponse(OrderRefusalSerializer, description="Refused by a guard rule or the broker; `code` names the rule")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found (or not yours)")
CONFLICT = OpenApiResponse(ErrorSerializer, description="The object is not in a state that allows this")


class OrderHistoryQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=[s for s, _ in Order.STATUSES], required=False)
    symbol = serializers.CharField(max_length=32, required=False)


class PlanQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=[s for s, _ in TradingPlan.STATUSES], required=False)


class ApprovalQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=[s for s, _ in ApprovalRequest.STATUSES], required=False)


class AccountQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False)


def _query(serializer_class, request) -> dict:
    serializer = serializer_class(data=query_data(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _order_response(order: Order, *, created: bool, extra: dict | None = None) -> Response:
    if order.status == Order.REJECTED:
        body = {"detail": order.reject_reason, "code": order.reject_code, "order": OrderSerializer(order).data}
        return Response({**body, **(extra or {})}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    data = OrderSerializer(order).data
    return Response({"order": data, **extra} if extra else data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _user_orders(request):
    return owned_by(Order.objects.select_related("account"), request.user)


# --- accounts -------------------------------------------------------------------------------------

class AccountListView(generics.ListAPIView):
    """The accounts of the requesting user."""

    serializer_class = AccountSerializer

    def get_queryset(self):
        return user_accounts(self.request.user).order_by("id")


class AccountDetailView(generics.RetrieveAPIView):
    serializer_class = AccountSerializer

    def get_queryset(self):
        return user_accounts(self.request.user)


class CurrentAccountView(APIView):
    """The requesting user's account with its live valuation (``?account_id=`` picks one when they have several)."""

    @extend_schema(parameters=[ACCOUNT_PARAM], responses={200: AccountSummarySerializer, 404: NOT_FOUND}, tags=["orders"])
    def get(self, request):
        account = user_account(request.user, query_data(request).get("account_id"))
        valuation = selectors.account_valuation(account)
        account.cash = valuation["cash"]  # REAL mode: the broker's, as last reconciled
        account.equity = valuation["equity"]
        account.market_value = valuation["market_value"]
        account.unrealized_pnl = valuation["unrealized_pnl"]
        account.previous_close_equity = selectors.previous_close_equity(account)
        account.breaker_active = selectors.breaker_active(account)
        return Response(AccountSummarySerializer(account).data)


# --- orders ----------------------------------------------------------------------------------------

class OrderSubmitView(APIView):
    """Submit an order: validation, then the OrderSafetyGuard, then the broker (the one order path)."""

    @extend_schema(
        request=OrderSubmitSerializer,
        responses={201: OrderSerializer, 200: OpenApiResponse(OrderSerializer, description="Replay of an existing client_order_id"),
                   409: OpenApiResponse(ClientOrderIdConflictSerializer,
                                        description="The client_order_id names a different order (`conflicts` lists each field)"),
                   422: REFUSED},
        tags=["orders"],
    )
    def post(self, request):
        serializer = OrderSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        account = user_account(request.user, data.pop("account_id", None))
        plan_id = data.pop("plan_id", None)
        plan = None
        if plan_id is not None:
            plan = TradingPlan.objects.filter(pk=plan_id, account=account).first()
            if plan is None:
                raise ValidationError({"plan_id": ["No such plan on this account."]})
        order, created = order_place(
            account=account, plan=plan, source="API", user=request.user, ip_address=client_ip(request), **data
        )
        return _order_response(order, created=created)


class OrderPreviewView(APIView):
    """Run validation and every guard rule for an order WITHOUT placing or writing anything."""

    @extend_schema(request=OrderSubmitSerializer, responses={200: OrderPreviewSerializer}, tags=["orders"])
    def post(self, request):
        serializer = OrderSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = user_account(request.user, data.get("account_id"))
        decision = order_preview(
            account=account, symbol=data["symbol"], side=data["side"], quantity=data["quantity"],
            order_type=data["order_type"], time_in_force=data["time_in_force"],
            limit_price=data.get("limit_price"), stop_price=data.get("stop_price"),
        )
        body = {
            "allowed": decision.allowed, "code": decision.code, "reason": decision.reason,
            "checks": [{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in decision.checks],
            "warnings": [warning.as_dict() for warning in decision.warnings], "buying_power": decision.buying_power,
            "reference_price": decision.reference_price, "notional": decision.notional, "equity": decision.equity,
            "order_pct": percent(decision.order_pct), "previous_close_equity": decision.previous_close_equity,
            "daily_pnl_pct": percent(decision.daily_pnl_pct),
        }
        return Response(OrderPreviewSerializer(body).data)


class OrderStatusView(APIView):
    @extend_schema(responses={200: OrderDetailSerializer, 404: NOT_FOUND}, tags=["orders"])
    def get(self, request, pk: int):
        order = get_object_or_404(_user_orders(request).prefetch_related("fills"), pk=pk)
        return Response(OrderDetailSerializer(order).data)


class OrderCancelView(APIView):
    @extend_schema(request=None, responses={200: OrderSerializer, 404: NOT_FOUND, 409: CONFLICT}, tags=["orders"])
    def post(self, request, pk: int):
        order = get_object_or_404(_user_orders(request), pk=pk)
        order = order_cancel(order=order, user=request.user, ip_address=client_ip(request))
        return Response(OrderSerializer(order).data)


class OrderHistoryView(generics.ListAPIView):
    """Your orders, newest first (``?limit=20`` as the spec spells the page size)."""

    serializer_class = OrderSerializer
    page_size_aliases = ("limit",)

    @extend_schema(parameters=[OrderHistoryQuerySerializer], tags=["orders"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _query(OrderHistoryQuerySerializer, self.request)
        orders = _user_orders(self.request)
        if "account_id" in query:
            orders = orders.filter(account=user_account(self.request.user, query["account_id"]))
        if "status" in query:
            orders = orders.filter(status=query["status"])
        if "symbol" in query:
            orders = orders.filter(symbol=query["symbol"].strip().upper())
        return orders.order_by("-created_at", "-id")


class OpenOrdersView(generics.ListAPIView):
    """Your open orders (NEW, ACCEPTED, PARTIALLY_FILLED), oldest first."""

    serializer_class = OrderSerializer

    @extend_schema(parameters=[AccountQuerySerializer], tags=["orders"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _query(AccountQuerySerializer, self.request)
        orders = _user_orders(self.request).filter(status__in=Order.OPEN_STATUSES)
        if "account_id" in query:
            orders = orders.filter(account=user_account(self.request.user, query["account_id"]))
        return orders.order_by("created_at", "id")


class PositionsView(APIView):
    @extend_schema(parameters=[ACCOUNT_PARAM], responses={200: PositionsSerializer, 404: NOT_FOUND}, tags=["orders"])
    def get(self, request):
        account = user_account(request.user, query_data(request).get("account_id"))
        return Response(PositionsSerializer(selectors.account_valuation(account)).data)


class ExposureView(APIView):
    """Greeks exposure of the account in dollars and in percent of equity (see ``orders.selectors.portfolio_exposure``)."""

    @extend_schema(parameters=[ACCOUNT_PARAM], responses={200: ExposureSerializer, 404: NOT_FOUND}, tags=["orders"])
    def get(self, request):
        account = user_account(request.user, query_data(request).get("account_id"))
        return Response(ExposureSerializer(selectors.portfolio_exposure(account)).data)


class MarketSessionView(APIView):
    """The NYSE session now (pre-market / open / after-hours / closed, next open, half days, holidays; times in ET)
    and whether orders pass the trading-hours rule: the navbar badge and the order ticket read it."""

    @extend_schema(responses={200: MarketSessionSerializer}, tags=["market"])
    def get(self, request):
        return Response(MarketSessionSerializer(selectors.market_session_get()).data)


# --- plans -----------------------------------------------------------------------------------------

def _user_plans(request):
    return owned_by(TradingPlan.objects.select_related("account"), request.user)


class PlanListCreateView(generics.ListAPIView):
    serializer_class = PlanSerializer

    @extend_schema(parameters=[PlanQuerySerializer], tags=["plans"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _query(PlanQuerySerializer, self.request)
        plans = _user_plans(self.request)
        if "account_id" in query:
            plans = plans.filter(account=user_account(self.request.user, query["account_id"]))
        if "status" in query:
            plans = plans.filter(status=query["status"])
        return plans.order_by("-created_at", "-id")

    @extend_schema(request=PlanSerializer, responses={201: PlanSerializer}, tags=["plans"])
    def post(self, request):
        serializer = PlanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        account = user_account(request.user, data.pop("account_id", None))
        plan = plan_create(account=account, user=request.user, ip_address=client_ip(request), **data)
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetailView(APIView):
    @extend_schema(responses={200: PlanSerializer, 404: NOT_FOUND}, tags=["plans"])
    def get(self, request, pk: int):
        return Response(PlanSerializer(get_object_or_404(_user_plans(request), pk=pk)).data)

    @extend_schema(request=PlanSerializer, responses={200: PlanSerializer, 404: NOT_FOUND, 409: CONFLICT}, tags=["plans"])
    def patch(self, request, pk: int):
        plan = get_object_or_404(_user_plans(request), pk=pk)
        serializer = PlanSerializer(plan, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "account_id" in data:
            raise ValidationError({"account_id": ["A plan cannot move to another account."]})
        plan = plan_update(plan=plan, data=data, user=request.user, ip_address=client_ip(request))
        return Response(PlanSerializer(plan).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND, 409: CONFLICT}, tags=["plans"])
    def delete(self, request, pk: int):
        plan = get_object_or_404(_user_plans(request), pk=pk)
        plan_delete(plan=plan, user=request.user, ip_address=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlanExecuteView(APIView):
    """Send the plan's order through the order path (idempotent: a second call returns the same order)."""

    @extend_schema(request=None, responses={201: PlanExecuteResponseSerializer, 200: PlanExecuteResponseSerializer,
                                            404: NOT_FOUND, 409: CONFLICT, 422: REFUSED}, tags=["plans"])
    def post(self, request, pk: int):
        plan = get_object_or_404(_user_plans(request), pk=pk)
        existing = plan.orders.exclude(status=Order.REJECTED).exists()
        order = plan_execute(plan=plan, source="PLAN", user=request.user, ip_address=client_ip(request))
        plan.refresh_from_db()
        return _order_response(order, created=not existing, extra={"plan": PlanSerializer(plan).data})


# --- approvals ---------------------------------------------------------------------------------------

class ApprovalListView(generics.ListAPIView):
    serializer_class = ApprovalSerializer

    @extend_schema(parameters=[ApprovalQuerySerializer], tags=["plans"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _query(ApprovalQuerySerializer, self.request)
        approvals = owned_by(ApprovalRequest.objects.select_related("plan"), self.request.user)
        if "account_id" in query:
            approvals = approvals.filter(account=user_account(self.request.user, query["account_id"]))
        if "status" in query:
            approvals = approvals.filter(status=query["status"])
        return approvals.order_by("-created_at", "-id")


class ApprovalDecideView(APIView):
    """Approve (send the plan's order) or reject. An approval whose order is refused stays PENDING (422)."""

    @extend_schema(request=ApprovalDecideSerializer,
                   responses={200: ApprovalSerializer, 404: NOT_FOUND, 409: CONFLICT,
                              422: OpenApiResponse(ApprovalRefusalSerializer,
                                                   description="The order was refused; the approval stays pending")},
                   tags=["plans"])
    def post(self, request, pk: int):
        approval = get_object_or_404(owned_by(ApprovalRequest.objects.all(), request.user), pk=pk)
        serializer = ApprovalDecideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        approve = serializer.validated_data["approve"]
        approval = approval_decide(approval=approval, approve=approve, via="api",
                                            user=request.user, ip_address=client_ip(request))
        if approve and approval.status == ApprovalRequest.PENDING:
            body = {"detail": f"{approval.refusal_reason} {approval.pending_note()}: approve it again once it can execute.",
                    "code": approval.refusal_code, "approval": ApprovalSerializer(approval).data,
                    "order": OrderSerializer(approval.order).data}
            return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(ApprovalSerializer(approval).data)


# --- trade history ---------------------------------------------------------------------------------

class FillsImportView(APIView):
    """Import a broker's executions (Alpaca FILL activities, an IBKR Flex trades CSV or the generic CSV) into one of
    your accounts: idempotent on the broker's execution id; a file with a bad row imports nothing (422, every bad
    line named); ``dry_run`` checks and counts without writing."""

    parser_classes = [ContractMultiPartParser]

    @property
    def upload_max_bytes(self) -> int:
        return settings.IMPORT_FILLS_MAX_BYTES

    @extend_schema(
        request={"multipart/form-data": FillsImportSerializer},
        responses={200: FillsImportReportSerializer, 404: NOT_FOUND,
                   413: OpenApiResponse(ErrorSerializer, description="The upload is larger than IMPORT_FILLS_MAX_BYTES "
                                                                     "(code request_too_large)"),
                   415: OpenApiResponse(ErrorSerializer, description="The body is not multipart/form-data"),
                   422: OpenApiResponse(FillsImportRefusalSerializer,
                                        description="Bad rows (each with its line): nothing was imported")},
        tags=["orders"],
    )
    def post(self, request):
        serializer = FillsImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = user_account(request.user, data.get("account_id"))
        report = fills_import(account=account, content=data["file"].read(), file_format=data["format"],
                              dry_run=data["dry_run"], max_rows=settings.IMPORT_FILLS_MAX_ROWS, user=request.user,
                              ip_address=client_ip(request))
        body = FillsImportReportSerializer(report.as_dict()).data
        if report.status == "refused":
            return Response({**body, "code": "import_refused"}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(body)


# --- reconciliation with the broker -----------------------------------------------------------------------------

class BrokerReconciliationView(generics.ListAPIView):
    """Differences reconciliation found between your books and the broker's, newest first
    (``?account_id=``, ``?open=true``, ``?page=``, ``?page_size=``). Another user's account is a 404."""

    serializer_class = BrokerMismatchSerializer

    @extend_schema(parameters=[BrokerMismatchQuerySerializer], tags=["orders"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _query(BrokerMismatchQuerySerializer, self.request)
        mismatches = owned_by(BrokerMismatch.objects.all(), self.request.user)
        if query.get("account_id") is not None:
            mismatches = mismatches.filter(account=user_account(self.request.user, query["account_id"]))
        if query.get("open") is not None:
            mismatches = mismatches.filter(resolved_at__isnull=query["open"])
        return mismatches.order_by("-detected_at", "-id")
