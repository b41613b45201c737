"""NYSE trading calendar (exchange_calendars XNYS): sessions, holidays, half days.

Dates are session labels (plain ``date``); datetimes are timezone-aware UTC.
:func:`session_state` says where the market is at any instant: pre-market, open, after-hours or closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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


def market_date(at: datetime) -> date:
    """The exchange-local calendar date of an aware datetime."""
    return timezone.localtime(at, market_tz()).date()


def market_day_end(day: date) -> datetime:
    """Midnight in the market's zone that ends ``day``: anything strictly before it belongs to ``day`` or earlier."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=market_tz())


# --- the session state at an instant ------------------------------------------------------------------

PRE_MARKET, OPEN, AFTER_HOURS, CLOSED = "pre_market", "open", "after_hours", "closed"
STATE_LABELS = {PRE_MARKET: "Pre-market", OPEN: "Open", AFTER_HOURS: "After-hours", CLOSED: "Closed"}
# Extended hours of the US equity venues (NYSE Arca, Nasdaq): from 04:00 ET, until four hours after
# the regular close (20:00 ET, 17:00 ET on a half day). exchange_calendars has the regular session only.
PRE_MARKET_START = time(4, 0)
AFTER_HOURS_LENGTH = timedelta(hours=4)
REGULAR_CLOSE = time(16, 0)


@dataclass(frozen=True)
class SessionState:
    """Where the NYSE is at ``at`` (every datetime in America/New_York).

    ``session`` is the session of ``at``'s date (None on a weekend or holiday) with its regular
    ``opens_at``/``closes_at``; ``next_open``/``next_close`` are the first regular open/close after
    ``at``; ``changes_at`` is when ``state`` changes next.
    """

    state: str
    at: datetime
    session: date | None
    opens_at: datetime | None
    closes_at: datetime | None
    early_close: bool
    holiday: str | None
    next_open: datetime
    next_close: datetime
    next_session_early_close: bool
    changes_at: datetime

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


def regular_hours(day: date) -> tuple[datetime, datetime]:
    """A session's regular open and close in America/New_York."""
    tz = market_tz()
    opens, closes = session_open_close(day)
    return opens.astimezone(tz), closes.astimezone(tz)


def _is_early_close(closes: datetime) -> bool:
    return closes.time() < REGULAR_CLOSE


def holiday_name(day: date) -> str | None:
    """The name of the NYSE holiday on ``day`` (a weekday that is not a session), else None."""
    if day.weekday() >= 5 or is_session(day):
        return None
    names = nyse().regular_holidays.holidays(start=_ts(day), end=_ts(day), return_name=True)
    return str(names.iloc[0]) if len(names) else "Market holiday"


def session_state(at: datetime | None = None) -> SessionState:
    """The market's state at ``at`` (default now): its regular session, extended hours, the next change."""
    tz = market_tz()
    at = (at or timezone.now()).astimezone(tz)
    day = at.date()
    session = day if is_session(day) else None
    opens = closes = None
    if session is not None:
        opens, closes = regular_hours(day)
        pre_start = datetime.combine(day, PRE_MARKET_START, tzinfo=tz)
        after_end = closes + AFTER_HOURS_LENGTH
        if at < pre_start:
            state, changes_at = CLOSED, pre_start
        elif at < opens:
            state, changes_at = PRE_MARKET, opens
        elif at < closes:
            state, changes_at = OPEN, closes
        elif at < after_end:
            state, changes_at = AFTER_HOURS, after_end
        else:
            state, changes_at = CLOSED, None
    else:
        state, changes_at = CLOSED, None
    if opens is not None and at < opens:
        next_open, next_close = opens, closes
    else:
        following = next_session(day)
        next_open, following_close = regular_hours(following)
        next_close = closes if state == OPEN else following_close
        if changes_at is None:  # closed until the next session's pre-market
            changes_at = datetime.combine(following, PRE_MARKET_START, tzinfo=tz)
    upcoming_close = regular_hours(next_open.date())[1]
    return SessionState(
        state=state, at=at, session=session, opens_at=opens, closes_at=closes,
        early_close=closes is not None and _is_early_close(closes), holiday=holiday_name(day),
        next_open=next_open, next_close=next_close, next_session_early_close=_is_early_close(upcoming_close),
        changes_at=changes_at,
    )
