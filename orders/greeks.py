"""Black-Scholes price and Greeks of a European option (no dividends). Pure floats, no Django.

Units (Hull's conventions):

- ``delta``: change in option price per $1 move of the underlying;
- ``gamma``: change in delta per $1 move of the underlying;
- ``vega``: change in option price per 1 volatility point (sigma 0.20 -> 0.21), i.e. Hull's vega / 100;
- ``theta``: change in option price per calendar day (Hull's per-year theta / 365), negative for a long
  option that loses time value;
- all per ONE unit of the underlying: multiply by the contract multiplier (100) and the number of
  contracts for a position.

Time to expiry is in years of 365 calendar days. At or after expiry (``years <= 0``) the option
is worth its intrinsic value: delta is 1/-1 in the money and 0 otherwise; gamma, vega and theta are 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CALL, PUT = "C", "P"
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Greeks:
    price: float
    delta: float
    gamma: float
    vega: float  # per 1 vol point
    theta: float  # per calendar day


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def black_scholes(*, spot: float, strike: float, years: float, rate: float, vol: float, right: str) -> Greeks:
    if right not in (CALL, PUT):
        raise ValueError(f"right must be {CALL!r} or {PUT!r}, got {right!r}")
    if spot <= 0 or strike <= 0:
        raise ValueError("spot and strike must be positive")
    if years <= 0 or vol <= 0:
        intrinsic = max(spot - strike, 0.0) if right == CALL else max(strike - spot, 0.0)
        if right == CALL:
            delta = 1.0 if spot > strike else 0.0
        else:
            delta = -1.0 if spot < strike else 0.0
        return Greeks(price=intrinsic, delta=delta, gamma=0.0, vega=0.0, theta=0.0)

    sqrt_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    discount = math.exp(-rate * years)
    pdf_d1 = norm_pdf(d1)
    gamma = pdf_d1 / (spot * vol * sqrt_t)
    vega_per_unit = spot * pdf_d1 * sqrt_t
    decay = -spot * pdf_d1 * vol / (2.0 * sqrt_t)
    if right == CALL:
        price = spot * norm_cdf(d1) - strike * discount * norm_cdf(d2)
        delta = norm_cdf(d1)
        theta_year = decay - rate * strike * discount * norm_cdf(d2)
    else:
        price = strike * discount * norm_cdf(-d2) - spot * norm_cdf(-d1)
        delta = norm_cdf(d1) - 1.0
        theta_year = decay + rate * strike * discount * norm_cdf(-d2)
    return Greeks(price=price, delta=delta, gamma=gamma, vega=vega_per_unit / 100.0, theta=theta_year / DAYS_PER_YEAR)


@dataclass(frozen=True)
class Exposure:
    """Dollar exposure of one position (signed by the position's quantity)."""

    delta_dollars: float  # stock-equivalent exposure: delta x qty x multiplier x spot
    gamma_dollars: float  # change of delta_dollars for a 1% move of the underlying
    vega_dollars: float  # P&L for +1 vol point
    theta_dollars: float  # P&L per calendar day


def position_exposure(greeks: Greeks, *, quantity: float, multiplier: int, spot: float) -> Exposure:
    units = quantity * multiplier
    return Exposure(
        delta_dollars=greeks.delta * units * spot,
        gamma_dollars=greeks.gamma * units * spot * spot / 100.0,
        vega_dollars=greeks.vega * units,
        theta_dollars=greeks.theta * units,
    )
