"""The ``Strategy`` base class: typed parameters, indicators, the order API.

A strategy is one small class in its own module of this package::

    class MyStrategy(Strategy):
        id = "my_strategy"
        description = "What it does, in one sentence."

        @dataclass(frozen=True)
        class Params:
            period: int = param(20, minimum=2, description="lookback in bars")

        def init(self, data):            # once, the whole history, vectorized
            self.indicator("sma", sma(data.close, self.params.period))
            self.wake_on(...)           # optional: the only bars on_bar acts on
            self.act_by_position(...)   # optional: on_bar's orders as arrays (faster)

        def on_bar(self, data):          # per bar, data ends at this bar
            if data.close[-1, 0] > data["sma"][-1, 0]:
                self.buy(0)

Parameters are a frozen dataclass whose fields carry their description and
bounds (``param``); ``parse_params`` validates raw JSON-ish input against it
and raises ``ParamError(field, message)`` naming the parameter at fault.
Cross-field rules go in the dataclass's ``__post_init__`` and raise
``ParamError`` too.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, get_type_hints

import numpy as np

from backtest.sizing import AllIn, Sizer

if TYPE_CHECKING:
    from backtest.engine import Broker, Data, Order


class ParamError(ValueError):
    """An invalid strategy parameter: ``field`` names it, ``message`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def param(
    default: Any,
    *,
    description: str,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A parameter field with its description and inclusive bounds."""
    return dataclasses.field(
        default=default,
        metadata={"description": description, "minimum": minimum, "maximum": maximum},
    )


@dataclasses.dataclass(frozen=True)
class NoParams:
    """A strategy without parameters."""


STOCKS = "stocks"
"""A default universe: every active stock (not ETF or index) with bars in the run's window."""


_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ParamError(name, f"must be true or false, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ParamError(name, f"must be a string, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamError(name, f"must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ParamError(name, f"must be an integer, got {value!r}")
        return int(value)
    return float(value)


class Strategy(ABC):
    """Base class of every strategy; see the module docstring for the shape of one.

    The engine calls ``init(data)`` once with the whole history, then
    ``on_bar(data)`` with data that ends at the current bar. If ``init``
    called ``wake_on``, ``on_bar`` runs only on those bars, and must do
    nothing on the others; if it called ``act_by_position``, the engine
    places those orders itself and does not call ``on_bar`` (the tests check
    that each gives the same fills as ``on_bar`` on every bar).
    """

    id: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    default_universe: ClassVar[tuple[str, ...] | str] = ("SPY",)
    """The symbols a run trades when it names none: a tuple of symbols, or ``STOCKS``."""
    start_bar: int = 0
    """The first bar the strategy trades on. Bars before it are history for its indicators: a
    walk-forward window or a live replay (``backtest.window``) sets it and never calls ``on_bar``
    before it; a strategy that acts on "the first bar" reads it instead of assuming 0."""

    def __init__(self, params: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        self.params = self.parse_params({**(params or {}), **overrides})
        self._broker: Broker | None = None
        self._data: Data | None = None
        self._in_init = False

    # -- parameters --------------------------------------------------------

    @classmethod
    def param_schema(cls) -> dict[str, dict[str, Any]]:
        """``{name: {type, default, minimum?, maximum?, description}}``, JSON-schema-like."""
        hints = get_type_hints(cls.Params)
        schema: dict[str, dict[str, Any]] = {}
        for field in dataclasses.fields(cls.Params):
            entry: dict[str, Any] = {"type": _JSON_TYPES[hints[field.name]], "default": field.default}
            for bound in ("minimum", "maximum"):
                if field.metadata.get(bound) is not None:
                    entry[bound] = field.metadata[bound]
            entry["description"] = field.metadata.get("description", "")
            schema[field.name] = entry
        return schema

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any] | None) -> Any:
        """Validate ``raw`` (e.g. decoded JSON) into a ``Params`` instance."""
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise ParamError("params", f"must be an object, got {type(raw).__name__}")
        hints = get_type_hints(cls.Params)
        fields = {field.name: field for field in dataclasses.fields(cls.Params)}
        for name in raw:
            if name not in fields:
                known = ", ".join(fields) or "no parameters"
                raise ParamError(str(name), f"unknown parameter for {cls.id or cls.__name__} (takes {known})")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            value = _coerce(name, value, hints[name])
            metadata = fields[name].metadata
            if metadata.get("minimum") is not None and value < metadata["minimum"]:
                raise ParamError(name, f"must be >= {metadata['minimum']}, got {value!r}")
            if metadata.get("maximum") is not None and value > metadata["maximum"]:
                raise ParamError(name, f"must be <= {metadata['maximum']}, got {value!r}")
            values[name] = value
        return cls.Params(**values)

    def params_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """``{id, description, params, default_universe}`` for the strategies listing."""
        universe = cls.default_universe if isinstance(cls.default_universe, str) else list(cls.default_universe)
        return {"id": cls.id, "description": cls.description, "params": cls.param_schema(), "default_universe": universe}

    # -- lifecycle -----------------------------------------------------------

    def init(self, data: Data) -> None:
        """Precompute indicators over the whole history (vectorized) and register them."""

    @abstractmethod
    def on_bar(self, data: Data) -> None:
        """React to the current bar: ``data`` ends at it; orders fill from the next bar."""

    def _bind(self, broker: Broker, data: Data) -> None:
        self._broker = broker
        self._data = data
        self._in_init = True

    # -- for init --------------------------------------------------------------

    def indicator(self, name: str, values: Any) -> None:
        """Register a precomputed ``(bars,)`` or ``(bars, symbols)`` array.

        ``on_bar`` reads it as ``data[name]``, ending at the current bar.
        """
        self._require_init("indicator")
        self._data._add(name, values)

    def wake_on(self, bars: Any) -> None:
        """Declare the bars on which ``on_bar`` may act (a boolean mask; calls OR together).

        A ``(bars, symbols)`` mask wakes the strategy when any symbol's entry is True.
        """
        self._require_init("wake_on")
        mask = np.asarray(bars, dtype=bool)
        if mask.ndim == 2:
            mask = mask.any(axis=1)
        if mask.shape != (len(self._data.index),):
            raise ValueError(f"wake_on mask has shape {mask.shape}; expected ({len(self._data.index)},)")
        self._data._wake_on(mask)

    def act_by_position(
        self,
        *,
        flat: Any = None,
        long: Any = None,
        short: Any = None,
        size: Sizer | None = None,
        tag: str = "",
    ) -> None:
        """Declare what ``on_bar`` does, as arrays, so the engine can do it without calling ``on_bar``.

        ``flat``, ``long`` and ``short`` are ``(bars, symbols)`` arrays of
        ``Act`` codes (None: no action): on bar t, symbol by symbol in column
        order, ``on_bar`` places the orders of the code found in the table of
        the position it holds then (``self.position(col)``: 0, > 0 or < 0),
        ``Act.BUY`` as ``self.buy(col, size=size, tag=tag)``, ``Act.SELL`` as
        ``self.sell(...)``, ``Act.CLOSE`` as ``self.close(col, tag=tag)``, and
        ``Act.CLOSE_AND_BUY`` / ``Act.CLOSE_AND_SELL`` a close followed by the
        buy / sell. With the tables declared, the engine runs them on the bars
        they act on and never calls ``on_bar``, which must do exactly the same
        (``Backtest(..., fast_path=False)`` calls it on every bar; the tests
        hold both to the same fills). One call, in ``init``.
        """
        self._require_init("act_by_position")
        tables = {"flat": flat, "long": long, "short": short}
        if self.start_bar:  # the bars before start_bar are history: no order there, as on_bar's callers ensure
            tables = {name: None if table is None else _from_bar(table, self.start_bar) for name, table in tables.items()}
        self._data._act_by_position(tables, size or AllIn(), tag)

    def _require_init(self, what: str) -> None:
        if not self._in_init:
            raise RuntimeError(f"{what}() is for init(), before the first bar")

    # -- for on_bar ------------------------------------------------------------

    def buy(
        self,
        symbol: int | str = 0,
        quantity: int | None = None,
        *,
        size: Sizer | None = None,
        limit: float | None = None,
        stop: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        tag: str = "",
    ) -> Order:
        """Buy ``quantity`` shares, or as many as ``size`` says (default: all-in).

        ``limit`` / ``stop`` make it a limit / stop order; ``stop_loss`` and
        ``take_profit`` attach a one-cancels-other exit pair to the position
        it opens.
        """
        return self._order(1, symbol, quantity, size, limit, stop, stop_loss, take_profit, tag)

    def sell(
        self,
        symbol: int | str = 0,
        quantity: int | None = None,
        *,
        size: Sizer | None = None,
        limit: float | None = None,
        stop: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        tag: str = "",
    ) -> Order:
        """Sell (or sell short) ``quantity`` shares, or as many as ``size`` says (default: all-in)."""
        return self._order(-1, symbol, quantity, size, limit, stop, stop_loss, take_profit, tag)

    def close(
        self, symbol: int | str = 0, *, limit: float | None = None, stop: float | None = None, tag: str = ""
    ) -> Order:
        """Close the whole position in ``symbol`` (whatever it is when the order fills)."""
        broker = self._broker
        return broker.submit(broker.col(symbol), 0, sizing="close", amount=0.0, limit=limit, stop=stop, tag=tag)

    def order_target_percent(self, symbol: int | str, fraction: float, *, tag: str = "") -> Order:
        """Move the position to ``fraction`` of equity (negative: short) at the next open."""
        if not (math.isfinite(fraction) and -1.0 <= fraction <= 1.0):
            raise ValueError(f"target fraction must be in [-1, 1], got {fraction!r}")
        broker = self._broker
        return broker.submit(broker.col(symbol), 0, sizing="target", amount=float(fraction), tag=tag)

    def cancel(self, order: Order) -> None:
        self._broker.cancel(order)

    def position(self, symbol: int | str = 0) -> int:
        """Shares held in ``symbol`` (negative when short), after this bar's fills."""
        broker = self._broker
        return broker.position(broker.col(symbol))

    def pending_orders(self, symbol: int | str | None = None) -> list[Order]:
        broker = self._broker
        return broker.pending_orders(None if symbol is None else broker.col(symbol))

    @property
    def equity(self) -> float:
        """Cash plus positions marked to the current bar's close."""
        return self._broker.equity()

    @property
    def cash(self) -> float:
        return self._broker.cash

    def _order(
        self,
        side: int,
        symbol: int | str,
        quantity: int | None,
        size: Sizer | None,
        limit: float | None,
        stop: float | None,
        stop_loss: float | None,
        take_profit: float | None,
        tag: str,
    ) -> Order:
        broker = self._broker
        col = broker.col(symbol)
        if quantity is not None:
            if size is not None:
                raise ValueError("give a quantity or a size, not both")
            if isinstance(quantity, bool) or int(quantity) != quantity or quantity < 1:
                raise ValueError(f"quantity must be a positive whole number of shares, got {quantity!r}")
            sizing, amount = "shares", float(quantity)
        else:
            sizing, amount = broker.sized(col, size)
        return broker.submit(
            col,
            side,
            sizing=sizing,
            amount=amount,
            limit=limit,
            stop=stop,
            stop_loss=stop_loss,
            take_profit=take_profit,
            tag=tag,
        )


def _from_bar(table: Any, start: int) -> np.ndarray:
    """``table`` with no action on the bars before ``start``."""
    from backtest.engine import Act

    masked = np.array(table, copy=True)
    masked[:start] = Act.NONE
    return masked
