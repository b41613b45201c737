"""GET /api/v1/market/session: the NYSE session state now, in ET, and whether orders are accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import jwt_client

pytestmark = pytest.mark.django_db
ET = dt.timezone(dt.timedelta(hours=-5))  # November: EST


def session_at(user, time_machine, when: dt.datetime) -> dict:
    time_machine.move_to(when, tick=False)
    response = jwt_client(user).get("/api/v1/market/session")  # a token issued at the frozen time
    assert response.status_code == 200, response.content
    return response.json()


def test_pre_market_says_when_it_opens_and_that_orders_wait_for_the_open(user, time_machine):
    body = session_at(user, time_machine, dt.datetime(2026, 11, 24, 8, 15, tzinfo=ET))

    assert (body["state"], body["label"], body["time_zone"]) == ("pre_market", "Pre-market", "America/New_York")
    assert (body["now"], body["next_open"], body["changes_at"]) == (
        "2026-11-24T08:15:00-05:00", "2026-11-24T09:30:00-05:00", "2026-11-24T09:30:00-05:00")
    assert (body["session_date"], body["opens_at"], body["closes_at"]) == (
        "2026-11-24", "2026-11-24T09:30:00-05:00", "2026-11-24T16:00:00-05:00")
    assert body["orders_accepted"] is False
    assert body["detail"] == "Pre-market: the regular session opens at 09:30 ET."
    assert "refused until the regular session opens at 09:30 ET" in body["orders_detail"]


def test_open_accepts_orders_and_a_half_day_says_so(user, time_machine):
    regular = session_at(user, time_machine, dt.datetime(2026, 11, 24, 10, 0, tzinfo=ET))
    assert (regular["state"], regular["orders_accepted"], regular["next_close"]) == ("open", True, "2026-11-24T16:00:00-05:00")
    assert regular["detail"] == "Open: the regular session closes at 16:00 ET."

    half_day = session_at(user, time_machine, dt.datetime(2026, 11, 27, 10, 0, tzinfo=ET))
    assert (half_day["state"], half_day["early_close"]) == ("open", True)
    assert half_day["detail"] == "Open (half day): the regular session closes at 13:00 ET."


def test_after_hours_and_a_holiday_name_the_next_open(user, time_machine):
    after = session_at(user, time_machine, dt.datetime(2026, 11, 25, 16, 30, tzinfo=ET))
    assert (after["state"], after["next_open"], after["next_session_early_close"]) == (
        "after_hours", "2026-11-27T09:30:00-05:00", True)
    assert after["detail"] == ("After-hours: the regular session closed at 16:00 ET; "
                               "it next opens on Fri 27 Nov at 09:30 ET (half day, closes 13:00 ET).")
    holiday = session_at(user, time_machine, dt.datetime(2026, 11, 26, 12, 0, tzinfo=ET))
    assert (holiday["state"], holiday["holiday"], holiday["session_date"]) == ("closed", "Thanksgiving", None)
    assert holiday["detail"] == "Closed (Thanksgiving): the regular session next opens on Fri 27 Nov at 09:30 ET (half day, closes 13:00 ET)."
    assert "refused until the regular session opens on Fri 27 Nov at 09:30 ET" in holiday["orders_detail"]


def test_with_trading_hours_off_orders_are_accepted_at_any_hour(user, time_machine, settings):
    settings.TRADING_HOURS_ONLY = False
    body = session_at(user, time_machine, dt.datetime(2026, 11, 28, 12, 0, tzinfo=ET))
    assert (body["state"], body["orders_accepted"]) == ("closed", True)
    assert "TRADING_HOURS_ONLY is off" in body["orders_detail"]


def test_the_session_needs_a_token(client):
    assert client.get("/api/v1/market/session").status_code == 401
