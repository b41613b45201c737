"""The pure ledger arithmetic: commission, slippage, position and cost basis, to the cent."""

from __future__ import annotations

from decimal import Decimal as D

from orders.ledger import adverse_price, cash_delta, fill_commission, order_commission, position_apply


def test_commission_is_per_share_with_a_minimum_per_order():
    assert order_commission(D("100"), D("0.005"), D("1.00")) == D("1.00")  # 0.50 < minimum
    assert order_commission(D("300"), D("0.005"), D("1.00")) == D("1.50")
    assert order_commission(D("333"), D("0.005"), D("1.00")) == D("1.67")  # 1.665 rounds half up
    assert order_commission(D("0"), D("0.005"), D("1.00")) == D("0")


def test_an_order_filled_in_pieces_pays_the_commission_of_one_fill():
    first = fill_commission(already_filled=D("0"), quantity=D("150"), per_share=D("0.005"), minimum=D("1.00"))
    second = fill_commission(already_filled=D("150"), quantity=D("150"), per_share=D("0.005"), minimum=D("1.00"))
    assert (first, second) == (D("1.00"), D("0.50"))
    assert first + second == order_commission(D("300"), D("0.005"), D("1.00"))


def test_slippage_moves_the_price_against_the_trader_and_rounds_adversely():
    assert adverse_price(D("100"), "BUY", D("5")) == D("100.050000")
    assert adverse_price(D("100"), "SELL", D("5")) == D("99.950000")
    assert adverse_price(D("33.333333"), "BUY", D("5")) == D("33.350000")  # 33.34999966... rounds up for a buy
    assert adverse_price(D("33.333333"), "SELL", D("5")) == D("33.316666")  # 33.3166663... rounds down for a sell


def test_cash_moves_by_notional_plus_or_minus_commission():
    assert cash_delta(side="BUY", quantity=D("50"), price=D("101.0505"), commission=D("1.00")) == D("-5053.53")
    assert cash_delta(side="SELL", quantity=D("60"), price=D("101.949"), commission=D("1.00")) == D("6115.94")


def test_buy_add_partial_sell_flip_and_cover_keep_cash_equal_to_realized_minus_costs():
    cash, realized, commission = D("100000.00"), D("0"), D("0")
    quantity, basis = D("0"), D("0")
    steps = [
        # side, qty, price,       quantity, basis,       avg,           realized
        ("BUY", 100, "100.05",    100, "10005.00", "100.050000", "0"),
        ("BUY", 50, "101.0505",   150, "15057.53", "100.383533", "0"),
        ("SELL", 60, "101.949",   90, "9034.52", "100.383556", "93.93"),
        ("SELL", 150, "98.9505",  -60, "-5937.03", "98.950500", "-128.97"),
        ("BUY", 60, "97.54875",   0, "0.00", "0", "84.10"),
    ]
    for side, qty, price, want_qty, want_basis, want_avg, want_realized in steps:
        change = position_apply(quantity=quantity, cost_basis=basis, side=side, fill_quantity=D(qty), price=D(price))
        assert (change.quantity, change.cost_basis, change.avg_cost, change.realized_pnl) == (
            D(want_qty), D(want_basis), D(want_avg), D(want_realized)
        ), (side, qty, price)
        quantity, basis = change.quantity, change.cost_basis
        realized += change.realized_pnl
        commission += D("1.00")
        cash += cash_delta(side=side, quantity=D(qty), price=D(price), commission=D("1.00"))
        assert cash == D("100000.00") + realized - commission - basis
    assert (cash, realized) == (D("100044.06"), D("49.06"))


def test_closing_a_third_removes_a_third_of_the_basis_rounded_and_the_last_third_removes_the_rest():
    basis = D("100.00")  # 3 shares bought for 100.00 in total
    first = position_apply(quantity=D("3"), cost_basis=basis, side="SELL", fill_quantity=D("1"), price=D("40"))
    assert (first.cost_basis, first.realized_pnl) == (D("66.67"), D("6.67"))  # removed 33.33
    second = position_apply(quantity=D("2"), cost_basis=first.cost_basis, side="SELL", fill_quantity=D("2"), price=D("40"))
    assert (second.cost_basis, second.realized_pnl) == (D("0"), D("13.33"))  # removed the remaining 66.67
    assert first.realized_pnl + second.realized_pnl == D("120.00") - D("100.00")


def test_option_multiplier_scales_cost_and_pnl():
    opened = position_apply(quantity=D("0"), cost_basis=D("0"), side="BUY", fill_quantity=D("2"), price=D("3.10"), multiplier=100)
    assert (opened.cost_basis, opened.avg_cost) == (D("620.00"), D("3.100000"))
    closed = position_apply(quantity=D("2"), cost_basis=opened.cost_basis, side="SELL", fill_quantity=D("2"), price=D("2.45"), multiplier=100)
    assert closed.realized_pnl == D("-130.00")
