"""manage.py fetch_bars --provider alpaca: adjusted daily bars from (a local) Alpaca, through the import upsert."""

from __future__ import annotations

import datetime as dt
import io
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from marketdata.models import Bar
from tests.alpaca_fake import FakeAlpaca

# AAPL split 4-for-1 after 2020-01-03: Alpaca's raw prices are 4x the adjusted ones before it.
AAPL_RAW = [(date(2020, 1, 2), "296.24", "300.60", "295.19", "300.35", 33_870_100),
            (date(2020, 1, 3), "297.15", "300.58", "296.50", "297.43", 36_580_700),
            (date(2020, 1, 6), "74.29", "75.15", "73.80", "74.95", 118_387_200)]
AAPL_ADJUSTED = [(date(2020, 1, 2), "74.06", "75.15", "73.7975", "75.0875", 135_480_400),
                 (date(2020, 1, 3), "74.2875", "75.145", "74.125", "74.3575", 146_322_800),
                 (date(2020, 1, 6), "74.29", "75.15", "73.80", "74.95", 118_387_200)]
SPY_RAW = [(date(2020, 1, 2), "323.54", "324.89", "322.53", "324.87", 59_151_200),
           (date(2020, 1, 3), "321.16", "323.64", "321.10", "322.41", 77_709_700)]


def _fetch(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("fetch_bars", "--provider", "alpaca", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _stored(symbol: str) -> list[tuple]:
    return list(Bar.objects.filter(instrument__symbol=symbol).order_by("date")
                .values_list("date", "open", "high", "low", "close", "adj_close", "volume"))


@pytest.fixture
def alpaca(settings):
    """A local Alpaca with AAPL (split-adjusted) and SPY bars, AlphaLoop's ALPACA_* settings pointed at it."""
    with FakeAlpaca() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        fake.add_bars("AAPL", AAPL_RAW, adjusted=AAPL_ADJUSTED)
        fake.add_bars("SPY", SPY_RAW)
        fake.bars.page_limit = 2  # five bars: three pages
        yield fake


@pytest.mark.django_db
def test_fetch_bars_imports_split_and_dividend_adjusted_bars_over_every_page(alpaca):
    out, _ = _fetch("--symbols", "AAPL,spy", "--start", "2020-01-01", "--end", "2020-01-31")

    assert _stored("AAPL") == [(d, D(o), D(h), D(low), D(c), D(c), v) for d, o, h, low, c, v in AAPL_ADJUSTED]
    assert _stored("SPY") == [(d, D(o), D(h), D(low), D(c), D(c), v) for d, o, h, low, c, v in SPY_RAW]
    pages = [r.query for r in alpaca.requests if r.path == "/v2/stocks/bars"]
    assert len(pages) == 3 and [bool(p.get("page_token")) for p in pages] == [False, True, True]
    assert {(p["symbols"], p["timeframe"], p["adjustment"]) for p in pages} == {("AAPL,SPY", "1Day", "all")}
    assert "AAPL: 3 new, 0 updated bars (2020-01-02 to 2020-01-06)" in out
    assert "SPY: 2 new, 0 updated bars (2020-01-02 to 2020-01-03)" in out


@pytest.mark.django_db
def test_fetching_again_updates_in_place_and_writes_no_bar_twice(alpaca):
    _fetch("--symbols", "AAPL,SPY", "--start", "2020-01-01")
    # A dividend later: Alpaca now adjusts the history a little further down.
    alpaca.add_bars("SPY", SPY_RAW, adjusted=[(date(2020, 1, 2), "321.00", "322.00", "320.00", "321.50", 59_151_200),
                                              (date(2020, 1, 3), "320.00", "321.00", "319.00", "320.00", 77_709_700)])

    out, _ = _fetch("--symbols", "AAPL,SPY", "--start", "2020-01-01")

    assert "AAPL: 0 new, 3 updated bars" in out and "SPY: 0 new, 2 updated bars" in out
    assert Bar.objects.count() == 5
    assert [close for *_, close, _adj, _v in _stored("SPY")] == [D("321.5"), D("320")]


@pytest.mark.django_db
def test_a_bar_that_is_not_sound_imports_nothing(alpaca):
    alpaca.add_bars("SPY", [*SPY_RAW, (date(2020, 1, 6), "320", "319", "318", "321", 100)])  # high below close

    with pytest.raises(CommandError, match="1 bad bar"):
        _fetch("--symbols", "AAPL,SPY", "--start", "2020-01-01")

    assert Bar.objects.count() == 0


@pytest.mark.django_db
def test_an_alpaca_refusal_is_a_clear_error_and_nothing_is_imported(alpaca):
    alpaca.fail_next("GET", "/v2/stocks/bars", status=403,
                     body={"code": 40310000, "message": "subscription does not permit querying recent SIP data"})

    with pytest.raises(CommandError) as refused:
        _fetch("--symbols", "AAPL", "--start", "2020-01-01", "--feed", "sip")

    assert str(refused.value) == ("Alpaca refused the request (HTTP 403): subscription does not permit querying "
                                  "recent SIP data; nothing was imported.")
    assert [r.query.get("feed") for r in alpaca.requests if r.path == "/v2/stocks/bars"] == ["sip"]
    assert Bar.objects.count() == 0


@pytest.mark.django_db
def test_a_symbol_alpaca_has_no_bars_for_is_reported_and_creates_nothing(alpaca):
    out, err = _fetch("--symbols", "AAPL,NOPE", "--start", "2020-01-01")

    assert "AAPL: 3 new" in out and "NOPE: no bars from Alpaca in that range (unknown symbol?)" in err
    assert not Bar.objects.filter(instrument__symbol="NOPE").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "AAPL", "--start", "2020-02-01", "--end", "2020-01-01"], "--end 2020-01-01 is before --start 2020-02-01"),
        (["--symbols", "AAPL", "--start", "01/02/2020"], "'01/02/2020' is not a date (YYYY-MM-DD)"),
        (["--symbols", " , ", "--start", "2020-01-01"], "--symbols names no symbol"),
    ],
)
def test_bad_arguments_are_refused_with_the_argument_named(alpaca, args, message):
    with pytest.raises(CommandError) as refused:
        _fetch(*args)

    assert str(refused.value) == message


@pytest.mark.django_db
def test_without_alpaca_keys_the_command_says_which_settings_to_set(settings):
    settings.ALPACA_API_KEY = settings.ALPACA_SECRET_KEY = ""

    with pytest.raises(CommandError, match="Alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        _fetch("--symbols", "AAPL", "--start", "2020-01-01")


@pytest.mark.django_db
def test_fetching_over_a_synthetic_demo_symbol_says_its_other_bars_stay_synthetic(alpaca, instrument_factory):
    instrument_factory("AAPL", is_synthetic=True)

    _, err = _fetch("--symbols", "AAPL", "--start", "2020-01-01")

    assert "AAPL holds synthetic demo bars: outside 2020-01-02 to 2020-01-06 they are still synthetic" in err


# --- bars_update_job: after each close, the universe and SPY up to today ---------------------------

BEFORE_SPLIT = [(date(2019, 12, 20), "280.00", "282.00", "279.00", "281.00", 1000),
                (date(2020, 1, 2), "296.24", "300.60", "295.19", "300.35", 2000),
                (date(2020, 1, 3), "297.15", "300.58", "296.50", "297.43", 3000)]
SPLIT_DAY = (date(2020, 1, 6), "74.29", "75.15", "73.80", "74.95", 4000)


def _quartered(row):
    day, o, h, low, c, v = row
    return (day, *(str(D(p) / 4) for p in (o, h, low, c)), v * 4)


@pytest.fixture
def updated_market(settings, time_machine):
    """AAPL and SPY imported up to Friday 2020-01-03; over the weekend AAPL split 4-for-1."""
    with FakeAlpaca() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        fake.add_bars("AAPL", BEFORE_SPLIT)
        fake.add_bars("SPY", SPY_RAW)
        _fetch("--symbols", "AAPL,SPY", "--start", "2019-12-01", "--end", "2020-01-03")
        fake.add_bars("AAPL", [*BEFORE_SPLIT, SPLIT_DAY], adjusted=[*map(_quartered, BEFORE_SPLIT), SPLIT_DAY])
        fake.add_bars("SPY", [*SPY_RAW, (date(2020, 1, 6), "320.49", "323.73", "320.36", "323.64", 55_000_000)])
        time_machine.move_to(dt.datetime(2020, 1, 6, 21, 40, tzinfo=dt.timezone.utc), tick=False)  # 16:40 ET
        yield fake


@pytest.mark.django_db
def test_bars_update_job_brings_the_universe_and_spy_to_today_and_reads_a_split_into_the_whole_history(updated_market):
    from marketdata.tasks import bars_update_job

    outcome = bars_update_job()

    assert outcome == {"AAPL": {"created": 1, "updated": 3}, "SPY": {"created": 1, "updated": 2}}
    assert [c for *_, c, _adj, _v in _stored("AAPL")] == [D("70.25"), D("75.0875"), D("74.3575"), D("74.95")]
    assert [c for *_, c, _adj, _v in _stored("SPY")] == [D("324.87"), D("322.41"), D("323.64")]
    starts = [(r.query["symbols"], r.query["start"][:10]) for r in updated_market.requests if r.path == "/v2/stocks/bars"]
    # the first update reads a week back from Friday; AAPL's changed closes there send it back to its first bar
    assert starts[-2:] == [("AAPL,SPY", "2019-12-27"), ("AAPL", "2019-12-20")]
    assert bars_update_job() == {"AAPL": {"created": 0, "updated": 3}, "SPY": {"created": 0, "updated": 3}}


@pytest.mark.django_db
def test_bars_update_job_does_nothing_without_alpaca_keys_or_on_a_holiday(updated_market, settings, time_machine):
    from marketdata.tasks import bars_update_job

    time_machine.move_to(dt.datetime(2020, 1, 1, 21, 40, tzinfo=dt.timezone.utc), tick=False)
    assert bars_update_job() == {"skipped": "2020-01-01 is not a session"}
    settings.ALPACA_API_KEY = ""
    assert bars_update_job() == {"skipped": "no Alpaca keys (ALPACA_API_KEY, ALPACA_SECRET_KEY)"}
