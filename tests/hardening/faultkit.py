"""Fault-injection kit of the hardening tests: real processes on loopback, and two worker plug-ins.

The plug-ins are loaded only by the processes the tests start (``PYTHONPATH`` names this
folder), through the code base's own extension points, so no production module carries a test
hook:

- :class:`StallingBroker` is a broker adapter (``ORDER_MODE=REAL``,
  ``REAL_BROKER_ADAPTER=faultkit.StallingBroker``). Its ``submit`` writes one line per call to
  ``FAULT_BROKER_LOG`` (with whether the order row, found by its client_order_id, was already
  committed), then stalls ``FAULT_BROKER_STALL_SECONDS`` before filling like the paper broker:
  the window in which a test SIGKILLs the worker.
- ``hardening.record_run`` is a task a test schedules with django-celery-beat; each run appends
  its pid and time to ``FAULT_RUN_LOG`` (loaded into a worker with ``-I faultkit``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from celery import shared_task

from orders.brokers import BrokerAck
from orders.brokers.paper import PaperBroker
from orders.models import Order
from tests.waiting import CROSS_PROCESS_SECONDS, wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYTHON = sys.executable


class StallingBroker(PaperBroker):
    name = "stalling-paper"
    real = True

    def submit(self, order: Order) -> BrokerAck:
        stored = Order.objects.filter(account_id=order.account_id, client_order_id=order.client_order_id).exists()
        with open(os.environ["FAULT_BROKER_LOG"], "a") as log:
            log.write(f"submit {order.client_order_id} pid={os.getpid()} stored={stored}\n")
        time.sleep(float(os.environ.get("FAULT_BROKER_STALL_SECONDS", "0")))
        return super().submit(order)


@shared_task(name="hardening.record_run", ignore_result=True)
def record_run() -> None:
    with open(os.environ["FAULT_RUN_LOG"], "a") as log:
        log.write(f"{os.getpid()} {time.time():.3f}\n")


# --- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def database_url_for(database_name: str) -> str:
    """The test run's DATABASE_URL pointed at ``database_name`` (pytest-django's test database)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path=f"/{database_name}").geturl()


def base_env(**extra: str) -> dict[str, str]:
    """Production settings (not the test settings) for a child process, with test secrets."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "DATABASE_TEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="alphaloop.settings",
        SECRET_KEY=os.environ["SECRET_KEY"],
        JWT_SIGNING_KEY=os.environ["JWT_SIGNING_KEY"],
        ALPHALOOP_ENV_FILE="/nonexistent/alphaloop-faults.env",
        MARKET_FEED="none",
        LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Proc:
    """A child process in its own process group, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "ab")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, *, timeout: float) -> None:
        def seen() -> bool:
            if self.popen.poll() is not None and text not in self.output():
                raise AssertionError(f"{self.log.name} exited ({self.popen.returncode}):\n{self.output()[-3000:]}")
            return text in self.output()

        wait_until(seen, timeout=timeout, interval=0.1, what=f"{text!r} in {self.log.name}")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill_group(self) -> None:
        """SIGKILL the process and every child of its group: a machine or container dying."""
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._out.close()

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._out.close()


def celery_worker(env: dict[str, str], log: Path, name: str, *, loglevel: str = "info") -> Proc:
    proc = Proc([PYTHON, "-m", "celery", "-A", "alphaloop", "worker", "-l", loglevel, "-P", "prefork", "-c", "1",
                 "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-I", "faultkit"],
                env, log)
    proc.wait_for_output(" ready.", timeout=CROSS_PROCESS_SECONDS)
    return proc


def celery_beat(env: dict[str, str], log: Path, workdir: Path) -> Proc:
    return Proc([PYTHON, "-m", "celery", "-A", "alphaloop", "beat", "-l", "info",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                 "--pidfile", str(workdir / f"{log.stem}.pid"), "-s", str(workdir / f"{log.stem}.schedule")], env, log)


def web_server(env: dict[str, str], log: Path, port: int) -> Proc:
    """``manage.py serve`` (Daphne) on 127.0.0.1:``port``, without the embedded beat."""
    proc = Proc([PYTHON, "manage.py", "serve", "--no-beat", "--host", "127.0.0.1", "--port", str(port)], env, log)
    wait_until(lambda: port_open(port) or (proc.popen.poll() is not None and _exited(proc)),
               timeout=CROSS_PROCESS_SECONDS, what=f"the server on port {port}")
    return proc


def _exited(proc: Proc) -> bool:
    raise AssertionError(f"the server exited ({proc.popen.returncode}):\n{proc.output()[-3000:]}")


def redis_server(port: int, workdir: Path) -> Proc:
    """A private redis-server on ``port`` (never the shared one): no persistence, foreground."""
    proc = Proc(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(workdir)], dict(os.environ), workdir / f"redis-{port}.log")
    wait_until(lambda: port_open(port), timeout=CROSS_PROCESS_SECONDS, what=f"redis-server on port {port}")
    return proc


class TcpProxy:
    """A loopback TCP forwarder to ``target_port`` that can go down and come back on the same port.

    ``down()`` closes the listener and every forwarded connection (a network outage between the
    app and the service); ``up()`` listens again.
    """

    def __init__(self, target_port: int, port: int | None = None):
        import threading

        self.target_port, self.port = target_port, port or free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept() (close alone does not)
            except OSError:
                pass
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def ws_client_class():
    """The minimal RFC 6455 client of benchmarks/alerts_bench.py."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from alerts_bench import WsClient

    return WsClient
