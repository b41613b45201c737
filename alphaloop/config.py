"""Environment parsing that fails loudly, naming the variable at fault."""

from __future__ import annotations

import ipaddress
import os
import warnings
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# The key a DEBUG run falls back to when none is set; never accepted with DEBUG off.
DEBUG_ONLY_SECRET = "insecure-debug-only-key-" + "x" * 40
# Values that must never protect a production deployment (compared stripped, in any case).
DEFAULT_SECRETS = {"", "change-me-please", "changeme", "secret", "django-insecure", DEBUG_ONLY_SECRET}
INSECURE_PREFIXES = ("django-insecure", "insecure-", "change-me", "changeme")
# Django's own rule for SECRET_KEY (check --deploy, security.W009), applied to both keys.
MIN_SECRET_LENGTH = 50
MIN_SECRET_CHARACTERS = 5
DEFAULT_SECRET = "is missing or a default value"


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def read_env_file(path: Path) -> None:
    """Load KEY=VALUE lines from ``path`` without overriding the real environment."""
    if path.is_file():
        environ.Env.read_env(str(path), overwrite=False)


def get_bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def get_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def get_decimal(name: str, default: str, *, minimum: str | None = None, maximum: str | None = None) -> Decimal:
    raw = _raw(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite():
        raise ImproperlyConfigured(f"{name} must be a finite number, got {raw!r}")
    if minimum is not None and value < Decimal(minimum):
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > Decimal(maximum):
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def get_choice(name: str, default: str, *, choices: tuple[str, ...]) -> str:
    raw = _raw(name)
    if raw is None:
        return default
    if raw not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def get_time(name: str, default: str) -> time:
    raw = _raw(name) or default
    try:
        hours, minutes = (int(part) for part in raw.split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be HH:MM (24h), got {raw!r}") from None


def get_networks(name: str, default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    raw = _raw(name)
    items = default if raw is None else [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return [ipaddress.ip_network(item, strict=False) for item in items]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a comma-separated list of IPs or CIDRs: {exc}") from None


def database(url: str) -> dict:
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine.endswith("mysql"):
        config.setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "connect_timeout": 5})
        config["OPTIONS"].setdefault("isolation_level", "read committed")
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
        if os.environ.get("DATABASE_TEST_NAME"):
            config["TEST"]["NAME"] = os.environ["DATABASE_TEST_NAME"]
    elif engine.endswith("sqlite3"):
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the embedded beat thread and the web requests read while one writes.
        config["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    # 0 (a connection per request) under ASGI: Django runs each request's sync code in a thread of
    # its own, so a kept connection would be stranded with it. The WSGI entry point, whose threads
    # live on, sets 60 (see alphaloop/wsgi.py).
    config["CONN_MAX_AGE"] = get_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
    config["CONN_HEALTH_CHECKS"] = config["CONN_MAX_AGE"] > 0
    return config


def secret_weakness(value: str) -> str | None:
    """Why ``value`` must not sign anything in production, or None when it may."""
    normalized = value.strip().lower()
    if normalized in DEFAULT_SECRETS:
        return DEFAULT_SECRET
    if normalized.startswith(INSECURE_PREFIXES):
        return "starts with a known insecure prefix"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is {len(value)} characters long; at least {MIN_SECRET_LENGTH} are needed"
    if len(set(value)) < MIN_SECRET_CHARACTERS:
        return f"has fewer than {MIN_SECRET_CHARACTERS} distinct characters"
    return None


def jwt_signing_key() -> str:
    """JWT_SIGNING_KEY, or the spec's name for it, JWT_SECRET_KEY (both set: they must agree)."""
    ours, spec = env.str("JWT_SIGNING_KEY", default=""), env.str("JWT_SECRET_KEY", default="")
    if ours and spec and ours != spec:
        raise ImproperlyConfigured(
            "JWT_SIGNING_KEY and JWT_SECRET_KEY (its alias) are both set and differ: set one of them")
    return ours or spec


def require_secrets(*, debug: bool, secret_key: str, jwt_signing_key: str) -> None:
    """Refuse to start with DEBUG off on a missing, default or weak key, or one key for both jobs.

    With DEBUG on (where JWT_SIGNING_KEY falls back to SECRET_KEY, and both to DEBUG_ONLY_SECRET)
    a default or weak key only warns, with the spec's startup warning.
    """
    if debug:
        # The spec calls the JWT key JWT_SECRET_KEY; its warning keeps that name.
        for name, value in (("SECRET_KEY", secret_key), ("JWT_SECRET_KEY", jwt_signing_key or secret_key)):
            reason = secret_weakness(value)
            if reason == DEFAULT_SECRET:
                warnings.warn(f"⚠️ {name} is default value! Change it in production!", stacklevel=2)
            elif reason is not None:
                warnings.warn(f"⚠️ {name} {reason}, which DEBUG=false refuses. Change it in production!", stacklevel=2)
        return
    for name, value in (("SECRET_KEY", secret_key), ("JWT_SIGNING_KEY", jwt_signing_key)):
        reason = secret_weakness(value)
        if reason is not None:
            raise ImproperlyConfigured(
                f"{name} {reason}. Set {name} to a random string of at least {MIN_SECRET_LENGTH} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
                "or set DEBUG=true for local development only."
            )
    if jwt_signing_key.strip() == secret_key.strip():
        raise ImproperlyConfigured(
            "JWT_SIGNING_KEY equals SECRET_KEY: with DEBUG off each needs its own random key, "
            "so that one leaked key does not give away the other."
        )
