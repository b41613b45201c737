"""What the order path needs from the live feed: the symbols it must follow, and a stale feed told to every trader.

``orders_watched_symbols`` is registered with ``marketdata.watch`` (the streaming feed follows open positions,
resting orders and pending plans). ``market_data_stale_warn`` subscribes to ``MarketDataStale``: each account
holder gets one ``risk_warning`` per silent spell (the feed publishes the event once per spell), saying that
market orders are refused (``stale_market_data``, ``orders.guard``) until ticks resume.
"""

from __future__ import annotations

from alphaloop.events import MarketDataStale
from orders.models import Account, Order, Position, TradingPlan
from orders.publish import risk_warning_publish


def orders_watched_symbols() -> set[str]:
    """Symbols of open stock positions (an option's underlying), open orders and pending or active plans."""
    symbols: set[str] = set()
    for symbol, underlying, asset_type in Position.objects.exclude(quantity=0).values_list(
            "symbol", "underlying", "asset_type"):
        symbols.add(underlying if asset_type == Position.OPTION and underlying else symbol)
    symbols.update(Order.objects.filter(status__in=Order.OPEN_STATUSES).values_list("symbol", flat=True))
    symbols.update(TradingPlan.objects.filter(status__in=(TradingPlan.PENDING, TradingPlan.ACTIVE))
                   .values_list("symbol", flat=True))
    return symbols


def market_data_stale_warn(event: MarketDataStale) -> None:
    facts = {"code": "stale_market_data", "feed": event.feed, "silent_seconds": event.silent_seconds,
             "last_tick_at": event.last_tick_at.isoformat() if event.last_tick_at else None}
    for account in Account.objects.all():
        risk_warning_publish(
            account=account, title="Market data is stale",
            body=f"{event.describe}. Market orders are refused (stale_market_data) until ticks resume; "
                 "limit and stop orders may still rest.",
            data=facts,
        )
