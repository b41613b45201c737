"""Dashboard load: p50/p99 of GET /api/v1/dashboard/summary and of the dashboard page GET /.

Starts its own server on loopback (``manage.py serve``, Daphne, production settings) on a fresh
database seeded with ``seed_demo`` (a year of demo trading for the benchmark's superuser), then
runs N concurrent closed-loop clients per endpoint for a fixed time: each client sends its next
request when the previous answer arrived, after an optional think time. Bounded in time and
count; loopback only. Profiles:

- ``embedded``: SQLite file, in-memory channel layer, no Redis (what ``make run`` serves);
- ``services``: a throwaway MariaDB database (created and dropped here) and Redis.

    python benchmarks/load_dashboard.py [--profile embedded|services|both] [--clients 50]
        [--duration 30] [--think 0] [--database-url mysql://root@127.0.0.1:3306/]
        [--redis-url redis://127.0.0.1:6379/8]

``--think 0`` measures capacity (every client always has a request in flight); ``--think 1``
is 50 users each refreshing about once a second. The load generator runs on the same machine
and shares its CPUs with the server: the script prints both processes' CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
USERNAME, PASSWORD = "bench", "bench-load-password-1"
SETUP = f"""
from django.contrib.auth import get_user_model
from orders.accounts import account_get_or_create_default
user = get_user_model().objects.create_superuser("{USERNAME}", "", "{PASSWORD}")
account_get_or_create_default(user=user)
"""


# --- the site: database, seed, server --------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, its live children (gunicorn's workers) and its reaped ones (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


@dataclass
class Site:
    """A seeded AlphaLoop database and the environment of every process that uses it."""

    profile: str
    workdir: Path
    env: dict[str, str]
    drop_database: str | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    @classmethod
    def create(cls, profile: str, *, database_url: str, redis_url: str, feed: str = "none") -> Site:
        workdir = Path(tempfile.mkdtemp(prefix=f"alphaloop-load-{profile}-"))
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "REDIS_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="alphaloop.settings", SECRET_KEY=secrets.token_urlsafe(50),
            JWT_SIGNING_KEY=secrets.token_urlsafe(50), DEBUG="false", ALPHALOOP_VAR_DIR=str(workdir),
            ALPHALOOP_ENV_FILE="/nonexistent/alphaloop-load.env", LOG_LEVEL="WARNING", MARKET_FEED=feed,
            JWT_ACCESS_MINUTES="60", TRADING_HOURS_ONLY="false", PYTHONUNBUFFERED="1",
        )
        drop = None
        if profile == "embedded":
            env["DATABASE_URL"] = f"sqlite:///{workdir / 'load.sqlite3'}"
        else:
            name = f"alphaloop_load_{os.getpid()}"
            server = urlsplit(database_url)
            _mysql(server, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            drop = name
            env["DATABASE_URL"] = server._replace(path=f"/{name}").geturl()
            env["REDIS_URL"] = redis_url
        site = cls(profile, workdir, env, drop)
        started = time.perf_counter()
        site.manage("migrate", "-v", "0")
        site.manage("shell", "-v", "0", "-c", SETUP)
        site.manage("seed_demo")
        print(f"[{profile}] migrated and seeded in {time.perf_counter() - started:.0f} s ({env['DATABASE_URL'].split(':')[0]})")
        return site

    def manage(self, *args: str) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.processes.append(proc)
        return proc

    def serve(self) -> tuple[str, subprocess.Popen]:
        port = free_port()
        proc = self.spawn([PYTHON, "manage.py", "serve", "--no-beat", "--host", "127.0.0.1", "--port", str(port)],
                          "server")
        return self._await_port(port, proc, "server")

    def serve_wsgi(self, *, workers: int, threads: int) -> tuple[str, subprocess.Popen]:
        """gunicorn on the WSGI entry point, as the Procfile's ``web`` runs it."""
        port = free_port()
        proc = self.spawn([PYTHON, "-m", "gunicorn", "alphaloop.wsgi:application", "-b", f"127.0.0.1:{port}",
                           "--workers", str(workers), "--threads", str(threads)], "gunicorn")
        return self._await_port(port, proc, "gunicorn")

    def _await_port(self, port: int, proc: subprocess.Popen, name: str) -> tuple[str, subprocess.Popen]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {(self.workdir / f'{name}.log').read_text()[-3000:]}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return f"http://127.0.0.1:{port}", proc
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not start listening within 60 s")

    def close(self) -> None:
        import signal

        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        if self.drop_database:
            _mysql(urlsplit(self.env["DATABASE_URL"]), f"DROP DATABASE IF EXISTS `{self.drop_database}`")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _mysql(server, statement: str) -> None:
    import MySQLdb

    connection = MySQLdb.connect(host=server.hostname or "127.0.0.1", port=server.port or 3306,
                                 user=server.username or "root", password=server.password or "")
    try:
        connection.cursor().execute(statement)
    finally:
        connection.close()


def jwt_token(base: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    return response.json()["access"]


def session_cookies(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as browser:
        browser.get("/accounts/login/")
        response = browser.post("/accounts/login/", data={
            "username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"})
        if response.status_code != 302:
            raise RuntimeError(f"browser login failed: {response.status_code}")
        return dict(browser.cookies)


# --- the load -----------------------------------------------------------------------------------------

@dataclass
class Stats:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def line(self) -> str:
        count = len(self.latencies_ms)
        rate = count / self.seconds if self.seconds else 0.0
        errors = ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items())) or "none"
        return (f"{self.name:<34} {count:>7} req {rate:>7.1f} req/s  p50 {self.percentile(50):>7.1f} ms  "
                f"p90 {self.percentile(90):>7.1f}  p99 {self.percentile(99):>7.1f}  max {max(self.latencies_ms or [0]):>7.1f}"
                f"  errors: {errors}")


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    expect: tuple[int, ...] = (200,)


async def client_loop(base: str, pick, stats: dict[str, Stats], *, start_at: float, stop_at: float, think: float,
                      cookies: dict[str, str]) -> None:
    """One closed-loop client: request, wait for the answer, think, repeat; only counted after start_at."""
    async with httpx.AsyncClient(base_url=base, timeout=30, cookies=cookies) as client:
        while (now := time.perf_counter()) < stop_at:
            endpoint: Endpoint = pick()
            began = now
            try:
                response = await client.request(endpoint.method, endpoint.path, headers=endpoint.headers,
                                                json=endpoint.body)
                kind = None if response.status_code in endpoint.expect else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            finished = time.perf_counter()
            if began >= start_at and finished <= stop_at:
                if kind is None:
                    stats[endpoint.name].latencies_ms.append((finished - began) * 1000)
                else:
                    stats[endpoint.name].error(kind)
            if think:
                await asyncio.sleep(think * random.uniform(0.5, 1.5))


async def run_load(base: str | list[str], endpoints: list[tuple[Endpoint, float]], *, clients: int, duration: float,
                   warmup: float, think: float, cookies: dict[str, str] | None = None) -> dict[str, Stats]:
    """Closed-loop clients; with several base URLs (web processes) the clients are spread over them in turn."""
    bases = [base] if isinstance(base, str) else base
    stats = {endpoint.name: Stats(endpoint.name, seconds=duration) for endpoint, _ in endpoints}
    population = [endpoint for endpoint, _ in endpoints]
    weights = [weight for _, weight in endpoints]
    start_at = time.perf_counter() + warmup
    stop_at = start_at + duration
    await asyncio.gather(*(
        client_loop(bases[i % len(bases)], lambda: random.choices(population, weights)[0], stats, start_at=start_at,
                    stop_at=stop_at, think=think, cookies=cookies or {})
        for i in range(clients)))
    return stats


def measure(label: str, base: str, server: subprocess.Popen, endpoints: list[tuple[Endpoint, float]], *,
            clients: int, duration: float, warmup: float, think: float, cookies: dict[str, str]) -> dict[str, Stats]:
    server_cpu, own_cpu = cpu_seconds(server.pid), time.process_time()
    stats = asyncio.run(run_load(base, endpoints, clients=clients, duration=duration, warmup=warmup, think=think,
                                 cookies=cookies))
    print(f"  {label}: {clients} clients x {duration:g} s (after {warmup:g} s warm-up), think {think:g} s; "
          f"CPU: server {cpu_seconds(server.pid) - server_cpu:.1f} s, load generator {time.process_time() - own_cpu:.1f} s")
    for result in stats.values():
        print(f"    {result.line()}")
    return stats


def query_count(site: Site) -> str:
    """The summary's SQL statements for the seeded account (the server runs with DEBUG off; measured here)."""
    code = ("from django.db import connection; from django.test.utils import CaptureQueriesContext; "
            "from dashboard.services import dashboard_summary; from orders.models import Account; "
            f"a = Account.objects.get(user__username='{USERNAME}'); dashboard_summary(account=a)\n"
            "with CaptureQueriesContext(connection) as q: dashboard_summary(account=a)\n"
            "print(len(q.captured_queries))")
    return site.manage("shell", "-v", "0", "-c", code).strip().splitlines()[-1]


def dashboard_profile(profile: str, args: argparse.Namespace) -> None:
    site = Site.create(profile, database_url=args.database_url, redis_url=args.redis_url)
    try:
        base, server = site.serve()
        token, cookies = jwt_token(base), session_cookies(base)
        summary = Endpoint("GET /api/v1/dashboard/summary", "GET", "/api/v1/dashboard/summary",
                           headers={"Authorization": f"Bearer {token}"})
        page = Endpoint("GET / (dashboard page)", "GET", "/")
        first = httpx.get(f"{base}/api/v1/dashboard/summary", headers=summary.headers, timeout=30)
        facts = first.json()
        print(f"[{profile}] server {base} pid {server.pid}; summary: equity {facts['total_equity']}, "
              f"{len(facts['positions'])} positions, {len(facts['pending_actions'])} pending actions, "
              f"{query_count(site)} SQL queries")
        for endpoint in (summary, page):
            measure(f"[{profile}] {endpoint.name}", base, server, [(endpoint, 1.0)], clients=args.clients,
                    duration=args.duration, warmup=args.warmup, think=args.think, cookies=cookies)
    finally:
        site.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("embedded", "services", "both"), default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--think", type=float, default=0.0, help="seconds between a client's requests (x0.5-1.5)")
    parser.add_argument("--database-url", default="mysql://root@127.0.0.1:3306/",
                        help="MariaDB server for the services profile (a database is created and dropped)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/8")
    args = parser.parse_args()
    if not 1 <= args.clients <= 500 or not 1 <= args.duration <= 600:
        parser.error("bounded: 1-500 clients, 1-600 seconds")
    profiles = ("embedded", "services") if args.profile == "both" else (args.profile,)
    print(f"load_dashboard: {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    for profile in profiles:
        dashboard_profile(profile, args)


if __name__ == "__main__":
    main()
