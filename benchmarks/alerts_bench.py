"""Alert evaluation speed, and tick-to-WebSocket delivery over Redis.

1. Engine: 10,000 active alerts over 500 symbols (price levels, % moves, RSI and MACD
   crosses), one tick per symbol, evaluated by the pure AlertEngine over preloaded arrays
   (the alert book and each symbol's daily indicator state, built once per session).
   Target: under 50 ms for the batch.
2. Delivery: Daphne on 127.0.0.1 (a free port, a subprocess) with the Redis channel layer;
   200 WebSocket clients (a minimal RFC 6455 client on asyncio streams, below) subscribe to
   one symbol; ticks go through ``marketdata.pipeline.tick_ingest`` in this process and the
   time to each client is measured (p50/p99). Then the same for a user's live events
   (``notifications.events.event_publish``: stored, then pushed to 200 tabs of one user).
   It uses a throwaway SQLite database in a temporary directory; loopback only, bounded.

    python benchmarks/alerts_bench.py [--alerts 10000] [--symbols 500] [--repeat 50]
        [--clients 200] [--ticks 100] [--rate 10] [--redis-url redis://127.0.0.1:6379/12]
        [--layer core|pubsub] [--engine-only]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from alerts.engine import AlertEngine, AlertRule, MarketView, evaluate  # noqa: E402
from alerts.indicators import indicator_states  # noqa: E402

MIX = (("price_above", 0.40), ("price_below", 0.30), ("pct_change", 0.15), ("rsi_cross", 0.10), ("macd_cross", 0.05))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


# --- 1. the engine ------------------------------------------------------------------


def engine_bench(n_alerts: int, n_symbols: int, n_bars: int, repeat: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}" for i in range(n_symbols)]
    closes = pd.DataFrame(
        50.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_bars, n_symbols)), axis=0)),
        index=pd.bdate_range("2025-01-02", periods=n_bars), columns=symbols,
    )
    started = time.perf_counter()
    states = indicator_states(closes)
    state_ms = (time.perf_counter() - started) * 1000
    last = closes.iloc[-1].to_numpy()

    conditions = rng.choice([c for c, _ in MIX], size=n_alerts, p=[w for _, w in MIX])
    rules = []
    for alert_id, condition in enumerate(conditions):
        s = alert_id % n_symbols
        direction = str(rng.choice(["up", "down"]))
        threshold = {
            "price_above": round(last[s] * (1 + rng.uniform(0, 0.05)), 2),
            "price_below": round(last[s] * (1 - rng.uniform(0, 0.05)), 2),
            "pct_change": round(rng.uniform(0.5, 5.0), 2),
            "rsi_cross": round(rng.uniform(30, 70), 2),
            "macd_cross": 0.0,
        }[condition]
        rules.append(AlertRule(alert_id, symbols[s], condition, threshold,
                               "" if condition.startswith("price") else direction))
    started = time.perf_counter()
    engine = AlertEngine(rules)
    book_ms = (time.perf_counter() - started) * 1000
    assert engine.symbols == states.symbols  # the book lists symbols in first-seen order: S000..S499

    batch_ms, vector_ms, fired = [], [], []
    for _ in range(repeat):
        ticks = dict(zip(symbols, last * np.exp(rng.normal(0.0, 0.03, n_symbols))))
        started = time.perf_counter()
        hits = engine.fired(ticks, states)
        batch_ms.append((time.perf_counter() - started) * 1000)
        market = MarketView.build(engine.symbols, ticks, states)
        started = time.perf_counter()
        evaluate(engine.book, market)
        vector_ms.append((time.perf_counter() - started) * 1000)
        fired.append(len(hits))
    print(f"engine: {n_alerts:,} alerts over {n_symbols} symbols, one tick per symbol, {repeat} batches")
    print(f"  batch (prices -> RSI/MACD step -> evaluate -> firings): median {statistics.median(batch_ms):.2f} ms, "
          f"p95 {percentile(batch_ms, 95):.2f} ms, max {max(batch_ms):.2f} ms  (target < 50 ms)")
    print(f"  vector evaluation alone: median {statistics.median(vector_ms):.3f} ms")
    print(f"  alerts fired per batch: median {statistics.median(fired):.0f}")
    print(f"  once per session: daily indicator state {state_ms:.1f} ms ({n_bars} bars), alert book {book_ms:.1f} ms")


# --- 2. delivery ---------------------------------------------------------------------------


class WsClient:
    """Just enough RFC 6455 for a benchmark: handshake, masked text frames out, frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> WsClient:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        return cls(reader, writer)

    async def send_text(self, text: str) -> None:
        await self._send(0x1, text.encode())

    async def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x80 | opcode])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def receive_text(self) -> str:
        while True:
            first, second = await self.reader.readexactly(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0x9:
                await self._send(0xA, payload)
            elif opcode == 0x8:
                raise ConnectionError("server closed the socket")

    def close(self) -> None:
        self.writer.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("daphne did not start listening in time")


async def deliver(clients: list[WsClient], publish, count: int, rate: float, key, settle: float) -> tuple[list[float], int]:
    """Publish ``count`` messages at ``rate``/s from a thread; latency of every (message, client) arrival."""
    import json

    sent: dict = {}
    latencies: list[float] = []
    expected = count * len(clients)

    async def listen(client: WsClient) -> None:
        while len(latencies) < expected:
            message = json.loads(await client.receive_text())
            marker = key(message)
            if marker is not None and marker in sent:
                latencies.append((time.perf_counter() - sent[marker]) * 1000)

    listeners = [asyncio.create_task(listen(c)) for c in clients]

    def publisher() -> None:
        for i in range(count):
            sent[i] = time.perf_counter()
            publish(i)
            time.sleep(1.0 / rate)

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, publisher)
    deadline = loop.time() + settle
    while len(latencies) < expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
    for task in listeners:
        task.cancel()
    return latencies, expected - len(latencies)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to see which side is the bottleneck."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def delivery_run(port: int, token: str, n_clients: int, n_ticks: int, rate: float, user_id: int,
                       server_pid: int) -> None:
    import json
    from decimal import Decimal

    from marketdata.pipeline import tick_ingest
    from notifications.events import event_publish

    limit = asyncio.Semaphore(50)

    async def open_one() -> WsClient:
        async with limit:
            client = await asyncio.wait_for(WsClient.connect("127.0.0.1", port, f"/ws/trading?token={token}"), 10)
            assert json.loads(await client.receive_text())["event"] == "connected"
            await client.send_text(json.dumps({"action": "subscribe", "symbols": ["BENCH"],
                                               "channels": ["price_alert"]}))
            while json.loads(await client.receive_text())["event"] != "subscribed":
                pass
            return client

    started = time.perf_counter()
    clients = await asyncio.gather(*(open_one() for _ in range(n_clients)))
    print(f"delivery: {n_clients} WebSocket clients connected and subscribed in {time.perf_counter() - started:.1f} s")

    def tick(i: int) -> None:
        tick_ingest(symbol="BENCH", price=Decimal(100) + Decimal(i) / 100, source="bench")

    def price_key(message: dict):
        if message.get("channel") != "price":
            return None
        return round((float(message["data"]["price"]) - 100) * 100)

    def event(i: int) -> None:
        event_publish(user_id=user_id, channel="price_alert", event="bench", data={"seq": i})

    def event_key(message: dict):
        return message["data"]["seq"] if message.get("channel") == "price_alert" else None

    for label, publish, key in (("price ticks via tick_ingest -> group 'prices'", tick, price_key),
                                ("user events via event_publish -> group 'user.<id>'", event, event_key)):
        server_cpu, own_cpu, wall = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
        latencies, missing = await deliver(clients, publish, n_ticks, rate, key, settle=15.0)
        wall = time.perf_counter() - wall
        print(f"  {label}: {n_ticks} messages at {rate:g}/s x {n_clients} clients = {len(latencies):,} deliveries, "
              f"{missing} missing")
        if latencies:
            print(f"    tick-to-socket p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                  f"max {max(latencies):.1f} ms")
        print(f"    CPU over {wall:.1f} s: Daphne {cpu_seconds(server_pid) - server_cpu:.1f} s, "
              f"this process (publisher + clients) {time.process_time() - own_cpu:.1f} s")
    for client in clients:
        client.close()


PUBSUB_SETTINGS = """from alphaloop.settings import *  # noqa: F401,F403
from alphaloop.settings import REDIS_URL

CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
"""


def delivery_bench(n_clients: int, n_ticks: int, rate: float, redis_url: str, layer: str) -> None:
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        print(f"delivery: skipped, Redis at {redis_url} does not answer ({exc})")
        return
    workdir = tempfile.mkdtemp(prefix="alphaloop-bench-")
    env = {
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
        "REDIS_URL": redis_url,
        "ALPHALOOP_VAR_DIR": workdir,
        "ALPHALOOP_ENV_FILE": "/nonexistent/alphaloop-bench.env",
        "MARKET_FEED": "none",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
        "JWT_ACCESS_MINUTES": "30",
    }
    if layer == "pubsub":
        # What-if: channels-redis' Pub/Sub layer fans a group message out inside each process.
        Path(workdir, "bench_pubsub_settings.py").write_text(PUBSUB_SETTINGS)
        env["DJANGO_SETTINGS_MODULE"] = "bench_pubsub_settings"
        env["PYTHONPATH"] = os.pathsep.join([workdir, str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        sys.path.insert(0, workdir)
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from marketdata.models import Instrument

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench-ws", password=secrets.token_urlsafe(16))
    Instrument.objects.create(symbol="BENCH", name="Benchmark instrument", is_synthetic=True)
    token = str(AccessToken.for_user(user))

    port = free_port()
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "alphaloop.asgi:application"],
        cwd=str(ROOT), env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, daphne, timeout=30)
        from django.conf import settings

        backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
        print(f"delivery: Daphne pid {daphne.pid} on 127.0.0.1:{port}, {backend} on {redis_url}")
        asyncio.run(asyncio.wait_for(delivery_run(port, token, n_clients, n_ticks, rate, user.pk, daphne.pid),
                                    timeout=180))
    finally:
        daphne.terminate()
        try:
            daphne.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daphne.kill()
        from django.db import connections

        connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second (each to every client)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--layer", choices=("core", "pubsub"), default="core",
                        help="core: the configured RedisChannelLayer; pubsub: RedisPubSubChannelLayer, for comparison")
    parser.add_argument("--engine-only", action="store_true")
    args = parser.parse_args()
    engine_bench(args.alerts, args.symbols, args.bars, args.repeat)
    if not args.engine_only:
        delivery_bench(args.clients, args.ticks, args.rate, args.redis_url, args.layer)


if __name__ == "__main__":
    main()
