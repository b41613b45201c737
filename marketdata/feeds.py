"""Market feeds: every batch of ticks goes through ``marketdata.pipeline.ticks_ingest``.

A real provider is one class: subclass ``Feed`` and implement ``run(emit, stop)`` (push
streams, as ``AlpacaFeed``), or ``PollingFeed.batch()`` (pull APIs). ``MARKET_FEED`` picks the built-in one.
"""

from __future__ import annotations

import abc
import logging
import math
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from alphaloop.money import CENT
from marketdata import calendar
from marketdata.models import Bar, Instrument
from marketdata.selectors import latest_prices

logger = logging.getLogger(__name__)

Quotes = list[tuple[str, Decimal, int]]
Emit = Callable[[Quotes], None]
SESSION_SECONDS = 6.5 * 3600
DEFAULT_DAILY_VOL = 0.015  # a symbol with fewer than 10 daily returns to measure
CLOSED_RECHECK_SECONDS = 60.0


class Feed(abc.ABC):
    name = "feed"

    @abc.abstractmethod
    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Call ``emit([(symbol, price, volume), ...])`` for each batch of ticks until ``stop`` is set."""


class PollingFeed(Feed):
    """Emits one batch of ticks every ``interval`` seconds."""

    interval: float = 1.0

    @abc.abstractmethod
    def batch(self) -> Quotes:
        """The next ticks: (symbol, price, volume)."""

    def run(self, emit: Emit, stop: threading.Event) -> None:
        while not stop.is_set():
            if quotes := self.batch():
                emit(quotes)
            stop.wait(self.wait_seconds())

    def wait_seconds(self) -> float:
        """How long to wait before the next batch."""
        return self.interval


class SyntheticFeed(PollingFeed):
    """A random walk from the latest price that follows the NYSE session and moves like the stock.

    It ticks only while the regular session is open (nothing pre-market, after hours, at night, on
    weekends or holidays: alerts, resting orders and the dashboard's "Today" stand still with the
    market). Each step's volatility is the symbol's daily volatility (the std of its last 60 daily
    log returns) scaled to the market time since the previous tick:
    ``sigma_step = sigma_daily * sqrt(elapsed / 6.5 h)``, so a session moves as much as a day does
    (SPY about 1 %, NVDA about 3 %) and the feed runs in real time, whatever its tick interval.

    ``all_hours`` (``run_feed --all-hours``, for load tests) ticks around the clock at the same
    per-second volatility; the feed logs that prices then move while orders are refused.
    """

    name = "synthetic"

    def __init__(self, *, symbols: list[str] | None = None, interval: float = 2.0, seed: int | None = None,
                 clock: Callable[[], datetime] = timezone.now, all_hours: bool = False):
        self.interval = interval
        self.clock = clock
        self.all_hours = all_hours
        if all_hours:
            logger.warning("synthetic feed ticking at all hours: prices move outside the NYSE session, "
                           "when orders are refused (TRADING_HOURS_ONLY)")
        self.symbols = symbols or list(Instrument.objects.filter(active=True).values_list("symbol", flat=True))
        self.rng = np.random.default_rng(seed)
        self.prices = {s: float(p) for s, p in latest_prices(self.symbols).items()}
        self.symbols = [s for s in self.symbols if s in self.prices]
        measured = self._daily_vol()
        self.daily_vol = {s: measured.get(s, DEFAULT_DAILY_VOL) for s in self.symbols}
        self.last_tick_at: datetime | None = None
        self._hours: dict[date, tuple[datetime, datetime] | None] = {}

    def _regular_hours(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The regular session of ``at``'s market date (cached per date), None on a weekend or holiday."""
        day = timezone.localtime(at, calendar.market_tz()).date()
        if day not in self._hours:
            self._hours[day] = calendar.session_open_close(day) if calendar.is_session(day) else None
        return self._hours[day]

    def _open_now(self, now: datetime) -> datetime | None:
        """The open of the session running at ``now``, None while the market is closed."""
        hours = self._regular_hours(now)
        return hours[0] if hours is not None and hours[0] <= now < hours[1] else None

    def wait_seconds(self) -> float:
        now = self.clock()
        if self.all_hours or self._open_now(now) is not None:
            return self.interval
        until_open = (calendar.session_state(now).next_open - now).total_seconds()
        return max(min(until_open, CLOSED_RECHECK_SECONDS), min(self.interval, CLOSED_RECHECK_SECONDS))

    def _daily_vol(self) -> dict[str, float]:
        vols = {}
        for symbol in self.symbols:
            closes = list(
                Bar.objects.filter(instrument__symbol=symbol).order_by("-date").values_list("close", flat=True)[:61]
            )
            if len(closes) > 10:
                returns = np.diff(np.log(np.array(closes[::-1], dtype=float)))
                vols[symbol] = float(returns.std(ddof=1))
        return vols

    def _market_seconds(self, now: datetime) -> float | None:
        """Seconds of trading since the previous tick; None while the market is closed."""
        opens = None if self.all_hours else self._open_now(now)
        if opens is None and not self.all_hours:
            return None
        if self.last_tick_at is None:  # the first tick: one interval's move (none at the very open)
            return float(self.interval) if opens is None else min(float(self.interval), (now - opens).total_seconds())
        # Market time only: after a tick yesterday, today's moves count from today's open.
        return (now - (self.last_tick_at if opens is None else max(self.last_tick_at, opens))).total_seconds()

    def batch(self) -> Quotes:
        now = self.clock()
        elapsed = self._market_seconds(now)
        if elapsed is None or (elapsed <= 0 and self.last_tick_at is not None):
            return []
        self.last_tick_at = now
        step = math.sqrt(elapsed / SESSION_SECONDS)
        shocks = self.rng.standard_normal(len(self.symbols))
        ticks = []
        for symbol, shock in zip(self.symbols, shocks):
            vol = self.daily_vol[symbol] * step
            self.prices[symbol] *= math.exp(vol * shock - 0.5 * vol * vol)
            price = Decimal(str(self.prices[symbol])).quantize(CENT)
            ticks.append((symbol, max(price, CENT), int(self.rng.integers(100, 5000))))
        return ticks


class ReplayFeed(PollingFeed):
    """Replays daily bars as ticks: each session becomes open -> low/high -> high/low -> close.

    The path visits the extreme nearer the open first (low first on up days). At ``speed`` x real
    time a 6.5-hour session takes 23,400 / speed seconds; after the last bar it starts again.
    """

    name = "replay"
    POINTS_PER_SESSION = 4

    def __init__(self, *, symbols: list[str] | None = None, start: date | None = None, speed: float = 60.0):
        self.interval = SESSION_SECONDS / speed / self.POINTS_PER_SESSION
        bars = Bar.objects.filter(date__gte=start or date.today() - timedelta(days=365))
        if symbols:
            bars = bars.filter(instrument__symbol__in=symbols)
        rows = bars.order_by("date", "instrument__symbol").values_list(
            "date", "instrument__symbol", "open", "high", "low", "close", "volume"
        )
        self.sessions: list[list[tuple]] = []
        current = None
        for row in rows:
            if row[0] != current:
                self.sessions.append([])
                current = row[0]
            self.sessions[-1].append(row[1:])
        self.position = 0

    @staticmethod
    def _path(open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> list[Decimal]:
        return [open_, low, high, close] if close >= open_ else [open_, high, low, close]

    def batch(self) -> Quotes:
        if not self.sessions:
            return []
        session_no, point = divmod(self.position, self.POINTS_PER_SESSION)
        self.position = (self.position + 1) % (len(self.sessions) * self.POINTS_PER_SESSION)
        return [
            (symbol, self._path(o, h, l, c)[point], int(volume) // self.POINTS_PER_SESSION)
            for symbol, o, h, l, c, volume in self.sessions[session_no]
        ]


class AlpacaFeed(Feed):
    """Alpaca's market-data stream: real trades of the symbols that matter, in batches through the pipeline.

    It subscribes to the trades (last sales) of ``marketdata.watch.watched_symbols()`` (open positions,
    resting orders, pending plans, active alerts, the dashboard's watchlist and the benchmark), re-reads that
    set every ``refresh`` seconds and subscribes/unsubscribes the difference on the open socket. Trades
    arriving within ``interval`` seconds make one batch: each symbol's last price and the volume it traded.
    The stream runs in its own thread (alpaca-py's asyncio loop); alpaca-py reconnects a dropped socket with
    jittered exponential backoff (1 s doubling to 30 s) and re-subscribes every symbol on the new one.

    A watchdog in the same loop publishes ``MarketDataStale`` once per silent spell
    (``marketdata.selectors.feed_staleness``: no tick for ``FEED_STALE_SECONDS`` in the session); the order
    guard reads the same staleness and refuses market orders until ticks resume.
    """

    name = "alpaca"

    def __init__(self, *, interval: float, refresh: float, symbols: Callable[[], set[str]] | None = None,
                 stream_factory: Callable[[], object] | None = None, clock: Callable[[], datetime] = timezone.now):
        from alphaloop.alpaca_clients import stock_data_stream
        from marketdata.watch import watched_symbols

        self.interval, self.refresh, self.clock = interval, refresh, clock
        self.symbols = symbols or watched_symbols
        self.stream_factory = stream_factory or stock_data_stream
        self.stream = None
        self.thread: threading.Thread | None = None
        self.subscribed: set[str] = set()
        self.pending: dict[str, tuple[Decimal, int]] = {}
        self.lock = threading.Lock()
        self.warned = False

    async def _on_trade(self, trade: dict) -> None:
        """One trade from the stream (in the stream's thread): kept until the next batch."""
        try:
            price = trade["p"]
            price = Decimal(repr(price)) if isinstance(price, float) else Decimal(str(price))
            size = int(trade.get("s") or 0)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            logger.warning("alpaca feed: unreadable trade %r", trade)
            return
        with self.lock:
            volume = self.pending.get(trade["S"], (price, 0))[1]
            self.pending[trade["S"]] = (price, volume + size)

    def _drain(self) -> Quotes:
        with self.lock:
            pending, self.pending = self.pending, {}
        return [(symbol, price, volume) for symbol, (price, volume) in sorted(pending.items())]

    def _follow(self) -> None:
        """Subscribe to the symbols that now matter and drop the ones that no longer do."""
        wanted = self.symbols()
        added, removed = sorted(wanted - self.subscribed), sorted(self.subscribed - wanted)
        if self.stream is None:
            if not wanted:
                return  # alpaca-py spins until a first subscription: open the stream once there is one
            self.stream = self.stream_factory()
        try:
            if removed:
                self.stream.unsubscribe_trades(*removed)
                self.subscribed.difference_update(removed)
            if added:
                self.stream.subscribe_trades(self._on_trade, *added)
                self.subscribed.update(added)
        except Exception as exc:  # the socket is down: alpaca-py re-subscribes its handlers when it is back
            logger.warning("alpaca feed: subscription change failed (%s); alpaca-py resubscribes on reconnect", exc)
            self.subscribed.update(added)
        if added or removed:
            logger.info("alpaca feed: +%s -%s, following %d symbols", ",".join(added) or "0",
                        ",".join(removed) or "0", len(self.subscribed))
        if self.thread is None:
            self.thread = threading.Thread(target=self.stream.run, name="alpaca-data-stream", daemon=True)
            self.thread.start()

    def _watch(self, now: datetime) -> None:
        """Publish ``MarketDataStale`` once when the feed goes silent; re-arm when ticks are back."""
        from alphaloop import bus
        from alphaloop.events import MarketDataStale
        from marketdata.selectors import feed_staleness

        stale = feed_staleness(now)
        if stale is None:
            self.warned = False
        elif not self.warned:
            self.warned = True
            logger.warning("alpaca feed: %s", stale.describe())
            bus.publish(MarketDataStale(feed=self.name, last_tick_at=stale.last_tick_at,
                                        silent_seconds=stale.silent_seconds, describe=stale.describe(), ts_event=now))

    def run(self, emit: Emit, stop: threading.Event) -> None:
        next_refresh = self.clock()
        try:
            while not stop.is_set():
                now = self.clock()
                if now >= next_refresh:
                    self._follow()
                    next_refresh = now + timedelta(seconds=self.refresh)
                if self.thread is not None and not self.thread.is_alive():
                    raise RuntimeError("the Alpaca data stream ended")
                if quotes := self._drain():
                    emit(quotes)
                self._watch(self.clock())
                stop.wait(self.interval)
        finally:
            self._close()

    def _close(self) -> None:
        if self.stream is not None and self.thread is not None and self.thread.is_alive():
            try:
                self.stream.stop()
            except Exception:
                logger.exception("alpaca feed: the stream did not stop cleanly")
            self.thread.join(10)


def feed_build(kind: str, **options) -> Feed:
    if kind == "synthetic":
        return SyntheticFeed(  # in real time: it follows the live session (MARKET_FEED_SPEED is the replay's)
            interval=float(options.get("interval") or settings.MARKET_FEED_INTERVAL_SECONDS),
            symbols=options.get("symbols"),
            seed=options.get("seed"),
            all_hours=bool(options.get("all_hours")),
        )
    if kind == "replay":
        return ReplayFeed(symbols=options.get("symbols"), start=options.get("start"),
                          speed=float(options.get("speed") or settings.MARKET_FEED_SPEED))
    if kind == "alpaca":
        return AlpacaFeed(interval=float(options.get("interval") or settings.MARKET_FEED_INTERVAL_SECONDS),
                          refresh=float(settings.MARKET_FEED_REFRESH_SECONDS))
    raise ValueError(f"unknown feed {kind!r} (synthetic, replay, alpaca)")


def pipeline_emit(quotes: Quotes) -> None:
    from marketdata.pipeline import ticks_ingest

    close_old_connections()
    ticks_ingest(quotes, source="feed")


class FeedRunner:
    """Runs a feed in a daemon thread; a failing tick is logged and the feed carries on."""

    def __init__(self, feed_factory: Callable[[], Feed], emit: Emit = pipeline_emit):
        self.feed_factory = feed_factory
        self.emit = emit
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="market-feed", daemon=True)

    def _safe_emit(self, quotes: Quotes) -> None:
        try:
            self.emit(quotes)
        except Exception:
            logger.exception("a batch of %d ticks failed", len(quotes))
            self.stop_event.wait(1.0)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                close_old_connections()
                feed = self.feed_factory()
                logger.info("market feed %s started", feed.name)
                feed.run(self._safe_emit, self.stop_event)
            except Exception:
                logger.exception("market feed crashed; restarting in 5 s")
                self.stop_event.wait(5.0)
        close_old_connections()

    def start(self) -> FeedRunner:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


def start_embedded_feed(kind: str) -> FeedRunner:
    return FeedRunner(lambda: feed_build(kind)).start()
