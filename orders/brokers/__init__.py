"""The broker interface every venue implements, and the choice of broker per account.

``order_submit`` is the only caller of ``Broker.submit``: a broker never sees an order that has
not passed validation and the OrderSafetyGuard, and the order row (with its client_order_id)
is committed before the broker is called, so a crash can never place an order twice.

A real broker integration (``ORDER_MODE=REAL``, ``REAL_BROKER_ADAPTER=package.module.Class``)
subclasses :class:`Broker`, keeps ``real = True`` and implements the seven methods below. The
adapter is constructed with no arguments (it reads its own credentials from the environment).
Fills the venue reports later (resting orders, partial executions) are booked with
``orders.fills.fill_record(order_id=..., quantity=..., price=..., commission=..., executed_at=...,
external_id=<the venue's execution id>)``, which is idempotent on ``external_id``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from orders.importers.base import ExternalExecution
    from orders.models import Account, Order


class BrokerUnavailable(Exception):
    """The venue could not be reached or did not answer: the outcome of the call is unknown."""


class CancelRefused(BrokerUnavailable):
    """The venue answered that the order cannot be cancelled (it filled, expired or is unknown there).

    A subclass of :class:`BrokerUnavailable` so that a caller that only knows that one keeps the
    order open: its final state comes from the venue's reports, never from the refused cancel.
    """


@dataclass(frozen=True)
class BrokerFill:
    quantity: Decimal
    price: Decimal
    commission: Decimal
    executed_at: datetime
    external_id: str = ""


@dataclass(frozen=True)
class BrokerAck:
    """The venue's answer to a submit: accepted (with any immediate fills) or refused with a reason."""

    accepted: bool
    broker_order_id: str = ""
    reason: str = ""
    #: The venue's own code of a refusal (Alpaca: ``"40310000"`` insufficient buying power, ...).
    code: str = ""
    fills: tuple[BrokerFill, ...] = field(default_factory=tuple)
    stop_triggered: bool = False


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    quantity: Decimal
    avg_cost: Decimal


@dataclass(frozen=True)
class BrokerOrder:
    """An open order as the venue lists it (reconciliation compares them with AlphaLoop's open orders)."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str  # Order.BUY / Order.SELL
    quantity: Decimal
    filled_quantity: Decimal
    status: str  # one of Order.OPEN_STATUSES


@dataclass(frozen=True)
class BrokerAccount:
    cash: Decimal
    equity: Decimal
    currency: str = "USD"
    buying_power: Decimal | None = None


class Broker(abc.ABC):
    """One trading venue. Methods may do network I/O: callers never hold a transaction around them."""

    name: str = "broker"
    #: A real venue that moves real money. ``ORDER_MODE=REAL`` accepts only adapters with ``real = True``.
    real: bool = True

    @classmethod
    def check_settings(cls) -> None:
        """Raise ``ImproperlyConfigured`` when the venue's settings (credentials, ...) are missing or wrong."""

    @abc.abstractmethod
    def submit(self, order: Order) -> BrokerAck:
        """Send a committed NEW order. Refusals return ``BrokerAck(accepted=False, reason=...)``;
        raise :class:`BrokerUnavailable` when the outcome is unknown (the order then stays NEW)."""

    @abc.abstractmethod
    def cancel(self, order: Order) -> None:
        """Cancel an open order at the venue and return once the venue confirms it; raise
        :class:`CancelRefused` when the venue says it cannot be cancelled and :class:`BrokerUnavailable`
        when the cancel cannot be confirmed."""

    @abc.abstractmethod
    def status(self, order: Order) -> str:
        """The venue's status of the order, one of ``Order.STATUSES`` (``NEW``: the venue never received it)."""

    @abc.abstractmethod
    def positions(self, account: Account) -> list[BrokerPosition]:
        """The venue's positions of the account."""

    @abc.abstractmethod
    def account(self, account: Account) -> BrokerAccount:
        """The venue's cash and equity of the account."""

    @abc.abstractmethod
    def open_orders(self, account: Account) -> list[BrokerOrder]:
        """The venue's open orders of the account, whoever placed them."""

    @abc.abstractmethod
    def executions(self, account: Account, *, after: datetime) -> list[ExternalExecution]:
        """Every execution at the venue after ``after``, whoever placed the order (the venue's execution ids)."""


def real_broker_class(path: str | None = None) -> type[Broker]:
    """The class named by ``REAL_BROKER_ADAPTER``, checked to be a real :class:`Broker`."""
    path = settings.REAL_BROKER_ADAPTER if path is None else path
    if not path:
        raise ImproperlyConfigured(
            "ORDER_MODE=REAL needs REAL_BROKER_ADAPTER: the dotted path of a class implementing "
            "orders.brokers.Broker (submit, cancel, status, positions, account, open_orders, executions). Refusing to start; "
            "set ORDER_MODE=PAPER to trade on the paper broker."
        )
    try:
        adapter = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"REAL_BROKER_ADAPTER={path!r} cannot be imported: {exc}") from None
    if not (isinstance(adapter, type) and issubclass(adapter, Broker)):
        raise ImproperlyConfigured(f"REAL_BROKER_ADAPTER={path!r} is not a subclass of orders.brokers.Broker")
    if not adapter.real:
        raise ImproperlyConfigured(f"REAL_BROKER_ADAPTER={path!r} is a paper broker (real = False); ORDER_MODE=REAL needs a real venue")
    if getattr(adapter, "__abstractmethods__", None):
        missing = ", ".join(sorted(adapter.__abstractmethods__))
        raise ImproperlyConfigured(f"REAL_BROKER_ADAPTER={path!r} does not implement: {missing}")
    return adapter


def real_broker_check() -> None:
    """Start-up gate (``OrdersConfig.ready``): REAL mode refuses to start without a usable adapter."""
    if settings.ORDER_MODE == "REAL":
        real_broker_class().check_settings()


def routes_to_paper(account: Account) -> bool:
    """Paper accounts always trade on the paper broker; in REAL mode the others go to the venue."""
    return settings.ORDER_MODE != "REAL" or account.is_paper


def broker_for(account: Account) -> Broker:
    if routes_to_paper(account):
        from orders.brokers.paper import PaperBroker

        return PaperBroker()
    return real_broker_class()()
