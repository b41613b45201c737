"""What the request contract refuses before any view reads a body: JSON nested too deeply, bodies over the size
limit, and the WebSocket's frames held to the same rules. Every refusal is a JSON 4xx naming the problem,
never a 500, and nothing is logged above WARNING for it.
"""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from alphaloop.contract import MAX_JSON_DEPTH
from tests.conftest import jwt_client

# About 1.9 KB: 1000 levels of objects, the body the outside attacker sent.
DEEP = '{"a":' * 1000 + "1" + "}" * 1000
WEBHOOK_SECRET = "webhook-secret-of-the-contract-tests"
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
