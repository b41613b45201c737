"""System load on MariaDB + Redis: WebSocket clients and REST clients at once, with the feed ticking.

Starts the production profile on loopback, each piece a process as in the Procfile: gunicorn for
pages and the REST API (``web``), Daphne for the WebSocket (``ws``, ``manage.py serve --no-beat``), a
Celery worker (tick listeners: alerts, resting
paper orders) and the market feed (``manage.py run_feed``, synthetic, every ``--feed-interval``
seconds for the 21 demo symbols), on a throwaway MariaDB database seeded with ``seed_demo`` and
Redis. Then, for ``--duration`` seconds:

- ``--ws-clients`` WebSocket clients on ``/ws/trading`` (the RFC 6455 client of
  ``alerts_bench.py``), each subscribed to ``--symbols-per-client`` symbols: the delivery
  latency of every price tick is its arrival time minus the tick's own timestamp (taken when the
  feed stored it);
- ``--rest-clients`` closed-loop REST clients with a think time, on a mix of the dashboard's
  reads (summary 40 %, positions, order history, quotes, latest signals 15 % each).

Reports requests/s, p50/p99 per endpoint, WebSocket delivery p50/p99, error counts (HTTP
errors, failed or dropped sockets) and each process's CPU time. Loopback only, bounded.
``--layer pubsub`` is a what-if: every process uses channels-redis' Pub/Sub layer instead of
the configured core layer (same settings module trick as ``alerts_bench.py``).

    python benchmarks/load_system.py [--ws-clients 200] [--rest-clients 50] [--duration 60]
        [--think 1.0] [--symbols-per-client 5] [--feed-interval 2] [--http-server gunicorn|daphne]
        [--web-processes 2] [--web-threads 8] [--ws-processes 1] [--layer core|pubsub]
        [--database-url mysql://root@127.0.0.1:3306/] [--redis-url redis://127.0.0.1:6379/8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_bench import PUBSUB_SETTINGS, WsClient  # noqa: E402
from load_dashboard import PYTHON, Endpoint, Site, Stats, cpu_seconds, jwt_token, run_load  # noqa: E402


class SocketStats:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.connected = 0
        self.connect_errors: dict[str, int] = {}
        self.dropped = 0
        self.messages = 0

    def line(self) -> str:
        ordered = sorted(self.latencies_ms)

        def pct(q: float) -> float:
            return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else float("nan")

        errors = ", ".join(f"{k} x{v}" for k, v in self.connect_errors.items()) or "none"
        return (f"{self.connected} sockets, {self.messages} messages, {len(ordered)} ticks timed: delivery p50 "
                f"{pct(50):.1f} ms, p99 {pct(99):.1f} ms, max {max(ordered or [0]):.1f} ms; connect errors: {errors}; "
                f"dropped mid-run: {self.dropped}")


async def socket_client(host: str, port: int, token: str, symbols: list[str], stats: SocketStats, *,
                        gate: asyncio.Semaphore, start_at: float, stop_at: float) -> None:
    try:
        async with gate:
            client = await asyncio.wait_for(WsClient.connect(host, port, f"/ws/trading?token={token}"), 30)
            assert json.loads(await client.receive_text())["event"] == "connected"
            await client.send_text(json.dumps({"action": "subscribe", "symbols": symbols, "channels": []}))
    except (OSError, ConnectionError, asyncio.TimeoutError, AssertionError) as exc:
        kind = type(exc).__name__
        stats.connect_errors[kind] = stats.connect_errors.get(kind, 0) + 1
        return
    stats.connected += 1
    try:
        while (now := time.perf_counter()) < stop_at:
            text = await asyncio.wait_for(client.receive_text(), max(0.1, stop_at - now))
            message = json.loads(text)
            if message.get("channel") != "price":
                continue
            stats.messages += 1
            if time.perf_counter() >= start_at:
                sent = datetime.fromisoformat(message["data"]["timestamp"]).timestamp()
                stats.latencies_ms.append((time.time() - sent) * 1000)
    except asyncio.TimeoutError:
        pass  # the run ended while waiting for the next tick
    except (OSError, ConnectionError, asyncio.IncompleteReadError):
        stats.dropped += 1
    finally:
        client.close()


async def system_load(rest_base: str | list[str], ws_bases: list[str], token: str, symbols: list[str],
                      args: argparse.Namespace) -> tuple[dict[str, Stats], SocketStats]:
    addresses = [base.removeprefix("http://").split(":") for base in ws_bases]
    sockets = SocketStats()
    gate = asyncio.Semaphore(50)
    # Sockets connect first (at most 50 handshakes at a time), then the measured window starts.
    ramp = max(5.0, args.ws_clients / 40)
    start_at = time.perf_counter() + ramp + args.warmup
    stop_at = start_at + args.duration
    socket_tasks = [
        asyncio.create_task(socket_client(addresses[i % len(addresses)][0], int(addresses[i % len(addresses)][1]), token,
                                          random.sample(symbols, args.symbols_per_client), sockets, gate=gate,
                                          start_at=start_at, stop_at=stop_at))
        for i in range(args.ws_clients)
    ]
    await asyncio.sleep(ramp)
    auth = {"Authorization": f"Bearer {token}"}
    mix = [
        (Endpoint("GET /api/v1/dashboard/summary", "GET", "/api/v1/dashboard/summary", headers=auth), 0.40),
        (Endpoint("GET /api/v1/positions", "GET", "/api/v1/positions", headers=auth), 0.15),
        (Endpoint("GET /api/v1/orders/history", "GET", "/api/v1/orders/history", headers=auth), 0.15),
        (Endpoint("GET /api/v1/market/quotes", "GET", "/api/v1/market/quotes", headers=auth), 0.15),
        (Endpoint("GET /api/v1/signals/latest", "GET", "/api/v1/signals/latest", headers=auth), 0.15),
    ]
    rest = await run_load(rest_base, mix, clients=args.rest_clients, duration=args.duration,
                          warmup=max(0.0, start_at - time.perf_counter()), think=args.think)
    await asyncio.gather(*socket_tasks)
    return rest, sockets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ws-clients", type=int, default=200)
    parser.add_argument("--rest-clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a REST client's requests (x0.5-1.5)")
    parser.add_argument("--symbols-per-client", type=int, default=5)
    parser.add_argument("--feed-interval", type=float, default=2.0)
    parser.add_argument("--http-server", choices=("gunicorn", "daphne"), default="gunicorn",
                        help="gunicorn: the Procfile's topology (REST on gunicorn, sockets on Daphne); daphne: both on Daphne")
    parser.add_argument("--web-processes", type=int, default=2, help="gunicorn workers (the Procfile's WEB_WORKERS)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn worker (WEB_THREADS)")
    parser.add_argument("--ws-processes", type=int, default=1,
                        help="Daphne processes; sockets (and REST with --http-server daphne) spread over them")
    parser.add_argument("--layer", choices=("core", "pubsub"), default="core",
                        help="core: the configured RedisChannelLayer; pubsub: RedisPubSubChannelLayer, a what-if")
    parser.add_argument("--database-url", default="mysql://root@127.0.0.1:3306/")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/8")
    args = parser.parse_args()
    if not (0 <= args.ws_clients <= 1000 and 0 <= args.rest_clients <= 500 and 1 <= args.duration <= 600
            and 1 <= args.web_processes <= 8 and 1 <= args.ws_processes <= 8 and 1 <= args.web_threads <= 64):
        parser.error("bounded: at most 1000 sockets, 500 REST clients, 600 seconds, 8 processes of each kind, 64 threads")
    print(f"load_system: {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    site = Site.create("services", database_url=args.database_url, redis_url=args.redis_url)
    try:
        site.env["MARKET_FEED_INTERVAL_SECONDS"] = str(args.feed_interval)
        if args.layer == "pubsub":
            (site.workdir / "bench_pubsub_settings.py").write_text(PUBSUB_SETTINGS)
            site.env["DJANGO_SETTINGS_MODULE"] = "bench_pubsub_settings"
            site.env["PYTHONPATH"] = os.pathsep.join([str(site.workdir), str(Path(__file__).resolve().parent.parent)])
        servers = [site.serve() for _ in range(args.ws_processes)]
        ws_bases = [base for base, _ in servers]
        named = [(f"daphne{i + 1}", proc) for i, (_, proc) in enumerate(servers)]
        if args.http_server == "gunicorn":
            rest_base, gunicorn = site.serve_wsgi(workers=args.web_processes, threads=args.web_threads)
            named.append(("gunicorn", gunicorn))
            topology = (f"REST on gunicorn {rest_base} ({args.web_processes} workers x {args.web_threads} threads), "
                        f"WebSocket on {len(servers)} Daphne")
        else:
            rest_base = ws_bases
            topology = f"REST and WebSocket on {len(servers)} Daphne"
        base = ws_bases[0]
        worker = site.spawn([PYTHON, "-m", "celery", "-A", "alphaloop", "worker", "-l", "warning", "-c", "1"], "worker")
        feed = site.spawn([PYTHON, "manage.py", "run_feed", "--feed", "synthetic", "--all-hours", "--interval", str(args.feed_interval)],
                          "feed")
        token = jwt_token(base)
        symbols = [quote["symbol"] for quote in httpx.get(f"{base}/api/v1/market/quotes", timeout=30,
                                                          headers={"Authorization": f"Bearer {token}"}).json()]
        time.sleep(3)  # the worker and the feed boot
        print(f"[services] {topology}, a Celery worker and the feed; "
              f"{len(symbols)} symbols every {args.feed_interval:g} s; channel layer: {args.layer}")
        named += [("worker", worker), ("feed", feed)]
        before = {name: cpu_seconds(proc.pid) for name, proc in named}
        own = time.process_time()
        rest, sockets = asyncio.run(system_load(rest_base, ws_bases, token, symbols, args))
        cpu = ", ".join(f"{name} {cpu_seconds(proc.pid) - before[name]:.1f} s" for name, proc in named)
        total = sum(len(s.latencies_ms) for s in rest.values())
        errors = sum(s.error_count for s in rest.values())
        print(f"  {args.ws_clients} WebSocket + {args.rest_clients} REST clients (think {args.think:g} s) for "
              f"{args.duration:g} s; CPU: {cpu}, load generator {time.process_time() - own:.1f} s")
        print(f"  REST: {total} requests, {total / args.duration:.1f} req/s, {errors} errors")
        for stats in rest.values():
            print(f"    {stats.line()}")
        print(f"  WebSocket: {sockets.line()}")
    finally:
        site.close()


if __name__ == "__main__":
    main()
