"""The incremental FIFO attribution (one fill at a time, from the stored open lots) writes exactly the rows
the full replay (``fifo_rebuild``) writes, on random fill sequences: partial closes, flips, shorts, several
symbols, ties in time and late fills (which fall back to the replay)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equity.models import FifoBook, TradePnlAttribution
from equity.services import attribution_record_fill, fifo_rebuild

NY = ZoneInfo("America/New_York")
START = dt.datetime(2026, 1, 5, 10, tzinfo=NY)
_users = itertools.count(1)

FILL = st.tuples(
    st.sampled_from(["AAA", "BBB", "CCC"]),
    st.sampled_from(["BUY", "SELL"]),
    st.decimals(min_value=Decimal("0.5"), max_value=Decimal("300"), places=1),  # quantity
    st.decimals(min_value=Decimal("1"), max_value=Decimal("200"), places=2),  # price
    st.sampled_from([Decimal("0"), Decimal("0.35"), Decimal("1.00")]),  # commission
    st.integers(min_value=-3, max_value=40),  # hours after the previous fill; negative: a late fill
)


def _rows(account) -> list[tuple]:
    return list(
        TradePnlAttribution.objects.filter(account=account).order_by("entry_fill_id", "exit_fill_id").values_list(
            "entry_fill_id", "exit_fill_id", "symbol", "trade_date", "entry_date", "direction", "entry_price",
            "exit_price", "quantity", "realized_pnl", "holding_days", "strategy_tag", "factor_tag", "plan_id",
        )
    )


def _books(account) -> list[tuple]:
    return [
        (book.symbol, book.through_fill_id, [[entry, Decimal(quantity)] for entry, quantity in book.lots])
        for book in FifoBook.objects.filter(account=account).order_by("symbol")
    ]


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(FILL, min_size=1, max_size=25))
def test_recording_fills_one_at_a_time_writes_exactly_the_rows_of_the_full_replay(fill_factory, sequence):
    user = get_user_model().objects.create_user(username=f"fifo-{next(_users)}", password="pw-123456789")
    account = user.accounts.get()
    at = START
    closed = []
    for number, (symbol, side, quantity, price, commission, hours) in enumerate(sequence):
        at += dt.timedelta(hours=hours)
        fill = fill_factory(account, symbol, side, quantity, price, at, commission=commission,
                            strategy_tag=f"s{number % 3}", factor_tag="f" if number % 2 else "")
        closed += attribution_record_fill(fill=fill)
        assert attribution_record_fill(fill=fill) == []  # idempotent

    incremental, books = _rows(account), _books(account)
    # Every row that exists was announced by the call that wrote it (a late fill's rebuild may replace rows
    # announced before, so announced rows can be gone; none may exist unannounced).
    assert set(TradePnlAttribution.objects.filter(account=account).values_list("pk", flat=True)) <= {
        row.pk for row in closed}
    result = fifo_rebuild(account=account)

    assert (len(result.created), result.updated, result.deleted) == (0, 0, 0)
    assert _rows(account) == incremental
    assert _books(account) == books


@pytest.mark.django_db
def test_a_fill_older_than_the_book_rematches_the_symbol_by_full_replay(account, fill_factory):
    first = fill_factory(account, "XYZ", "BUY", 100, "10", START)
    attribution_record_fill(fill=first)
    exit_fill = fill_factory(account, "XYZ", "SELL", 100, "12", START + dt.timedelta(days=2))
    attribution_record_fill(fill=exit_fill)
    late = fill_factory(account, "XYZ", "BUY", 100, "8", START - dt.timedelta(days=1))

    created = attribution_record_fill(fill=late)

    assert [(row.entry_fill_id, row.exit_fill_id, row.realized_pnl) for row in created] == [
        (late.pk, exit_fill.pk, Decimal("400.00"))
    ]
    assert _rows(account) == [(late.pk, exit_fill.pk, "XYZ", dt.date(2026, 1, 7), dt.date(2026, 1, 4), "LONG",
                               Decimal("8"), Decimal("12"), Decimal("100"), Decimal("400.00"), 3, None, None, None)]
    assert _books(account) == [("XYZ", exit_fill.pk, [[first.pk, Decimal("100")]])]
