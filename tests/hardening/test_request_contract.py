"""What the request contract refuses before any view reads a body: JSON nested too deeply, bodies over the size
limit, and the WebSocket's frames held to the same rules. Every refusal is a JSON 4xx naming the problem,
never a 500, and nothing is logged above WARNING for it.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from alphaloop.contract import MAX_JSON_DEPTH
from tests.conftest import jwt_client

# About 1.9 KB: 1000 levels of objects, the body the outside attacker sent.
DEEP = '{"a":' * 1000 + "1" + "}" * 1000
WEBHOOK_SECRET = "webhook-secret-of-the-contract-tests"
PLAN = {"symbol": "AAPL", "direction": "LONG", "entry_price": "150", "quantity": "10"}
ANONYMOUS = ("/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/notifications/telegram/webhook/{secret}")


def api_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def json_write_operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation that reads a JSON body."""
    return sorted((method.upper(), path) for path, operations in api_schema()["paths"].items()
                  for method, operation in operations.items()
                  if "application/json" in operation.get("requestBody", {}).get("content", {}))


@pytest.fixture
def owned_ids(trader) -> dict[str, int]:
    """An object of the trader's for each path that names one."""
    from alerts.models import PriceAlert
    from journal.services import journal_create, journal_tag_create
    from orders.approvals import approval_request_create
    from orders.models import TradingPlan

    plan = TradingPlan.objects.get(account=trader.account)
    journal = journal_create(account=trader.account, user=trader.user, symbol="AAPL", direction="LONG")
    return {
        "alerts": PriceAlert.objects.get(account=trader.account).pk,
        "approvals": approval_request_create(plan=plan, source="test").pk,
        "journal": journal.pk,
        "plans": plan.pk,
        "tag_id": journal_tag_create(user=trader.user, kind="mistake", name="chased").pk,
    }


def _client(**kwargs) -> APIClient:
    client = kwargs.get("client") or APIClient()
    client.raise_request_exception = False
    return client


@pytest.mark.django_db
def test_json_nested_1000_levels_is_a_400_malformed_json_on_every_json_endpoint_and_nothing_is_logged_above_warning(
        trader, owned_ids, settings, caplog):
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    trader.user.is_staff = True  # staff reach every operation's body (market/quotes, the shared scan)
    trader.user.save()
    signed_in, anonymous = _client(client=jwt_client(trader.user)), _client()
    operations = json_write_operations()
    caplog.set_level(logging.DEBUG)

    answers = {}
    for method, path in operations:
        url = path.replace("{secret}", WEBHOOK_SECRET).replace("{tag_id}", str(owned_ids["tag_id"]))
        url = url.replace("{id}", str(owned_ids.get(path.split("/")[3], 0)))
        client = anonymous if path in ANONYMOUS else signed_in
        response = client.generic(method, url, DEEP, content_type="application/json")
        answers[f"{method} {path}"] = (response.status_code, response.json().get("code"))

    assert len(operations) >= 18 and {"POST /api/v1/auth/token", "PATCH /api/v1/journal/{id}"} <= set(answers)
    assert {key: answer for key, answer in answers.items() if answer != (400, "malformed_json")} == {}
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno > logging.WARNING] == []


@pytest.mark.django_db
def test_the_nesting_limit_is_documented_exactly_one_level_more_is_refused(api):
    def nested(levels: int) -> str:
        return '{"symbol": "AAPL", "x": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    at_limit = api.generic("POST", "/api/v1/plans/", nested(MAX_JSON_DEPTH), content_type="application/json")
    over = api.generic("POST", "/api/v1/plans/", nested(MAX_JSON_DEPTH + 1), content_type="application/json")

    assert at_limit.status_code == 400 and "malformed_json" not in str(at_limit.json())  # a field error, parsed fine
    assert (over.status_code, over.json()["code"]) == (400, "malformed_json")
    assert str(MAX_JSON_DEPTH) in over.json()["detail"]


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_toward_the_nesting_limit(api, market):
    body = '{"symbol": "AAPL", "direction": "LONG", "entry_price": "150", "quantity": "10", "notes": "' \
           + "[{" * 100 + '\\"' + "}]" * 100 + '"}'

    response = api.generic("POST", "/api/v1/plans/", body, content_type="application/json")

    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_malformed_json_is_a_400_malformed_json(api):
    response = api.generic("POST", "/api/v1/plans/", '{"symbol": ', content_type="application/json")

    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/plans/", "/api/v1/auth/token"])
def test_a_body_over_the_size_limit_is_a_json_413_on_every_api_path(api, settings, caplog, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = _client(client=api)

    response = client.generic("POST", path, '{"symbol": "' + "A" * 2000 + '"}', content_type="application/json")

    assert (response.status_code, response["Content-Type"]) == (413, "application/json")
    assert response.json() == {"detail": "The body is larger than 1000 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).",
                               "code": "request_too_large"}
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.WARNING] == []


def test_a_bad_request_django_refuses_before_any_view_is_json_under_api(settings):
    client = _client()

    response = client.get("/api/v1/account", HTTP_HOST="evil.example")

    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert response.json()["code"] == "bad_request"


def test_the_schema_documents_the_413_and_the_malformed_json_400_on_every_json_body():
    paths = api_schema()["paths"]
    for method, path in json_write_operations():
        responses = paths[path][method.lower()]["responses"]
        assert {"400", "413"} <= set(responses), (method, path)


# --- the WebSocket ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("frame", "detail"), [
    (DEEP, f"nested deeper than {MAX_JSON_DEPTH} levels"),
    ('{"action": "resume", "last_id": 1e400}', "last_id must be a non-negative integer"),
    ('{"action": "resume", "last_id": 100000000000000000000000000000}', "last_id must be a non-negative integer"),
    ('{"action": "resume", "last_id": 1.5}', "last_id must be a non-negative integer"),
    ('{"action": "resume", "last_id": true}', "last_id must be a non-negative integer"),
    ('{"action": "resume", "last_id": NaN}', "not valid JSON"),
])
async def test_a_frame_the_socket_cannot_use_is_answered_with_an_error_and_the_socket_stays_open(
        user, caplog, frame, detail):
    from tests.notifications.test_websocket import open_socket

    caplog.set_level(logging.DEBUG)
    socket = await open_socket(user)

    await socket.send_to(text_data=frame)
    error = await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"action": "ping"})
    pong = await socket.receive_json_from(timeout=5)
    await socket.disconnect()

    assert (error["event"], detail in error["data"]["detail"]) == ("error", True), error
    assert pong["event"] == "pong"
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.WARNING] == []


@pytest.mark.django_db(transaction=True)
async def test_a_resume_with_a_valid_last_id_still_replays(user):
    from tests.notifications.test_websocket import open_socket

    socket = await open_socket(user)
    await socket.send_json_to({"action": "resume", "last_id": 0})
    resumed = await socket.receive_json_from(timeout=5)
    await socket.disconnect()

    assert (resumed["event"], resumed["data"]["after"]) == ("resumed", 0)


# --- one rule for every decimal, on every method; enumerations in any letter case ------------------------------

def test_every_documented_operation_is_held_to_its_contract():
    from alphaloop.contract import _contracts

    operations = [(path, method) for path, methods in api_schema()["paths"].items() for method in methods]

    assert len(_contracts()) == len(operations)  # PATCH plans/{id} and every other {id} path included


NOT_PLAIN_DECIMALS = ["1_0", "1e2", "1E2", "١", "𝟏", "１", " 1", "1 ", "+1", "0x10", "NaN", "Infinity", "", "1.", ".5"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", NOT_PLAIN_DECIMALS)
@pytest.mark.parametrize(("method", "path", "field"), [
    ("POST", "/api/v1/plans/", "quantity"),
    ("PATCH", "/api/v1/plans/{plans}", "quantity"),
    ("PATCH", "/api/v1/alerts/{alerts}", "threshold"),
    ("PATCH", "/api/v1/journal/{journal}", "exit_price"),  # a nullable decimal
])
def test_a_decimal_string_not_in_plain_notation_is_a_400_naming_the_field_on_post_and_patch(
        trader, owned_ids, method, path, field, value):
    from orders.models import TradingPlan

    api = jwt_client(trader.user)
    plan = TradingPlan.objects.get(account=trader.account)
    body = {field: value} if method == "PATCH" else {**PLAN, field: value}

    response = api.generic(method, path.format(**owned_ids), json.dumps(body), content_type="application/json")

    assert (response.status_code, list(response.json())) == (400, [field])
    message = response.json()[field][0]
    assert message.startswith("Must be a decimal: a JSON number (10, 0.25) or a string in plain notation") and \
        "null" not in message and "^" not in message, message
    plan.refresh_from_db()
    assert plan.quantity == Decimal("10")


def with_literal(body: dict, field: str, literal: str) -> str:
    """``body`` as JSON text with ``field`` written as ``literal``, exactly as a client would type it."""
    return json.dumps({**body, field: "@"}).replace('"@"', literal)


@pytest.mark.django_db
@pytest.mark.parametrize(("literal", "stored"), [
    ("10", "10.000000"), ('"10"', "10.000000"), ("12.5", "12.500000"), ('"12.5"', "12.500000"),
    ("12345678.123456", "12345678.123456"), ('"12345678.123456"', "12345678.123456"),
])
def test_a_decimal_is_a_json_number_or_a_plain_string_read_exactly_on_post_and_patch(api, market, literal, stored):
    created = api.generic("POST", "/api/v1/plans/", with_literal(PLAN, "entry_price", literal),
                          content_type="application/json")
    patched = api.generic("PATCH", f"/api/v1/plans/{created.json().get('id')}",
                          with_literal({}, "quantity", literal), content_type="application/json")

    assert created.status_code == 201, created.json()
    assert created.json()["entry_price"] == stored
    assert patched.status_code == 200, patched.json()
    assert patched.json()["quantity"] == stored


@pytest.mark.parametrize("literal", ["99999999999999.999999", "0.1", "123.4500", "1E+2", "0.000001"])
def test_a_decimal_field_reads_a_json_number_from_its_text_never_through_a_float(literal):
    from rest_framework import serializers

    from alphaloop.contract import json_loads

    number = json_loads(f'{{"price": {literal}}}')["price"]
    field = serializers.DecimalField(max_digits=20, decimal_places=6)

    assert field.to_internal_value(number) == Decimal(literal)
    assert json.dumps(number) == repr(float(literal))  # elsewhere it is the float it spells


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["1.1234567", "1e-7", "1e400", "-1", "0", "10000000000000", "1e13"])
def test_a_json_number_outside_the_fields_places_digits_or_bounds_is_a_400_naming_the_field(api, market, text):
    body = with_literal(PLAN, "quantity", text)

    response = api.generic("POST", "/api/v1/plans/", body, content_type="application/json")

    assert (response.status_code, list(response.json())) == (400, ["quantity"]), response.json()
    assert "at most 6 decimal places" in response.json()["quantity"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["9999999999999.999999", '"9999999999999.999999"', "9999999999999.99"])
def test_the_largest_decimal_a_request_may_write_reads_back_on_every_database(api, market, literal):
    """SQLite returns a decimal through a float of 15 significant digits: a request stays a whole digit below the
    column's capacity, so that rounding can never overflow it."""
    created = api.generic("POST", "/api/v1/plans/", with_literal(PLAN, "quantity", literal),
                          content_type="application/json")

    assert created.status_code == 201, created.json()
    assert api.get(f"/api/v1/plans/{created.json()['id']}").status_code == 200
    assert api.get("/api/v1/plans/").status_code == 200


@pytest.mark.django_db
def test_a_json_number_in_exponent_notation_is_read_exactly(api, market):
    body = with_literal(PLAN, "quantity", "1.5e2")

    response = api.generic("POST", "/api/v1/plans/", body, content_type="application/json")

    assert (response.status_code, response.json()["quantity"]) == (201, "150.000000")


@pytest.mark.django_db
@pytest.mark.parametrize(("side", "order_type"), [("buy", "market"), ("Buy", "Market"), ("BUY", "MARKET")])
def test_an_order_preview_takes_json_numbers_and_enumerations_in_any_letter_case(trader, side, order_type, settings):
    settings.TRADING_HOURS_ONLY = False  # the request's reading is under test, not the hour this runs at
    api = jwt_client(trader.user)

    response = api.post("/api/v1/orders/preview", {"symbol": "AAPL", "side": side, "quantity": 10,
                                                   "order_type": order_type, "time_in_force": "day"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["allowed"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["long", "Long", "LONG", "lOnG"])
def test_an_enumeration_is_read_in_any_letter_case_and_answered_in_its_own(api, market, spelling):
    response = api.post("/api/v1/plans/", {**PLAN, "direction": spelling}, format="json")

    assert (response.status_code, response.json()["direction"]) == (201, "LONG")


@pytest.mark.django_db
def test_an_enumeration_in_a_query_is_read_in_any_letter_case(api, market):
    api.post("/api/v1/plans/", PLAN, format="json")

    response = api.get("/api/v1/plans/?status=pending")

    assert response.status_code == 200 and {plan["status"] for plan in response.json()["results"]} == {"PENDING"}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["longer", "lon", "LONG ", "ＬＯＮＧ"])
def test_a_value_that_is_no_choice_in_any_case_is_a_400_naming_the_field(api, market, value):
    response = api.post("/api/v1/plans/", {**PLAN, "direction": value}, format="json")

    assert (response.status_code, list(response.json())) == (400, ["direction"])
