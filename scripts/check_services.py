"""Exit 0 when the MariaDB and Redis of the services test run answer, 1 (with the reason) otherwise."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse


def reachable(url: str, default_port: int) -> str | None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port} ({exc})"


def main() -> int:
    problems = []
    db = os.environ.get("DATABASE_URL_TEST", "mysql://root@127.0.0.1:3306/test")
    redis = os.environ.get("REDIS_URL_TEST", "redis://127.0.0.1:6379/15")
    if (why := reachable(db, 3306)) is not None:
        problems.append(f"MariaDB at {why}")
    if (why := reachable(redis, 6379)) is not None:
        problems.append(f"Redis at {why}")
    if problems:
        print("services unreachable: " + "; ".join(problems))
        return 1
    try:
        import MySQLdb

        parsed = urlparse(db)
        MySQLdb.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                        passwd=parsed.password or "", connect_timeout=3).close()
    except Exception as exc:  # any driver error means "not usable"
        print(f"services unreachable: MariaDB login failed ({exc})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
