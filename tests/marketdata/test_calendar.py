from datetime import date, datetime, timezone

from marketdata import calendar

UTC = timezone.utc


def test_christmas_and_thanksgiving_are_not_sessions():
    assert not calendar.is_session(date(2026, 12, 25))
    assert not calendar.is_session(date(2026, 11, 26))
    assert calendar.is_session(date(2026, 11, 27))


def test_half_day_closes_at_13_eastern():
    opens, closes = calendar.session_open_close(date(2026, 11, 27))
    assert opens == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert closes == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 13:00 EST


def test_is_open_respects_regular_hours_holidays_and_half_days():
    assert calendar.is_open(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))  # 09:30 ET open, inclusive
    assert not calendar.is_open(datetime(2026, 11, 24, 14, 29, 59, tzinfo=UTC))
    assert not calendar.is_open(datetime(2026, 11, 24, 21, 0, tzinfo=UTC))  # 16:00 ET close, exclusive
    assert not calendar.is_open(datetime(2026, 12, 25, 16, 0, tzinfo=UTC))
    assert calendar.is_open(datetime(2026, 11, 27, 17, 59, tzinfo=UTC))
    assert not calendar.is_open(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
    # Summer: EDT, 09:30 ET is 13:30 UTC
    assert calendar.is_open(datetime(2026, 7, 1, 13, 30, tzinfo=UTC))


def test_previous_and_next_session_skip_weekends_and_holidays():
    assert calendar.previous_session(date(2026, 11, 27)) == date(2026, 11, 25)
    assert calendar.next_session(date(2026, 11, 25)) == date(2026, 11, 27)
    assert calendar.next_session(date(2026, 12, 24)) == date(2026, 12, 28)
    assert calendar.previous_session(date(2026, 11, 29)) == date(2026, 11, 27)


def test_current_and_last_closed_session():
    before_open = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert calendar.current_session(before_open) == date(2026, 11, 23)
    assert calendar.last_closed_session(before_open) == date(2026, 11, 23)
    after_close = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
    assert calendar.current_session(after_close) == date(2026, 11, 24)
    assert calendar.last_closed_session(after_close) == date(2026, 11, 24)
    assert len(calendar.sessions_between(date(2026, 11, 23), date(2026, 11, 30))) == 5


# --- the session state at any instant: pre-market, open, after-hours, closed ----------------------------

ET = __import__("zoneinfo").ZoneInfo("America/New_York")


def et(*args) -> datetime:
    return datetime(*args, tzinfo=ET)


def test_a_regular_day_runs_closed_pre_market_open_after_hours_closed_with_each_change_at_its_minute():
    steps = [
        (et(2026, 11, 24, 3, 59), "closed", et(2026, 11, 24, 4, 0)),
        (et(2026, 11, 24, 4, 0), "pre_market", et(2026, 11, 24, 9, 30)),
        (et(2026, 11, 24, 9, 29, 59), "pre_market", et(2026, 11, 24, 9, 30)),
        (et(2026, 11, 24, 9, 30), "open", et(2026, 11, 24, 16, 0)),
        (et(2026, 11, 24, 15, 59, 59), "open", et(2026, 11, 24, 16, 0)),
        (et(2026, 11, 24, 16, 0), "after_hours", et(2026, 11, 24, 20, 0)),
        (et(2026, 11, 24, 20, 0), "closed", et(2026, 11, 25, 4, 0)),
    ]
    for at, state, changes_at in steps:
        now = calendar.session_state(at)
        assert (now.state, now.changes_at) == (state, changes_at), at
        assert (now.session, now.early_close, now.holiday) == (date(2026, 11, 24), False, None)
        assert (now.opens_at, now.closes_at) == (et(2026, 11, 24, 9, 30), et(2026, 11, 24, 16, 0))
    assert calendar.session_state(et(2026, 11, 24, 8, 0)).next_open == et(2026, 11, 24, 9, 30)
    opened = calendar.session_state(et(2026, 11, 24, 10, 0))
    assert (opened.next_open, opened.next_close) == (et(2026, 11, 25, 9, 30), et(2026, 11, 24, 16, 0))
    assert calendar.session_state(et(2026, 11, 24, 17, 0)).next_open == et(2026, 11, 25, 9, 30)


def test_a_holiday_is_closed_all_day_with_its_name_and_the_next_open_skips_it():
    evening = calendar.session_state(et(2026, 11, 25, 20, 30))
    assert (evening.state, evening.next_open, evening.changes_at) == ("closed", et(2026, 11, 27, 9, 30), et(2026, 11, 27, 4, 0))
    assert (evening.next_close, evening.next_session_early_close) == (et(2026, 11, 27, 13, 0), True)
    thanksgiving = calendar.session_state(et(2026, 11, 26, 11, 0))
    assert (thanksgiving.state, thanksgiving.session, thanksgiving.holiday) == ("closed", None, "Thanksgiving")
    assert (thanksgiving.opens_at, thanksgiving.closes_at, thanksgiving.next_open) == (None, None, et(2026, 11, 27, 9, 30))
    assert calendar.session_state(et(2026, 12, 25, 11, 0)).holiday == "Christmas"


def test_a_half_day_closes_at_13_and_its_after_hours_end_at_17_then_the_weekend_is_closed():
    black_friday = calendar.session_state(et(2026, 11, 27, 12, 59))
    assert (black_friday.state, black_friday.early_close, black_friday.closes_at) == ("open", True, et(2026, 11, 27, 13, 0))
    after = calendar.session_state(et(2026, 11, 27, 13, 0))
    assert (after.state, after.changes_at, after.next_open) == ("after_hours", et(2026, 11, 27, 17, 0), et(2026, 11, 30, 9, 30))
    assert calendar.session_state(et(2026, 11, 27, 17, 0)).state == "closed"
    saturday = calendar.session_state(et(2026, 11, 28, 12, 0))
    assert (saturday.state, saturday.holiday, saturday.session) == ("closed", None, None)
    assert (saturday.changes_at, saturday.next_session_early_close) == (et(2026, 11, 30, 4, 0), False)


def test_the_session_state_follows_daylight_saving_time():
    # 2026-03-09 is the first session in EDT: the open is 13:30 UTC, no longer 14:30.
    assert calendar.session_state(datetime(2026, 3, 9, 13, 30, tzinfo=UTC)).state == "open"
    assert calendar.session_state(datetime(2026, 3, 6, 14, 29, tzinfo=UTC)).state == "pre_market"
    assert calendar.session_state(datetime(2026, 3, 6, 14, 30, tzinfo=UTC)).state == "open"
