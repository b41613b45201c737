"""The alpaca-py clients AlphaLoop opens, configured from the ALPACA_* settings.

Every REST client and stream the product creates comes from here, so the keys, ``ALPACA_PAPER`` and
the four URL overrides hold everywhere (an empty override means the SDK's own endpoint). Two things
the SDK (pinned in requirements.txt) does not do on its own:

* a request timeout (``ALPACA_TIMEOUT_SECONDS``): its ``requests.Session`` has none, so a dead
  network would hang a request forever;
* the trading client never resends by itself: the SDK retries every 429 and 504 blindly, a
  ``POST /v2/orders`` included, which could place an order twice. ``orders.brokers.alpaca`` decides
  what is safe to resend (after looking the order up by its client_order_id).

Streams are created with ``raw_data=True``: the SDK's parsed ``TradeUpdate`` and ``Trade`` models
turn prices and quantities into floats, the raw messages keep Alpaca's exact strings.
"""

from __future__ import annotations

from collections.abc import Callable

from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.stock import StockDataStream
from alpaca.trading.client import TradingClient
from alpaca.trading.stream import TradingStream
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request of a session the configured timeout (connect and read)."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _TradingClient(TradingClient):
    """alpaca-py's TradingClient minus its blind retries (see the module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._retry = 0
        self._retry_codes = []


def alpaca_credentials() -> tuple[str, str]:
    if not (settings.ALPACA_API_KEY and settings.ALPACA_SECRET_KEY):
        raise ImproperlyConfigured("Alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY (the key pair of your paper or live account)")
    return settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY


def _with_timeout(client):
    adapter = _TimeoutAdapter(float(settings.ALPACA_TIMEOUT_SECONDS))
    client._session.mount("https://", adapter)
    client._session.mount("http://", adapter)
    return client


def trading_client() -> TradingClient:
    key, secret = alpaca_credentials()
    return _with_timeout(_TradingClient(api_key=key, secret_key=secret, paper=settings.ALPACA_PAPER,
                                        url_override=settings.ALPACA_TRADING_URL or None))


def historical_data_client() -> StockHistoricalDataClient:
    """Market data over REST (keeps the SDK's bounded retry of 429/504: reads are safe to repeat)."""
    key, secret = alpaca_credentials()
    return _with_timeout(StockHistoricalDataClient(api_key=key, secret_key=secret, raw_data=True,
                                                   url_override=settings.ALPACA_DATA_URL or None))


class _TradingStream(TradingStream):
    """alpaca-py's TradingStream with AlphaLoop's reconnect policy and a hook after every (re)connect.

    The SDK reconnects by itself after a dropped socket, a failed connect or a refused authentication,
    waiting a jittered, doubling delay between attempts (its ``_reconnect_delay``: half to all of
    min x 2^(n-1), capped); the delays here come from ``ALPACA_STREAM_BACKOFF_SECONDS`` and
    ``ALPACA_STREAM_MAX_BACKOFF_SECONDS``. ``on_connect`` runs once the socket is authenticated and the
    ``listen`` request is sent, before any update of that connection is handed on: the trade-stream
    worker catches up there on what happened while it was disconnected.
    """

    def __init__(self, *args, on_connect: Callable[[], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_connect = on_connect
        self._reconnect_min_backoff = float(settings.ALPACA_STREAM_BACKOFF_SECONDS)
        self._reconnect_max_backoff = float(settings.ALPACA_STREAM_MAX_BACKOFF_SECONDS)

    async def _start_ws(self):
        await super()._start_ws()
        if self._on_connect is not None:
            self._on_connect()


def trading_stream(*, on_connect: Callable[[], None] | None = None) -> TradingStream:
    """The ``trade_updates`` stream of the account (raw messages: exact decimal strings).

    A socket that answers no ping for ``ALPACA_STREAM_PING_SECONDS`` (a half-open connection) is dropped
    and reopened; ``on_connect`` is called after every (re)connect (see :class:`_TradingStream`).
    """
    key, secret = alpaca_credentials()
    ping = float(settings.ALPACA_STREAM_PING_SECONDS)
    return _TradingStream(key, secret, paper=settings.ALPACA_PAPER, raw_data=True,
                          url_override=settings.ALPACA_TRADING_STREAM_URL or None, on_connect=on_connect,
                          websocket_params={"ping_interval": ping, "ping_timeout": ping, "max_queue": 1024})


def stock_data_stream() -> StockDataStream:
    """Live trades/quotes/bars; the SDK's default endpoint is the free IEX feed (override for SIP)."""
    key, secret = alpaca_credentials()
    return StockDataStream(key, secret, raw_data=True, url_override=settings.ALPACA_DATA_STREAM_URL or None)
