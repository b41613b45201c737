"""The fake's brokerage state: one Alpaca account with its orders, positions, fills and activities.

Pure Python and ``Decimal``; no I/O. ``server.py`` serves it over HTTP and the trading stream.
Every money and quantity value is kept exact and rendered as Alpaca renders it: a JSON string.
The JSON shapes follow the models of alpaca-py 0.44 (``alpaca.trading.models``) and Alpaca's
documented examples; the refusals carry Alpaca's documented ``{"code", "message"}`` bodies.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

UTC = dt.timezone.utc
ZERO = Decimal("0")

ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIMES_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
#: Statuses after which an order never changes again (GET /v2/orders?status=closed).
CLOSED_STATUSES = ("filled", "canceled", "expired", "rejected", "replaced")

# Alpaca's error codes, as its API returns them in {"code": ..., "message": ...}.
CODE_INVALID = 40010001          # 422: a request field is invalid (also "client_order_id must be unique")
CODE_UNAUTHORIZED = 40110000     # 401: bad or missing API key
CODE_FORBIDDEN = 40310000        # 403: insufficient buying power / qty available
CODE_NOT_FOUND = 40410000        # 404: order / position not found
CODE_UNPROCESSABLE = 42210000    # 422: an order in a state that does not allow it; sub-penny prices
CODE_RATE_LIMIT = 42910000       # 429
CODE_INTERNAL = 50010000         # 500


class AlpacaError(Exception):
    """An answer the REST API gives as an error status with Alpaca's JSON body."""

    def __init__(self, status: int, code: int, message: str, **extra):
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message, **extra}


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def rfc3339(moment: dt.datetime | None) -> str | None:
    """``2026-11-24T15:00:00.123456Z``, the form Alpaca's REST API and trading stream use."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def text(value: Decimal | None) -> str | None:
    """A decimal as Alpaca writes it: plain notation, no exponent, no trailing zeros."""
    if value is None:
        return None
    normalized = value.normalize()
    return f"{normalized:f}" if normalized != 0 else "0"


def parse_decimal(raw, name: str) -> Decimal:
    """A number from a request body (Alpaca accepts a JSON string or a JSON number)."""
    if isinstance(raw, bool) or raw is None or raw == "":
        raise AlpacaError(422, CODE_INVALID, f"{name} is required")
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}") from None
    if not value.is_finite():
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}")
    return value


def parse_time(raw: str | None, name: str) -> dt.datetime | None:
    """An RFC 3339 timestamp or a date from a query string (naive means UTC, as Alpaca reads it)."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(0), tzinfo=UTC)
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}: {raw}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-fake/asset/{symbol}"))


@dataclass
class FakeOrder:
    symbol: str
    qty: Decimal
    side: str
    type: str
    time_in_force: str
    client_order_id: str
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    extended_hours: bool = False
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "accepted"
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    created_at: dt.datetime = field(default_factory=now)
    updated_at: dt.datetime = field(default_factory=now)
    submitted_at: dt.datetime = field(default_factory=now)
    filled_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    def as_json(self) -> dict:
        """The order entity of GET/POST /v2/orders and of every trade update."""
        return {
            "id": self.id, "client_order_id": self.client_order_id,
            "created_at": rfc3339(self.created_at), "updated_at": rfc3339(self.updated_at),
            "submitted_at": rfc3339(self.submitted_at), "filled_at": rfc3339(self.filled_at),
            "expired_at": rfc3339(self.expired_at), "canceled_at": rfc3339(self.canceled_at),
            "failed_at": rfc3339(self.failed_at), "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": asset_id(self.symbol), "symbol": self.symbol, "asset_class": "us_equity",
            "notional": None, "qty": text(self.qty), "filled_qty": text(self.filled_qty),
            "filled_avg_price": text(self.filled_avg_price), "order_class": "", "order_type": self.type,
            "type": self.type, "side": self.side, "position_intent": None, "time_in_force": self.time_in_force,
            "limit_price": text(self.limit_price), "stop_price": text(self.stop_price), "status": self.status,
            "extended_hours": self.extended_hours, "legs": None, "trail_percent": None, "trail_price": None,
            "hwm": None, "expires_at": None,
        }


@dataclass
class FakePosition:
    symbol: str
    qty: Decimal = ZERO
    avg_entry_price: Decimal = ZERO

    def as_json(self, mark: Decimal) -> dict:
        cost_basis = self.qty * self.avg_entry_price
        market_value = self.qty * mark
        unrealized = market_value - cost_basis
        plpc = unrealized / abs(cost_basis) if cost_basis else ZERO
        return {
            "asset_id": asset_id(self.symbol), "symbol": self.symbol, "exchange": "NASDAQ",
            "asset_class": "us_equity", "asset_marginable": True, "avg_entry_price": text(self.avg_entry_price),
            "qty": text(self.qty), "qty_available": text(self.qty), "side": "long" if self.qty > 0 else "short",
            "market_value": text(market_value), "cost_basis": text(cost_basis), "unrealized_pl": text(unrealized),
            "unrealized_plpc": text(plpc.quantize(Decimal("0.0000000001"))), "unrealized_intraday_pl": text(unrealized),
            "unrealized_intraday_plpc": text(plpc.quantize(Decimal("0.0000000001"))), "current_price": text(mark),
            "lastday_price": text(mark), "change_today": "0",
        }


@dataclass(frozen=True)
class Execution:
    """One fill: what the trade update and the FILL activity both describe."""

    execution_id: str
    order: FakeOrder
    qty: Decimal
    price: Decimal
    position_qty: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    order_status: str
    timestamp: dt.datetime

    @property
    def activity_id(self) -> str:
        # Alpaca's activity ids are "<YYYYMMDDHHMMSSmmm>::<uuid>"; the fake uses the execution id as the
        # uuid part, so an activity and the trade update of the same fill can be matched.
        return self.timestamp.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17] + "::" + self.execution_id

    def activity_json(self) -> dict:
        """A FILL entry of GET /v2/account/activities/FILL."""
        return {
            "id": self.activity_id, "activity_type": "FILL", "transaction_time": rfc3339(self.timestamp),
            "type": "fill" if self.leaves_qty == 0 else "partial_fill", "price": text(self.price),
            "qty": text(self.qty), "side": self.order.side, "symbol": self.order.symbol,
            "leaves_qty": text(self.leaves_qty), "order_id": self.order.id, "cum_qty": text(self.cum_qty),
            "order_status": self.order_status,
        }


@dataclass
class FakeBrokerage:
    """One Alpaca account: cash, positions, orders and their executions, with Alpaca's validation rules."""

    cash: Decimal = Decimal("100000")
    multiplier: Decimal = Decimal("1")
    shorting_enabled: bool = True
    trading_blocked: bool = False
    account_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    account_number: str = "PA3FAKE0ALPHA"
    last_equity: Decimal | None = None
    orders: list[FakeOrder] = field(default_factory=list)
    positions: dict[str, FakePosition] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    marks: dict[str, Decimal] = field(default_factory=dict)
    known_symbols: set[str] | None = None

    def __post_init__(self):
        if self.last_equity is None:
            self.last_equity = self.cash

    # --- reads ------------------------------------------------------------------------------------

    def mark(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol)

    def long_market_value(self) -> Decimal:
        return sum((p.qty * self._mark_or_cost(p) for p in self.positions.values() if p.qty > 0), ZERO)

    def short_market_value(self) -> Decimal:
        return sum((p.qty * self._mark_or_cost(p) for p in self.positions.values() if p.qty < 0), ZERO)

    def equity(self) -> Decimal:
        return self.cash + self.long_market_value() + self.short_market_value()

    def open_order_exposure(self) -> Decimal:
        """What resting orders that add exposure may still cost (buys, and sells beyond the long position)."""
        total = ZERO
        for order in self.orders:
            price = self._order_price(order)
            if order.is_open and price is not None and self._adds_exposure(order, order.remaining):
                total += order.remaining * price
        return total

    def buying_power(self) -> Decimal:
        gross = self.long_market_value() - self.short_market_value()
        return max(ZERO, self.equity() * self.multiplier - gross - self.open_order_exposure())

    def account_json(self) -> dict:
        """GET /v2/account (the fields alpaca-py's TradeAccount reads)."""
        buying_power = self.buying_power()
        return {
            "id": self.account_id, "account_number": self.account_number, "status": "ACTIVE",
            "crypto_status": "INACTIVE", "currency": "USD", "buying_power": text(buying_power),
            "regt_buying_power": text(buying_power), "non_marginable_buying_power": text(buying_power),
            "options_buying_power": text(buying_power), "cash": text(self.cash), "accrued_fees": "0",
            "pending_transfer_in": "0", "pending_transfer_out": "0", "portfolio_value": text(self.equity()),
            "trading_blocked": self.trading_blocked, "transfers_blocked": False, "account_blocked": False,
            "created_at": "2024-01-02T14:30:00.000000Z", "trade_suspended_by_user": False,
            "multiplier": text(self.multiplier), "shorting_enabled": self.shorting_enabled,
            "equity": text(self.equity()), "last_equity": text(self.last_equity),
            "long_market_value": text(self.long_market_value()), "short_market_value": text(self.short_market_value()),
            "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
            "options_approved_level": 0, "options_trading_level": 0,
        }

    def positions_json(self) -> list[dict]:
        return [p.as_json(self._mark_or_cost(p)) for p in sorted(self.positions.values(), key=lambda p: p.symbol)
                if p.qty != 0]

    def position_json(self, symbol: str) -> dict:
        position = self.positions.get(symbol.upper())
        if position is None or position.qty == 0:
            raise AlpacaError(404, CODE_NOT_FOUND, "position does not exist")
        return position.as_json(self._mark_or_cost(position))

    def find(self, *, order_id: str | None = None, client_order_id: str | None = None) -> FakeOrder:
        for order in self.orders:
            if (order_id is not None and order.id == order_id) or (
                client_order_id is not None and order.client_order_id == client_order_id
            ):
                return order
        raise AlpacaError(404, CODE_NOT_FOUND, "order not found")

    def orders_query(self, *, status: str = "open", limit: int = 50, after: dt.datetime | None = None,
                     until: dt.datetime | None = None, direction: str = "desc", symbols: list[str] | None = None,
                     side: str | None = None) -> list[dict]:
        """GET /v2/orders: ``after``/``until`` compare the submission time, as Alpaca documents."""
        if status not in ("open", "closed", "all"):
            raise AlpacaError(422, CODE_INVALID, "invalid status")
        if not 1 <= limit <= 500:
            raise AlpacaError(422, CODE_INVALID, "limit must be between 1 and 500")
        chosen = [
            o for o in self.orders
            if (status == "all" or (status == "open") == o.is_open)
            and (after is None or o.submitted_at > after) and (until is None or o.submitted_at <= until)
            and (not symbols or o.symbol in symbols) and (side is None or o.side == side)
        ]
        chosen.sort(key=lambda o: o.submitted_at, reverse=direction != "asc")
        return [o.as_json() for o in chosen[:limit]]

    def activities(self, *, after: dt.datetime | None = None, until: dt.datetime | None = None,
                   date: dt.date | None = None, direction: str = "desc", page_size: int = 100,
                   page_token: str | None = None) -> list[dict]:
        """GET /v2/account/activities/FILL: newest first by default, paged by the last id seen."""
        if not 1 <= page_size <= 100:
            raise AlpacaError(422, CODE_INVALID, "page_size must be between 1 and 100")
        chosen = [
            e for e in self.executions
            if (after is None or e.timestamp > after) and (until is None or e.timestamp <= until)
            and (date is None or e.timestamp.astimezone(UTC).date() == date)
        ]
        chosen.sort(key=lambda e: (e.timestamp, e.activity_id), reverse=direction != "asc")
        if page_token:
            ids = [e.activity_id for e in chosen]
            if page_token not in ids:
                raise AlpacaError(422, CODE_INVALID, "invalid page_token")
            chosen = chosen[ids.index(page_token) + 1:]
        return [e.activity_json() for e in chosen[:page_size]]

    # --- writes -----------------------------------------------------------------------------------

    def submit(self, body: dict) -> FakeOrder:
        """POST /v2/orders: validate like Alpaca (422 invalid, 403 buying power) and store the order."""
        if not isinstance(body, dict):
            raise AlpacaError(422, CODE_INVALID, "request body format is invalid")
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise AlpacaError(422, CODE_INVALID, "symbol is required")
        if self.known_symbols is not None and symbol not in self.known_symbols:
            raise AlpacaError(422, CODE_INVALID, f'asset "{symbol}" not found')
        if body.get("notional") is not None:
            raise AlpacaError(422, CODE_INVALID, "notional orders are not supported by this fake")
        qty = parse_decimal(body.get("qty"), "qty")
        if qty <= 0:
            raise AlpacaError(422, CODE_INVALID, "qty must be > 0")
        side, order_type, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise AlpacaError(422, CODE_INVALID, "invalid side")
        if order_type not in ORDER_TYPES:
            raise AlpacaError(422, CODE_INVALID, "invalid order type")
        if tif not in TIMES_IN_FORCE:
            raise AlpacaError(422, CODE_INVALID, "invalid time_in_force")
        limit = self._price(body, "limit_price", required=order_type in ("limit", "stop_limit"), order_type=order_type)
        stop = self._price(body, "stop_price", required=order_type in ("stop", "stop_limit"), order_type=order_type)
        if qty != qty.to_integral_value() and tif != "day":
            raise AlpacaError(422, CODE_INVALID, "fractional orders must be DAY orders")
        client_order_id = body.get("client_order_id") or str(uuid.uuid4())
        if not isinstance(client_order_id, str) or len(client_order_id) > 128:
            raise AlpacaError(422, CODE_INVALID, "client_order_id must be at most 128 characters")
        if any(o.client_order_id == client_order_id for o in self.orders):
            raise AlpacaError(422, CODE_INVALID, "client_order_id must be unique")
        if self.trading_blocked:
            raise AlpacaError(403, CODE_FORBIDDEN, "account is not allowed to trade")
        order = FakeOrder(symbol=symbol, qty=qty, side=side, type=order_type, time_in_force=tif,
                          client_order_id=client_order_id, limit_price=limit, stop_price=stop,
                          extended_hours=bool(body.get("extended_hours")))
        self._check_funds(order)
        self.orders.append(order)
        return order

    def transition(self, order: FakeOrder, status: str) -> FakeOrder:
        """Move an order to ``new``/``pending_cancel``/``canceled``/``expired``/``rejected``, stamping the time."""
        moment = now()
        order.status, order.updated_at = status, moment
        if status == "canceled":
            order.canceled_at = moment
        elif status == "expired":
            order.expired_at = moment
        elif status == "rejected":
            order.failed_at = moment
        return order

    def request_cancel(self, order: FakeOrder) -> FakeOrder:
        """DELETE /v2/orders/{id}: 422 unless the order is still open; it becomes ``pending_cancel``."""
        if not order.is_open:
            raise AlpacaError(422, CODE_UNPROCESSABLE, f'order is already in "{order.status}" state')
        return self.transition(order, "pending_cancel")

    def fill(self, order: FakeOrder, *, price: Decimal, qty: Decimal | None = None) -> Execution:
        """Execute ``qty`` (default: all that is left) of an open order at ``price``."""
        qty = order.remaining if qty is None else qty
        if not order.is_open:
            raise ValueError(f"order {order.client_order_id} is {order.status}")
        if not ZERO < qty <= order.remaining:
            raise ValueError(f"fill of {qty} does not fit the {order.remaining} left")
        moment = now()
        previous = order.filled_qty
        order.filled_qty = previous + qty
        order.filled_avg_price = ((order.filled_avg_price or ZERO) * previous + price * qty) / order.filled_qty
        order.status = "filled" if order.filled_qty == order.qty else "partially_filled"
        order.updated_at = moment
        if order.status == "filled":
            order.filled_at = moment
        position_qty = self._book(order.symbol, order.side, qty, price)
        execution = Execution(
            execution_id=str(uuid.uuid4()), order=order, qty=qty, price=price, position_qty=position_qty,
            cum_qty=order.filled_qty, leaves_qty=order.remaining, order_status=order.status, timestamp=moment,
        )
        self.executions.append(execution)
        return execution

    def set_position(self, symbol: str, qty: Decimal, avg_entry_price: Decimal) -> None:
        """A position changed outside any order (a transfer in, a corporate action): cash is untouched."""
        self.positions[symbol.upper()] = FakePosition(symbol.upper(), qty, avg_entry_price)

    # --- helpers ----------------------------------------------------------------------------------

    def _price(self, body: dict, name: str, *, required: bool, order_type: str) -> Decimal | None:
        raw = body.get(name)
        if raw is None or raw == "":
            if required:
                raise AlpacaError(422, CODE_INVALID, f"{name} is required")
            return None
        if not required:
            raise AlpacaError(422, CODE_INVALID, f"{name} is not allowed for {order_type} orders")
        price = parse_decimal(raw, name)
        if price <= 0:
            raise AlpacaError(422, CODE_INVALID, f"{name} must be > 0")
        # Alpaca's sub-penny rule: two decimals from $1.00 up, four below.
        places = 2 if price >= 1 else 4
        if price != price.quantize(Decimal(1).scaleb(-places)):
            raise AlpacaError(422, CODE_UNPROCESSABLE, f"invalid {name} {text(price)}. sub-penny increment does "
                                                       "not fulfill minimum pricing criteria")
        return price

    def _order_price(self, order: FakeOrder) -> Decimal | None:
        return order.limit_price or order.stop_price or self.mark(order.symbol)

    def _adds_exposure(self, order: FakeOrder, qty: Decimal) -> bool:
        held = self.positions.get(order.symbol, FakePosition(order.symbol)).qty
        return order.side == "buy" and held >= 0 or order.side == "sell" and held - qty < 0

    def _check_funds(self, order: FakeOrder) -> None:
        held = self.positions.get(order.symbol, FakePosition(order.symbol)).qty
        if order.side == "sell" and not self.shorting_enabled and order.qty > max(held, ZERO):
            raise AlpacaError(403, CODE_FORBIDDEN, f"insufficient qty available for order (requested: "
                                                   f"{text(order.qty)}, available: {text(max(held, ZERO))})")
        price = self._order_price(order)
        if price is None or not self._adds_exposure(order, order.qty):
            return
        cost = order.qty * price
        if cost > self.buying_power():
            raise AlpacaError(403, CODE_FORBIDDEN, "insufficient buying power",
                              buying_power=text(self.buying_power()), cost_basis=text(cost))

    def _mark_or_cost(self, position: FakePosition) -> Decimal:
        return self.marks.get(position.symbol, position.avg_entry_price)

    def _book(self, symbol: str, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """Apply a fill to cash and the position (average cost; a flip opens at the fill price)."""
        position = self.positions.setdefault(symbol, FakePosition(symbol))
        signed = qty if side == "buy" else -qty
        self.cash -= signed * price
        new_qty = position.qty + signed
        if position.qty == 0 or (position.qty > 0) == (signed > 0):
            position.avg_entry_price = (position.avg_entry_price * abs(position.qty) + price * qty) / abs(new_qty)
        elif new_qty != 0 and (new_qty > 0) != (position.qty > 0):
            position.avg_entry_price = price
        position.qty = new_qty
        self.marks.setdefault(symbol, price)
        return new_qty
