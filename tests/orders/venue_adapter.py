"""A real-broker adapter for the tests: an in-memory venue that records what it was sent.

It keeps ``real = True`` (what ``ORDER_MODE=REAL`` requires) and answers every call the way a
venue would, without a network: submissions are acknowledged (or refused / unreachable when the
class attributes say so) and fills arrive later through ``orders.fills.fill_record``.
"""

from __future__ import annotations

from decimal import Decimal

from orders.brokers import Broker, BrokerAccount, BrokerAck, BrokerOrder, BrokerPosition, BrokerUnavailable


class RecordingVenue(Broker):
    name = "recording-venue"
    submitted: list[str] = []
    cancelled: list[str] = []
    refuse_with: str = ""
    unreachable: bool = False

    def submit(self, order) -> BrokerAck:
        if self.unreachable:
            raise BrokerUnavailable("venue timed out")
        type(self).submitted.append(order.client_order_id)
        if self.refuse_with:
            return BrokerAck(accepted=False, reason=self.refuse_with)
        return BrokerAck(accepted=True, broker_order_id=f"V-{order.client_order_id}")

    def cancel(self, order) -> None:
        type(self).cancelled.append(order.broker_order_id)

    def status(self, order) -> str:
        return order.status

    def positions(self, account) -> list[BrokerPosition]:
        return []

    def account(self, account) -> BrokerAccount:
        return BrokerAccount(cash=Decimal("0"), equity=Decimal("0"))

    def open_orders(self, account) -> list[BrokerOrder]:
        return []

    def executions(self, account, *, after) -> list:
        return []


class NotABroker:
    """Named by a misconfigured REAL_BROKER_ADAPTER in the start-up tests."""
