"""NYSE trading calendar (exchange_calendars XNYS): sessions, holidays, half days.

Dates are session labels (plain ``date``); datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd
from django.utils import timezone

CALENDAR_START = "1990-01-02"


@lru_cache(maxsize=1)
def nyse() -> xcals.ExchangeCalendar:
    end = pd.Timestamp.today().normalize() + pd.Timedelta(days=730)
    return xcals.get_calendar("XNYS", start=CALENDAR_START, end=end)


def _ts(day: date) -> pd.Timestamp:
    return pd.Timestamp(day)


def _to_datetime(ts: pd.Timestamp) -> datetime:
    return ts.to_pydatetime()


def is_session(day: date) -> bool:
    return bool(nyse().is_session(_ts(day)))


def session_open_close(day: date) -> tuple[datetime, datetime]:
    """Regular-session open and close (UTC). Half days close at 13:00 ET."""
    cal = nyse()
    label = _ts(day)
    return _to_datetime(cal.session_open(label)), _to_datetime(cal.session_close(label))


def is_open(at: datetime | None = None) -> bool:
    """Is the regular session open at ``at`` (default now)? Open is inclusive, close exclusive."""
    at = at or timezone.now()
    day = timezone.localtime(at, market_tz()).date()
    if not is_session(day):
        return False
    opens, closes = session_open_close(day)
    return opens <= at < closes


def previous_session(day: date) -> date:
    """The last session strictly before ``day``."""
    cal = nyse()
    label = _ts(day)
    if cal.is_session(label):
        return cal.previous_session(label).date()
    return cal.date_to_session(label, direction="previous").date()


def next_session(day: date) -> date:
    """The first session strictly after ``day``."""
    cal = nyse()
    label = _ts(day)
    if cal.is_session(label):
        return cal.next_session(label).date()
    return cal.date_to_session(label, direction="next").date()


def sessions_between(start: date, end: date) -> list[date]:
    """Sessions from ``start`` to ``end`` inclusive."""
    return [ts.date() for ts in nyse().sessions_in_range(_ts(start), _ts(end))]


def sessions_index(start: date, end: date) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(nyse().sessions_in_range(_ts(start), _ts(end)))


def current_session(at: datetime | None = None) -> date:
    """The session the market is in at ``at``, or the most recent one that has opened."""
    at = at or timezone.now()
    day = timezone.localtime(at, market_tz()).date()
    if is_session(day) and at >= session_open_close(day)[0]:
        return day
    return previous_session(day)


def last_closed_session(at: datetime | None = None) -> date:
    """The most recent session whose close is at or before ``at``."""
    at = at or timezone.now()
    day = timezone.localtime(at, market_tz()).date()
    if is_session(day) and at >= session_open_close(day)[1]:
        return day
    return previous_session(day)


def market_tz():
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return ZoneInfo(settings.MARKET_TIME_ZONE)
