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
