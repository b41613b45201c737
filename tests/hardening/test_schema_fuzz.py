"""Schemathesis against /api/schema/: every check, the coverage, fuzzing and stateful phases, zero failures.

The run is the schemathesis engine (what ``st run`` drives) against the ASGI application Daphne
serves, in this process. It sends as a trader who has an account, instruments with bars, a plan,
an alert and an order; ``object_level_authorization`` replays the trader's reads as a second
trader who owns the same kinds of rows. (The examples phase has nothing to send: the schema holds no
examples.) Django runs the views in its own thread with its own database connection, so the test
commits (``transaction=True``). Examples and stateful steps are bounded: the run takes about a
minute on two cores, on SQLite and on MariaDB.

Two kinds of tuning, each with its reason, and nothing else:

* ``positive_data_acceptance`` also accepts 422 everywhere (the documented answer for a well-formed
  order a guard rule refuses) and, on the operations in ``BUSINESS_RULES``, 400: those operations
  apply rules a schema cannot state (an instrument that exists, one field against another, a date
  in the future, a vocabulary the user edits). Everything a schema can state is in the schema, and
  ``alphaloop.contract`` enforces it.
* The Telegram webhook is excluded: it is authenticated by a secret path segment, not by the
  bearer token, answers 401 to everything while ``TELEGRAM_WEBHOOK_SECRET`` is unset (as here), and
  takes Telegram's ``Update`` object; ``tests/notifications/test_telegram.py`` covers it.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.engine.run import PhaseName

from alphaloop.asgi import django_asgi_app

MAX_EXAMPLES = 25
STATEFUL_MAX_STEPS = 10
SEED = 20261124

EVERY_CHECK = {
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
    "unsupported_method", "use_after_free", "ensure_resource_availability", "ignored_auth",
    "object_level_authorization", "allow_header_conformance",
}
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

# Operation -> the rules beyond the schema that refuse some schema-valid input with a 400.
BUSINESS_RULES = {
    "POST /api/v1/alerts/create": "the symbol must exist; a price threshold > 0 for price conditions; "
                                  "expires_at in the future",
    "PATCH /api/v1/alerts/{id}": "threshold against the alert's condition; expires_at in the future; re-arming rules",
    "POST /api/v1/plans/": "the symbol must exist; stop below and target above a long entry (above/below a short one); "
                           "valid_until in the future",
    "PATCH /api/v1/plans/{id}": "the same rules as creating, against the stored plan; account_id cannot change",
    "POST /api/v1/orders/submit": "the symbol must exist; prices only for the order types that take them; "
                                  "plan_id on the account",
    "POST /api/v1/orders/preview": "the same rules as submitting",
    "POST /api/v1/backtest/run": "end_date after start_date; params are the chosen strategy's",
    "POST /api/v1/backtest/sweep": "the same rules as a run; grid keys are the chosen strategy's params",
    "POST /api/v1/backtest/walk-forward": "the same rules as a sweep; the dates hold a train and a test window; "
                                          "step_days at least test_days; windows x combinations capped",
    "GET /api/v1/backtest/results/{id}/robustness": "paths x the run's trades at most 5,000,000",
    "GET /api/v1/backtest/sweeps/{sweep_id}/sensitivity": "x and y name two parameters of that sweep",
    "GET /api/v1/backtest/live-compare": "strategy_id or run_id; params are the strategy's; end_date after start_date; "
                                         "symbols with bars (by default, ones the account traded)",
    "POST /api/v1/journal/create": "emotion and mistake tags from the user's vocabulary; plan_id on the account",
    "PATCH /api/v1/journal/{id}": "the status flow DRAFT -> COMPLETED -> REVIEWED; the user's vocabulary; plan_id",
    "POST /api/v1/journal/tags": "a tag already in the vocabulary",
    "PATCH /api/v1/journal/tags/{tag_id}": "a new name already in the vocabulary",
    "POST /api/v1/equity/snapshot": "the date must be an NYSE session, not in the future",
    "GET /api/v1/equity/stats": "end_date on or after start_date",
    "GET /api/v1/equity/monthly-returns": "end_date on or after start_date",
    "GET /api/v1/equity/pnl-attribution": "end_date on or after start_date",
    "POST /api/v1/signals/run": "at least one weight non-zero; as_of a session with data",
    "PUT /api/v1/notifications/preferences": "e-mail needs an address on the user",
}


def identities_file(directory, **traders) -> str:
    """A Web Fuzzing Commons auth file: one identity per trader, each sending its own bearer token."""
    path = directory / "identities.json"
    path.write_text(json.dumps({"auth": [
        {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {trader.access}"}]}
        for name, trader in traders.items()
    ]}))
    return str(path)


def fuzz_config(identities: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        # The seed alone decides the run: one worker (a fixed order of requests), no example database
        # replaying earlier runs' finds, no cache of what earlier runs learned about the API.
        "seed": SEED,
        "workers": 1,
        "cache": {"enabled": False},
        # Requests go as the trader; object_level_authorization replays the trader's reads as the outsider.
        "auth": {"wfc": {"path": identities, "user": "trader", "peers": ["trader", "outsider"]}},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": {"stateful": {"max-steps": STATEFUL_MAX_STEPS}},
        "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
        "operations": [
            {"include-name": name,
             "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}}}
            for name in BUSINESS_RULES
        ],
    })


def _describe(failure) -> str:
    return f"{failure.operation}: {failure.title}\n{failure.message}"


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_as_its_schema_says_under_every_schemathesis_check(trader, outsider, settings, tmp_path):
    settings.TRADING_HOURS_ONLY = False  # orders fill whenever the fuzzer sends them
    # A channel layer of its own: schemathesis' event loop outlives the test, and a Redis layer's
    # connections made on it must not be the ones later tests flush from their loops.
    settings.CHANNEL_LAYERS = {**settings.CHANNEL_LAYERS}
    config = fuzz_config(identities_file(tmp_path, trader=trader, outsider=outsider))
    schema = schemathesis.openapi.from_asgi("/api/schema/", django_asgi_app, config=config)
    schema = schema.exclude(path_regex=r"/telegram/webhook/")

    stream = list(schemathesis.engine.from_schema(schema).execute())

    errors = [e for e in stream if isinstance(e, (events.NonFatalError, events.FatalError))]
    phases = {e.phase.name: e for e in stream if isinstance(e, events.PhaseFinished)}
    checks = [check for e in stream if isinstance(e, events.ScenarioFinished)
              for nodes in e.recorder.checks.values() for check in nodes]
    failures = [check.failure_info.failure for check in checks if check.failure_info is not None]
    failures += [failure for e in stream if isinstance(e, events.EngineFinished) for failure in e.failures]

    assert not errors, "\n\n".join(f"{getattr(e, 'label', '')}: {getattr(e, 'info', e)}" for e in errors)
    assert not failures, "\n\n".join(sorted({_describe(f) for f in failures}))
    for phase in (PhaseName.COVERAGE, PhaseName.FUZZING, PhaseName.STATEFUL_TESTING):
        assert phases[phase].status == Status.SUCCESS, (phase, phases[phase].status, phases[phase].phase.skip_reason)
    assert EVERY_CHECK <= {check.name for check in checks}, EVERY_CHECK - {check.name for check in checks}


# --- the request contract the fuzzer holds the server to, case by case ------------------------------

PLAN = {"symbol": "AAPL", "direction": "LONG", "entry_price": "150", "quantity": "10"}


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [10.1234567, 0, "1e3", " 10", "10 ", "+10", "٣", "0", "010", "10.1234567", ""])
def test_a_decimal_is_a_plain_decimal_string_or_a_400_naming_the_field(api, market, quantity):
    from orders.models import TradingPlan

    response = api.post("/api/v1/plans/", {**PLAN, "quantity": quantity}, format="json")

    assert response.status_code == 400 and list(response.json()) == ["quantity"]
    assert not TradingPlan.objects.exists()


@pytest.mark.django_db
def test_a_schema_valid_plan_is_created(api, market):
    response = api.post("/api/v1/plans/", PLAN, format="json")

    assert response.status_code == 201 and response.json()["quantity"] == "10.000000"


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("symbol", 7), ("direction", 1), ("strategy_tag", ["x"])])
def test_a_value_of_the_wrong_json_type_is_refused_not_coerced(api, market, field, value):
    response = api.post("/api/v1/plans/", {**PLAN, field: value}, format="json")

    assert response.status_code == 400 and list(response.json()) == [field]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "field"), [("status=", "status"), ("page_size=abc", "page_size"), ("page=0", "page"),
                                              ("account_id=99999999999999999999", "account_id")])
def test_a_blank_or_invalid_query_value_is_a_400_not_an_omission(api, query, field):
    response = api.get(f"/api/v1/plans/?{query}")

    assert response.status_code == 400 and list(response.json()) == [field]


@pytest.mark.django_db
def test_unknown_api_paths_and_unsupported_methods_answer_in_json(api):
    not_found = api.get("/api/v1/plans/not-a-number")
    not_allowed = api.put("/api/v1/account", {}, format="json")

    assert (not_found.status_code, not_found.json()) == (404, {"detail": "Not found.", "code": "not_found"})
    assert (not_allowed.status_code, not_allowed.json()["code"]) == (405, "method_not_allowed")
    assert not_allowed["Allow"] == "GET, HEAD, OPTIONS"
