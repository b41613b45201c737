"""Every list under /api/v1 answers one shape: ``{count, next, previous, results}``, paged by ``page``/``page_size``.

The walk reads the operations from the served OpenAPI schema, so a list added later without the shared
pagination fails here. The spec's own spellings of the page size (``journal/list?size=``,
``alerts/history?limit=``, ``orders/history?limit=``) keep working on the endpoints where it uses them.
"""

from __future__ import annotations

import re

import pytest

from alphaloop.pagination import MAX_PAGE_SIZE, PAGE_SIZE
from journal.models import JournalTag, TradeJournal

PAGE_KEYS = ["count", "next", "previous", "results"]

# GET operations that answer a document holding a list, not a list: each with the reason.
DOCUMENTS = {
    "/api/v1/equity/snapshots": "spec 3.2 fixes the body: {snapshots: [...]}",
    "/api/v1/equity/pnl-attribution": "spec 3.2 fixes the body: {attributions: [...]}",
    "/api/v1/equity/monthly-returns": "a report over a date window, like equity/snapshots",
    "/api/v1/notifications/events": "the WebSocket catch-up feed pages by event id (after=N), not by page number",
    "/api/v1/dashboard/summary": "one summary; its lists are parts of it",
    "/api/v1/positions": "the account's valuation; positions are part of it",
    "/api/v1/exposure": "the account's Greeks; positions are part of it",
    "/api/v1/journal/weekly-report": "one report",
    "/api/v1/backtest/live-compare": "one report",
    "/api/v1/backtest/sweeps/{sweep_id}/sensitivity": "one report",
    "/api/v1/backtest/walk-forward/{id}": "one run with its windows",
    "/api/v1/orders/{id}/status": "one order with its fills",
}


def _schema(api) -> dict:
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
    return node


def _get_operations(schema: dict):
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/") and "get" in operations:
            body = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            yield path, operations["get"], _resolve(schema, body)


def _list_paths(schema: dict) -> list[str]:
    return [path for path, _op, body in _get_operations(schema) if list(body.get("properties", {})) == PAGE_KEYS]


@pytest.mark.django_db
def test_no_get_answers_a_bare_array_and_every_list_is_one_paginated_shape(api):
    schema = _schema(api)

    bare = [path for path, _op, body in _get_operations(schema) if body.get("type") == "array"]
    lists = _list_paths(schema)
    unpaged = [path for path, _op, body in _get_operations(schema) if path not in lists and path not in DOCUMENTS
               and any(_resolve(schema, p).get("type") == "array" for p in body.get("properties", {}).values())]

    assert bare == []
    assert unpaged == []
    assert set(DOCUMENTS) <= {path for path, _op, _body in _get_operations(schema)}
    assert set(lists) >= {
        "/api/v1/accounts/", "/api/v1/alerts/list", "/api/v1/alerts/history", "/api/v1/approvals/",
        "/api/v1/backtest/runs", "/api/v1/backtest/strategies", "/api/v1/backtest/walk-forward", "/api/v1/factors",
        "/api/v1/journal/list", "/api/v1/journal/tags", "/api/v1/market/quotes", "/api/v1/notifications/list",
        "/api/v1/orders/history", "/api/v1/orders/open", "/api/v1/plans/", "/api/v1/signals/latest",
    }
    for path, operation, body in _get_operations(schema):
        if path in lists:
            assert body["required"] == PAGE_KEYS, path
            params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
            assert params["page_size"]["maximum"] == MAX_PAGE_SIZE and params["page"]["minimum"] == 1, path


@pytest.mark.django_db
def test_every_list_endpoint_answers_count_next_previous_results(api, account):
    TradeJournal.objects.create(account=account, symbol="AAPL", direction="LONG")
    lists = _list_paths(_schema(api))

    for path in lists:
        response = api.get(path)
        assert response.status_code == 200, (path, response.content)
        body = response.json()
        assert list(body) == PAGE_KEYS, path
        assert isinstance(body["count"], int) and isinstance(body["results"], list), path
        assert body["previous"] is None and len(body["results"]) == min(body["count"], PAGE_SIZE), path
        assert (body["next"] is None) == (body["count"] <= PAGE_SIZE), path
        too_big = api.get(f"{path}?page_size={MAX_PAGE_SIZE + 1}")
        assert too_big.status_code == 400 and list(too_big.json()) == ["page_size"], path
        assert list(api.get(f"{path}?page=0").json()) == ["page"], path


@pytest.mark.django_db
def test_next_and_previous_walk_the_pages_and_a_page_past_the_end_is_empty(api, user):
    tags = JournalTag.objects.filter(user__isnull=True).count() + 2
    JournalTag.objects.create(user=user, kind="mistake", name="late_exit")
    JournalTag.objects.create(user=user, kind="mistake", name="early_exit")
    assert tags > 4

    first = api.get("/api/v1/journal/tags?page_size=2").json()
    second = api.get(first["next"]).json()
    last_number = -(-tags // 2)
    last = api.get(f"/api/v1/journal/tags?page_size=2&page={last_number}").json()
    past = api.get(f"/api/v1/journal/tags?page_size=2&page={last_number + 3}").json()

    assert (first["count"], len(first["results"]), first["previous"]) == (tags, 2, None)
    assert re.search(r"[?&]page=2(&|$)", first["next"]) and "page_size=2" in first["next"]
    assert second["previous"].startswith("http") and "page=" not in second["previous"]  # page 1 has no page=
    assert {t["name"] for t in first["results"]}.isdisjoint({t["name"] for t in second["results"]})
    assert last["next"] is None and 1 <= len(last["results"]) <= 2
    assert (past["count"], past["results"], past["next"]) == (tags, [], None)
    assert re.search(rf"[?&]page={last_number}(&|$)", past["previous"])


@pytest.mark.django_db
def test_the_specs_page_size_spellings_work_where_the_spec_uses_them(api, account):
    for i in range(3):
        TradeJournal.objects.create(account=account, symbol="AAPL", direction="LONG", quantity=i + 1)

    page = api.get("/api/v1/journal/list?page=2&size=2").json()  # spec 3.3: ?page=1&size=20

    assert (page["count"], len(page["results"]), page["next"]) == (3, 1, None)
    assert "size=2" in page["previous"]
    assert api.get("/api/v1/journal/list?size=0").status_code == 400
    for path in ("/api/v1/alerts/history", "/api/v1/orders/history"):  # spec 3.4, 3.5: ?limit=20
        response = api.get(f"{path}?limit=20")
        assert response.status_code == 200 and list(response.json()) == PAGE_KEYS
        assert list(api.get(f"{path}?limit={MAX_PAGE_SIZE + 1}").json()) == ["limit"]
