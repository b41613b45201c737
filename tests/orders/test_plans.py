"""Trading plans executed through the order path, plan_execution_rate, and approvals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from rest_framework.exceptions import ValidationError

from alphaloop.exceptions import ApplicationError
from alphaloop.models import AuditLog
from orders.models import ApprovalRequest, Order, TradingPlan

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture
def make_plan(account, aapl, session_time):
    from orders.plans import plan_create

    def _make(**kwargs) -> TradingPlan:
        values = {"account": account, "symbol": "AAPL", "direction": "LONG", "entry_price": D("99"), "quantity": D("10"),
                  "stop_price": D("95"), "target_price": D("110"), **kwargs}
        return plan_create(**values)

    return _make


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"stop_price": D("100")}, "stop_price"),  # a long stop above the entry
        ({"target_price": D("98")}, "target_price"),
        ({"direction": "SHORT"}, "stop_price"),  # stop 95 below a short entry of 99
        ({"symbol": "NOPE"}, "symbol"),
        ({"quantity": D("0")}, "quantity"),
        ({"status": "EXECUTED"}, "status"),
        ({"order_type": "FOK"}, "order_type"),
        ({"valid_until": dt.datetime(2026, 11, 1, tzinfo=UTC)}, "valid_until"),
    ],
)
def test_an_inconsistent_plan_is_refused_naming_the_field(make_plan, row_counts, kwargs, field):
    before = row_counts()
    with pytest.raises(ValidationError) as caught:
        make_plan(**kwargs)
    assert field in caught.value.detail
    assert row_counts() == before


def test_executing_a_plan_sends_its_order_and_executing_it_again_places_nothing(make_plan, row_counts):
    from orders.plans import plan_execute

    plan = make_plan()
    order = plan_execute(plan=plan)
    plan.refresh_from_db()
    assert (order.order_type, order.limit_price, order.side, order.quantity) == ("LIMIT", D("99"), "BUY", D("10"))
    assert (order.client_order_id, order.plan_id, order.source) == (f"plan-{plan.pk}", plan.pk, "PLAN")
    assert (plan.status, plan.executed_at is not None) == (TradingPlan.EXECUTED, True)

    before = row_counts()
    assert plan_execute(plan=plan).pk == order.pk
    assert row_counts() == before


def test_a_refused_plan_stays_pending_and_can_be_executed_later(make_plan, session_time):
    from orders.plans import plan_execute

    plan = make_plan(order_type="MARKET")
    session_time.move_to(dt.datetime(2026, 11, 24, 22, 0, tzinfo=UTC), tick=False)
    refused = plan_execute(plan=plan)
    plan.refresh_from_db()
    assert (refused.reject_code, plan.status) == ("outside_trading_hours", TradingPlan.PENDING)

    session_time.move_to(dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC), tick=False)
    order = plan_execute(plan=plan)
    plan.refresh_from_db()
    assert (order.status, order.client_order_id, plan.status) == (Order.FILLED, f"plan-{plan.pk}-1", TradingPlan.EXECUTED)


def test_a_plan_whose_client_order_id_was_taken_by_another_order_is_a_conflict_not_that_order(make_plan, submit):
    from orders.plans import plan_execute

    plan = make_plan()
    squatter = submit("BUY", 1, client_order_id=f"plan-{plan.pk}")  # a script reused the plan's id for another order
    with pytest.raises(ApplicationError) as caught:
        plan_execute(plan=plan)
    plan.refresh_from_db()
    assert (caught.value.code, caught.value.extra["order_id"]) == ("client_order_id_conflict", squatter.pk)
    assert {"quantity", "order_type", "limit_price", "plan"} <= set(caught.value.extra["conflicts"])
    assert plan.status == TradingPlan.PENDING and Order.objects.count() == 1


def test_stop_plans_send_stop_orders(make_plan):
    from orders.plans import plan_execute

    order = plan_execute(plan=make_plan(order_type="STOP", entry_price=D("105"), target_price=D("120")))
    assert (order.order_type, order.stop_price, order.limit_price, order.status) == ("STOP", D("105"), None, Order.ACCEPTED)


def test_cancelled_and_expired_plans_cannot_be_executed(make_plan, session_time):
    from orders.plans import plan_execute, plan_update

    cancelled = plan_update(plan=make_plan(), data={"status": "CANCELLED"})
    with pytest.raises(ApplicationError) as caught:
        plan_execute(plan=cancelled)
    assert (caught.value.code, caught.value.status_code) == ("plan_not_executable", 409)

    lapsing = make_plan(valid_until=dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    session_time.shift(3 * 3600)
    with pytest.raises(ApplicationError):
        plan_execute(plan=lapsing)
    lapsing.refresh_from_db()
    assert lapsing.status == TradingPlan.EXPIRED and not Order.objects.exists()


def test_an_executed_plan_can_no_longer_be_edited(make_plan):
    from orders.plans import plan_execute, plan_update

    plan = make_plan()
    plan_execute(plan=plan)
    with pytest.raises(ApplicationError) as caught:
        plan_update(plan=plan, data={"quantity": D("20")})
    assert caught.value.code == "plan_not_editable"


def test_plan_execution_rate_is_executed_over_decided_plans(account, make_plan):
    from orders.selectors import plan_execution_rate

    assert plan_execution_rate(account) is None
    for status, count in ((TradingPlan.EXECUTED, 3), (TradingPlan.EXPIRED, 2), (TradingPlan.CANCELLED, 3),
                          (TradingPlan.PENDING, 4), (TradingPlan.ACTIVE, 1)):
        for _ in range(count):
            TradingPlan.objects.filter(pk=make_plan().pk).update(status=status)
    assert plan_execution_rate(account) == D("0.3750")  # 3 / (3 + 2 + 3); open plans do not count


def test_plans_expire_job_expires_lapsed_plans_and_approvals_once(make_plan, session_time):
    from orders.approvals import approval_request_create
    from orders.tasks import order_expiry_job

    lapsing = make_plan(valid_until=dt.datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    approval = approval_request_create(plan=lapsing, source="signal:1")
    assert approval.expires_at == lapsing.valid_until  # never outlives its plan
    session_time.move_to(dt.datetime(2026, 11, 24, 21, 5, tzinfo=UTC), tick=False)
    first, second = order_expiry_job.delay().get(), order_expiry_job.delay().get()
    assert (first["plans"], first["approvals"]) == ([lapsing.pk], [approval.pk])
    assert (second["plans"], second["approvals"]) == ([], [])


# --- approvals ------------------------------------------------------------------------------------------

def test_an_approval_request_is_notified_after_commit_and_asked_once_per_plan(account, make_plan, django_capture_on_commit_callbacks):
    from notifications.models import NotificationLog
    from orders.approvals import approval_request_create

    plan = make_plan()
    with django_capture_on_commit_callbacks(execute=True):
        approval = approval_request_create(plan=plan, source="alert:7", reason="AAPL crossed 99")
    assert approval_request_create(plan=plan, source="alert:7").pk == approval.pk
    assert (approval.status, len(approval.token)) == (ApprovalRequest.PENDING, 8)
    log = NotificationLog.objects.filter(account=account, event_type="approval_requested").first()
    assert log is not None and approval.token in log.body


def test_approving_executes_the_plan_through_the_order_path_once(account, make_plan):
    from orders.approvals import approval_decide, approval_request_create

    plan = make_plan()
    approval = approval_request_create(plan=plan, source="alert:7")
    decided = approval_decide(approval=approval, approve=True, via="dashboard", user=account.user)

    plan.refresh_from_db()
    assert (decided.status, decided.decided_via, plan.status) == (ApprovalRequest.APPROVED, "dashboard", TradingPlan.EXECUTED)
    assert (decided.order.source, decided.order.client_order_id) == ("APPROVAL", f"plan-{plan.pk}")
    with pytest.raises(ApplicationError) as caught:
        approval_decide(approval=approval, approve=True, via="telegram")  # a stale instance: the claim fails
    assert caught.value.code == "approval_decided"
    assert Order.objects.count() == 1
    assert AuditLog.objects.filter(action="approval.approve", user=account.user).count() == 1


PRE_MARKET = dt.datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # Tuesday 08:00 ET
OPEN = dt.datetime(2026, 11, 24, 14, 45, tzinfo=UTC)  # 09:45 ET


def test_an_approval_the_guard_refuses_stays_pending_with_the_reason_until_it_can_execute(make_plan, session_time, settings):
    from orders.approvals import approval_decide, approval_request_create

    settings.APPROVAL_TTL_MINUTES = 240
    session_time.move_to(PRE_MARKET, tick=False)
    plan = make_plan()
    approval = approval_request_create(plan=plan, source="alert:7", reason="AAPL crossed 99")

    refused = approval_decide(approval=approval, approve=True, via="dashboard")

    plan.refresh_from_db()
    assert (refused.status, plan.status) == (ApprovalRequest.PENDING, TradingPlan.PENDING)
    assert (refused.refusal_code, refused.refused_at) == ("outside_trading_hours", PRE_MARKET)
    assert "next opens 2026-11-24 09:30 ET" in refused.refusal_reason
    rejected = Order.objects.get()
    assert (rejected.status, rejected.source, rejected.reject_code) == (Order.REJECTED, "APPROVAL", "outside_trading_hours")
    assert refused.order == rejected  # the last order it sent
    assert AuditLog.objects.filter(action="approval.refused", resource=f"approval:{approval.pk}").count() == 1

    session_time.move_to(OPEN, tick=False)
    approved = approval_decide(approval=refused, approve=True, via="dashboard")

    plan.refresh_from_db()
    assert (approved.status, approved.order.status, plan.status) == (ApprovalRequest.APPROVED, Order.ACCEPTED, TradingPlan.EXECUTED)
    assert (approved.order.client_order_id, Order.objects.count()) == (f"plan-{plan.pk}-1", 2)


def test_a_refused_approval_still_expires_at_its_time(make_plan, session_time):
    from orders.approvals import approval_decide, approval_request_create, approvals_expire

    session_time.move_to(PRE_MARKET, tick=False)
    approval = approval_decide(approval=approval_request_create(plan=make_plan(), source="alert:7"), approve=True,
                               via="telegram")
    assert approval.status == ApprovalRequest.PENDING
    session_time.shift(3601)
    assert approvals_expire() == [approval.pk]
    with pytest.raises(ApplicationError) as caught:
        approval_decide(approval=approval, approve=True, via="dashboard")
    assert caught.value.code in ("approval_expired", "approval_decided")
    assert Order.objects.count() == 1


def test_an_approval_whose_plan_makes_an_invalid_order_stays_pending_and_says_why(account, make_plan):
    from orders.approvals import approval_decide, approval_request_create

    account.allow_short = False
    account.save()
    approval = approval_request_create(plan=make_plan(direction="SHORT", stop_price=D("105"), target_price=D("90")),
                                       source="alert:7")
    with pytest.raises(ValidationError) as caught:
        approval_decide(approval=approval, approve=True, via="dashboard")
    approval.refresh_from_db()
    assert "quantity" in caught.value.detail
    assert (approval.status, approval.refusal_code) == (ApprovalRequest.PENDING, "invalid_order")
    assert "Short selling is not allowed" in approval.refusal_reason and not Order.objects.exists()


def test_rejecting_places_nothing(make_plan):
    from orders.approvals import approval_decide, approval_request_create

    plan = make_plan()
    decided = approval_decide(approval=approval_request_create(plan=plan, source="signal:3"), approve=False, via="telegram")
    plan.refresh_from_db()
    assert (decided.status, decided.order, plan.status) == (ApprovalRequest.REJECTED, None, TradingPlan.PENDING)
    assert not Order.objects.exists()


def test_an_expired_approval_cannot_be_approved(make_plan, session_time):
    from orders.approvals import approval_decide, approval_request_create

    approval = approval_request_create(plan=make_plan(), source="signal:3")
    session_time.shift(3601)  # APPROVAL_TTL_MINUTES defaults to 60
    with pytest.raises(ApplicationError) as caught:
        approval_decide(approval=approval, approve=True, via="dashboard")
    approval.refresh_from_db()
    assert (caught.value.code, approval.status) == ("approval_expired", ApprovalRequest.EXPIRED)
    assert not Order.objects.exists()
