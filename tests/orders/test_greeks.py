"""Black-Scholes Greeks against textbook values, and their aggregation into the dashboard's exposure block."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal as D

import pytest

from orders.greeks import black_scholes

# Hull, Options, Futures and Other Derivatives: the running example of the Greeks chapter.
# S0 = 49, K = 50, r = 5%, sigma = 20%, T = 20 weeks = 0.3846 years; call price 2.40,
# delta 0.522, gamma 0.066, vega 12.1 (per 1.00 of sigma), theta -4.31 (per year).
HULL = {"spot": 49.0, "strike": 50.0, "years": 0.3846, "rate": 0.05, "vol": 0.20}


def test_call_greeks_match_hulls_worked_example():
    g = black_scholes(**HULL, right="C")
    assert round(g.price, 2) == 2.40
    assert round(g.delta, 3) == 0.522
    assert round(g.gamma, 3) == 0.066
    assert round(g.vega * 100, 1) == 12.1  # our vega is per vol point: 0.121
    assert round(g.theta * 365, 2) == -4.31  # our theta is per calendar day: -0.0118
    assert round(g.theta, 4) == -0.0118


def test_option_prices_match_hulls_black_scholes_example():
    # Hull's Black-Scholes-Merton example: S0 = 42, K = 40, r = 10%, sigma = 20%, T = 0.5: c = 4.76, p = 0.81.
    call = black_scholes(spot=42, strike=40, years=0.5, rate=0.10, vol=0.20, right="C")
    put = black_scholes(spot=42, strike=40, years=0.5, rate=0.10, vol=0.20, right="P")
    assert (round(call.price, 2), round(put.price, 2)) == (4.76, 0.81)


def test_put_greeks_obey_put_call_parity():
    call, put = black_scholes(**HULL, right="C"), black_scholes(**HULL, right="P")
    discount = math.exp(-HULL["rate"] * HULL["years"])
    assert put.price == pytest.approx(call.price - HULL["spot"] + HULL["strike"] * discount, abs=1e-12)
    assert put.delta == pytest.approx(call.delta - 1.0, abs=1e-12)
    assert (put.gamma, put.vega) == (pytest.approx(call.gamma), pytest.approx(call.vega))
    # theta_put - theta_call = r K e^(-rT) per year
    assert (put.theta - call.theta) * 365 == pytest.approx(HULL["rate"] * HULL["strike"] * discount, abs=1e-9)


def test_an_expired_option_is_worth_its_intrinsic_value_with_no_time_greeks():
    itm = black_scholes(spot=55, strike=50, years=0, rate=0.05, vol=0.2, right="C")
    otm_put = black_scholes(spot=55, strike=50, years=-0.01, rate=0.05, vol=0.2, right="P")
    assert (itm.price, itm.delta, itm.gamma, itm.vega, itm.theta) == (5.0, 1.0, 0.0, 0.0, 0.0)
    assert (otm_put.price, otm_put.delta) == (0.0, 0.0)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        black_scholes(spot=49, strike=50, years=0.3, rate=0.05, vol=0.2, right="X")
    with pytest.raises(ValueError):
        black_scholes(spot=0, strike=50, years=0.3, rate=0.05, vol=0.2, right="C")


@pytest.mark.django_db
def test_portfolio_exposure_adds_stock_delta_and_option_greeks_in_dollars_and_percent_of_equity(
    account, aapl, instrument_factory, quote, session_time, settings
):
    from orders.models import Account, Position
    from orders.selectors import portfolio_exposure

    settings.RISK_FREE_RATE = D("0.05")
    instrument_factory("XYZ")
    quote("XYZ", "49")
    Position.objects.create(account=account, symbol="AAPL", quantity=D("100"), avg_cost=D("100"), cost_basis=D("10000"))
    Position.objects.create(
        account=account, symbol="XYZ 270413C00050000", asset_type=Position.OPTION, underlying="XYZ", quantity=D("2"),
        avg_cost=D("2.40"), cost_basis=D("480"), multiplier=100, option_right="C", strike=D("50"),
        expiry=dt.date(2026, 11, 24) + dt.timedelta(days=140), implied_vol=D("0.20"),
    )
    Position.objects.create(account=account, symbol="XYZ NOIV", asset_type=Position.OPTION, underlying="XYZ",
                            quantity=D("1"), avg_cost=D("1"), cost_basis=D("100"), multiplier=100, option_right="P",
                            strike=D("45"), expiry=dt.date(2027, 1, 15))
    Account.objects.filter(pk=account.pk).update(cash=D("89420.00"))
    account.refresh_from_db()

    exposure = portfolio_exposure(account)

    g = black_scholes(spot=49, strike=50, years=140 / 365, rate=0.05, vol=0.20, right="C")
    equity = 89420 + 100 * 100 + 480 + 100  # options without a quote are carried at cost
    assert exposure["equity"] == D("100000.00")
    assert exposure["delta_dollars"] == D(repr(100 * 100 + g.delta * 200 * 49)).quantize(D("0.01"))
    assert exposure["gamma_dollars"] == D(repr(g.gamma * 200 * 49 * 49 / 100)).quantize(D("0.01"))
    assert exposure["vega_dollars"] == D(repr(g.vega * 200)).quantize(D("0.01"))
    assert exposure["theta_dollars"] == D(repr(g.theta * 200)).quantize(D("0.01"))
    assert exposure["delta_pct"] == D(repr((100 * 100 + g.delta * 200 * 49) / equity * 100)).quantize(D("0.0001"))
    assert exposure["theta_pct"] < 0 < exposure["vega_pct"]
    assert exposure["unpriced"] == ["XYZ NOIV"]
    stock = next(row for row in exposure["positions"] if row["symbol"] == "AAPL")
    assert (stock["delta"], stock["delta_dollars"], stock["gamma"]) == (D("1.000000"), D("10000.00"), D("0.000000"))
