"""The orders REST API: shapes, status codes, scoping (a stranger gets 404) and audit rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from alphaloop.models import AuditLog
from orders.models import ApprovalRequest, Order, Position, TradingPlan

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def post(client, path: str, data: dict | None = None, **extra):
    return client.post(path, data or {}, format="json", REMOTE_ADDR="10.9.8.7", **extra)


# --- submit ----------------------------------------------------------------------------------------

def test_submit_places_a_market_order_and_audits_it_with_the_user_and_ip(trader_api, user, aapl):
    response = post(trader_api, "/api/v1/orders/submit", {"symbol": "aapl", "direction": "BUY", "quantity": "10"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["symbol"], body["side"], body["direction"]) == ("FILLED", "AAPL", "BUY", "BUY")
    assert (body["filled_quantity"], body["avg_fill_price"], body["source"]) == ("10.000000", "100.050000", "API")
    audit = AuditLog.objects.get(action="order.submit", resource=f"order:{body['id']}")
    assert (audit.user, audit.ip_address) == (user, "10.9.8.7")


def test_a_guard_refusal_is_a_422_naming_the_rule_with_the_stored_order(trader_api, aapl):
    response = post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "side": "BUY", "quantity": "201"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "max_order_pct" and "20.00% of equity" in body["detail"]
    assert (body["order"]["status"], body["order"]["reject_code"]) == ("REJECTED", "max_order_pct")
    assert Order.objects.get(pk=body["order"]["id"]).status == Order.REJECTED


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"symbol": "AAPL", "quantity": "1"}, "direction"),
        ({"symbol": "AAPL", "direction": "BUY", "quantity": "abc"}, "quantity"),
        ({"symbol": "AAPL", "direction": "BUY", "quantity": "0"}, "quantity"),
        ({"symbol": "AAPL", "direction": "BUY", "quantity": "1", "order_type": "LIMIT"}, "limit_price"),
        ({"symbol": "ZZZZ", "direction": "BUY", "quantity": "1"}, "symbol"),
        ({"symbol": "AAPL", "direction": "SHORT", "quantity": "1"}, "direction"),
        ({"symbol": "AAPL", "direction": "BUY", "side": "SELL", "quantity": "1"}, "direction"),
        ({"symbol": "AAPL", "direction": "BUY", "quantity": "1", "plan_id": 999999}, "plan_id"),
        ({"symbol": "AAPL", "direction": "BUY", "quantity": "1", "client_order_id": "x" * 65}, "client_order_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(trader_api, aapl, row_counts, data, field):
    before = row_counts()
    response = post(trader_api, "/api/v1/orders/submit", data)
    assert response.status_code == 400 and field in response.json(), response.json()
    assert row_counts() == before


def test_resubmitting_a_client_order_id_answers_200_with_the_same_order(trader_api, aapl):
    data = {"symbol": "AAPL", "direction": "BUY", "quantity": "3", "client_order_id": "nb-42"}
    first = post(trader_api, "/api/v1/orders/submit", data)
    second = post(trader_api, "/api/v1/orders/submit", data)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and Order.objects.count() == 1


def test_resubmitting_a_client_order_id_with_another_order_is_a_409_naming_the_fields(trader_api, aapl, row_counts):
    first = post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": "3",
                                                       "client_order_id": "nb-43"})
    before = row_counts()
    response = post(trader_api, "/api/v1/orders/submit", {"symbol": "MSFT", "direction": "SELL", "quantity": "3",
                                                          "client_order_id": "nb-43"})

    assert response.status_code == 409, response.json()
    body = response.json()
    assert (body["code"], body["order_id"]) == ("client_order_id_conflict", first.json()["id"])
    assert body["conflicts"] == {"symbol": {"existing": "AAPL", "requested": "MSFT"},
                                 "side": {"existing": "BUY", "requested": "SELL"}}
    assert "symbol" in body["detail"] and "side" in body["detail"]
    assert row_counts() == before


def test_a_stranger_cannot_submit_on_my_account_or_against_my_plan(trader_api, outsider_api, account, aapl):
    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", entry_price=D("99"), quantity=D("1"))
    response = post(outsider_api, "/api/v1/orders/submit",
                    {"symbol": "AAPL", "direction": "BUY", "quantity": "1", "account_id": account.pk})
    assert response.status_code == 404
    response = post(outsider_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": "1", "plan_id": plan.pk})
    assert response.status_code == 400 and "plan_id" in response.json()
    assert not Order.objects.filter(account=account).exists()


# --- status, cancel, history, open -----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/orders/open", "/api/v1/orders/history", "/api/v1/plans/", "/api/v1/approvals/"])
def test_every_list_answers_404_for_an_account_that_is_not_yours(trader_api, outsider_api, account, aapl, path):
    post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": "1"})
    for account_id in (account.pk, 0, 999999):
        response = outsider_api.get(f"{path}?account_id={account_id}")
        assert response.status_code == 404, (path, account_id, response.json())
    assert trader_api.get(f"{path}?account_id={account.pk}").status_code == 200


def test_order_status_shows_the_fills_to_the_owner_and_404s_a_stranger(trader_api, outsider_api, aapl):
    order_id = post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": "5"}).json()["id"]
    mine = trader_api.get(f"/api/v1/orders/{order_id}/status")
    assert mine.status_code == 200
    assert [(f["quantity"], f["price"], f["commission"]) for f in mine.json()["fills"]] == [("5.000000", "100.050000", "1.00")]
    assert outsider_api.get(f"/api/v1/orders/{order_id}/status").status_code == 404


def test_cancel_by_the_owner_and_not_by_a_stranger(trader_api, outsider_api, aapl):
    data = {"symbol": "AAPL", "direction": "BUY", "quantity": "5", "order_type": "LIMIT", "limit_price": "90"}
    order_id = post(trader_api, "/api/v1/orders/submit", data).json()["id"]

    assert post(outsider_api, f"/api/v1/orders/{order_id}/cancel").status_code == 404
    assert Order.objects.get(pk=order_id).status == Order.ACCEPTED

    response = post(trader_api, f"/api/v1/orders/{order_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    again = post(trader_api, f"/api/v1/orders/{order_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "order_not_cancellable"
    assert AuditLog.objects.get(action="order.cancel").ip_address == "10.9.8.7"


def test_history_is_newest_first_limited_and_scoped(trader_api, outsider_api, aapl, session_time):
    ids = []
    for qty in (1, 2, 3):
        session_time.shift(61)
        ids.append(post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": str(qty)}).json()["id"])
    response = trader_api.get("/api/v1/orders/history?limit=2")
    assert response.status_code == 200 and [o["id"] for o in response.json()["results"]] == ids[::-1][:2]
    assert response.json()["count"] == 3 and "limit=2" in response.json()["next"]
    assert [o["id"] for o in trader_api.get("/api/v1/orders/history").json()["results"]] == ids[::-1]
    assert outsider_api.get("/api/v1/orders/history").json()["results"] == []
    for bad in ("0", "501", "abc"):
        bad_response = trader_api.get(f"/api/v1/orders/history?limit={bad}")
        assert bad_response.status_code == 400 and "limit" in bad_response.json()


def test_open_orders_lists_only_working_orders(trader_api, aapl):
    post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": "1"})
    resting = post(trader_api, "/api/v1/orders/submit",
                   {"symbol": "AAPL", "direction": "BUY", "quantity": "1", "order_type": "LIMIT", "limit_price": "90"}).json()
    assert [o["id"] for o in trader_api.get("/api/v1/orders/open").json()["results"]] == [resting["id"]]


def test_preview_names_the_rule_that_would_refuse_and_writes_nothing(trader_api, aapl, row_counts):
    before = row_counts()
    response = post(trader_api, "/api/v1/orders/preview", {"symbol": "AAPL", "direction": "BUY", "quantity": "201"})
    assert response.status_code == 200
    body = response.json()
    assert (body["allowed"], body["code"], body["notional"], body["equity"]) == (False, "max_order_pct", "20100.00", "100000.00")
    assert body["order_pct"] == "20.1000"  # percent of equity, as every *_pct field
    assert [c["rule"] for c in body["checks"]] == [
        "account_halted", "outside_trading_hours", "stale_market_data", "daily_loss_breaker", "rate_limit",
        "reducing_only", "max_quantity", "price_band", "max_order_pct", "max_order_value", "buying_power",
    ]
    assert post(trader_api, "/api/v1/orders/preview", {"symbol": "AAPL", "direction": "BUY", "quantity": "200"}).json()["allowed"] is True
    assert row_counts() == before


# --- positions, account, exposure ---------------------------------------------------------------------

def test_positions_and_account_show_the_valuation(trader_api, outsider_api, account, aapl, quote):
    post(trader_api, "/api/v1/orders/submit", {"symbol": "AAPL", "direction": "BUY", "quantity": "100"})
    quote("AAPL", "103")
    positions = trader_api.get("/api/v1/positions").json()
    assert (positions["cash"], positions["market_value"], positions["equity"]) == ("89994.00", "10300.00", "100294.00")
    row = positions["positions"][0]
    assert (row["symbol"], row["quantity"], row["cost_basis"], row["unrealized_pnl"], row["price_source"]) == (
        "AAPL", "100.000000", "10005.00", "295.00", "quote"
    )
    me = trader_api.get("/api/v1/account").json()
    assert (me["equity"], me["previous_close_equity"], me["breaker_active"]) == ("100294.00", "100000.00", False)
    assert outsider_api.get(f"/api/v1/positions?account_id={account.pk}").status_code == 404
    assert outsider_api.get("/api/v1/positions").json()["positions"] == []


def test_exposure_endpoint_returns_the_greeks_block(trader_api, outsider_api, account, aapl):
    Position.objects.create(account=account, symbol="AAPL", quantity=D("10"), avg_cost=D("100"), cost_basis=D("1000"))
    body = trader_api.get("/api/v1/exposure").json()
    assert (body["delta_dollars"], body["gamma_pct"], body["unpriced"]) == ("1000.00", "0.0000", [])
    assert outsider_api.get(f"/api/v1/exposure?account_id={account.pk}").status_code == 404


# --- plans and approvals ------------------------------------------------------------------------------

def test_plan_crud_execute_and_delete(trader_api, aapl):
    created = post(trader_api, "/api/v1/plans/", {"symbol": "aapl", "direction": "LONG", "entry_price": "99", "quantity": "10",
                                                  "stop_price": "95", "target_price": "110"})
    assert created.status_code == 201, created.json()
    plan = created.json()
    assert (plan["symbol"], plan["status"], plan["order_type"]) == ("AAPL", "PENDING", "LIMIT")

    patched = trader_api.patch(f"/api/v1/plans/{plan['id']}", {"quantity": "12", "status": "ACTIVE"}, format="json")
    assert patched.status_code == 200 and (patched.json()["quantity"], patched.json()["status"]) == ("12.000000", "ACTIVE")
    bad = trader_api.patch(f"/api/v1/plans/{plan['id']}", {"stop_price": "120"}, format="json")
    assert bad.status_code == 400 and "stop_price" in bad.json()

    executed = post(trader_api, f"/api/v1/plans/{plan['id']}/execute")
    assert executed.status_code == 201
    assert (executed.json()["order"]["status"], executed.json()["plan"]["status"]) == ("ACCEPTED", "EXECUTED")
    again = post(trader_api, f"/api/v1/plans/{plan['id']}/execute")
    assert again.status_code == 200 and again.json()["order"]["id"] == executed.json()["order"]["id"]

    assert trader_api.delete(f"/api/v1/plans/{plan['id']}").status_code == 409  # it has an order
    other = post(trader_api, "/api/v1/plans/", {"symbol": "AAPL", "direction": "SHORT", "entry_price": "101", "quantity": "1"})
    assert trader_api.delete(f"/api/v1/plans/{other.json()['id']}").status_code == 204
    assert [p["id"] for p in trader_api.get("/api/v1/plans/").json()["results"]] == [plan["id"]]
    assert list(AuditLog.objects.filter(action__startswith="plan.").order_by("id").values_list("action", flat=True)) == [
        "plan.create", "plan.update", "plan.execute", "plan.create", "plan.delete",
    ]


def test_a_refused_plan_execution_is_a_422(trader_api, account, aapl):
    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", entry_price=D("100"),
                                      quantity=D("500"), order_type="MARKET")
    response = post(trader_api, f"/api/v1/plans/{plan.pk}/execute")
    assert response.status_code == 422 and response.json()["code"] == "max_order_pct"
    assert response.json()["plan"]["status"] == "PENDING"


def test_a_stranger_gets_404_on_every_plan_endpoint(trader_api, outsider_api, account, aapl):
    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", entry_price=D("99"), quantity=D("1"))
    assert outsider_api.get(f"/api/v1/plans/{plan.pk}").status_code == 404
    assert outsider_api.patch(f"/api/v1/plans/{plan.pk}", {"quantity": "2"}, format="json").status_code == 404
    assert outsider_api.delete(f"/api/v1/plans/{plan.pk}").status_code == 404
    assert post(outsider_api, f"/api/v1/plans/{plan.pk}/execute").status_code == 404
    assert outsider_api.get("/api/v1/plans/").json()["results"] == []
    assert TradingPlan.objects.filter(pk=plan.pk, quantity=D("1")).exists() and not Order.objects.exists()


def test_approvals_are_listed_and_decided_by_their_owner_only(trader_api, outsider_api, account, aapl):
    from orders.approvals import approval_request_create

    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", entry_price=D("99"), quantity=D("1"))
    approval = approval_request_create(plan=plan, source="alert:1", reason="crossed")
    assert [a["id"] for a in trader_api.get("/api/v1/approvals/?status=PENDING").json()["results"]] == [approval.pk]
    assert outsider_api.get("/api/v1/approvals/").json()["results"] == []
    assert post(outsider_api, f"/api/v1/approvals/{approval.pk}/decide", {"approve": True}).status_code == 404

    bad = post(trader_api, f"/api/v1/approvals/{approval.pk}/decide", {})
    assert bad.status_code == 400 and "approve" in bad.json()
    decided = post(trader_api, f"/api/v1/approvals/{approval.pk}/decide", {"approve": True})
    assert decided.status_code == 200 and decided.json()["status"] == "APPROVED" and decided.json()["order"]
    assert ApprovalRequest.objects.get(pk=approval.pk).decided_via == "api"
    repeat = post(trader_api, f"/api/v1/approvals/{approval.pk}/decide", {"approve": False})
    assert repeat.status_code == 409 and repeat.json()["code"] == "approval_decided"


def test_approving_outside_trading_hours_is_a_422_and_the_approval_stays_listed_with_the_reason(account, aapl, session_time,
                                                                                              user, settings):
    from orders.approvals import approval_request_create
    from tests.conftest import jwt_client

    settings.APPROVAL_TTL_MINUTES = 240
    session_time.move_to(dt.datetime(2026, 11, 24, 13, 0, tzinfo=UTC), tick=False)  # 08:00 ET
    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", entry_price=D("99"), quantity=D("1"))
    approval = approval_request_create(plan=plan, source="alert:1", reason="crossed")
    api = jwt_client(user)

    response = post(api, f"/api/v1/approvals/{approval.pk}/decide", {"approve": True})

    assert response.status_code == 422, response.json()
    body = response.json()
    assert (body["code"], body["approval"]["status"], body["order"]["status"]) == ("outside_trading_hours", "PENDING", "REJECTED")
    assert body["approval"]["refusal_code"] == "outside_trading_hours"
    assert "stays pending until 2026-11-24 12:00 ET" in body["detail"]
    listed = api.get("/api/v1/approvals/?status=PENDING").json()["results"]
    assert [(a["id"], a["refusal_code"]) for a in listed] == [(approval.pk, "outside_trading_hours")]
    assert "next opens 2026-11-24 09:30 ET" in listed[0]["refusal_reason"]


def test_the_openapi_schema_documents_the_orders_api(client):
    schema = client.get("/api/schema/").content.decode()
    for path in ("/api/v1/orders/submit", "/api/v1/orders/{id}/status", "/api/v1/orders/{id}/cancel",
                 "/api/v1/orders/history", "/api/v1/orders/preview", "/api/v1/plans/{id}/execute", "/api/v1/exposure"):
        assert path in schema, path
    assert "OrderRefusal" in schema
