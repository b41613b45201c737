"""``GET /api/health``: which backing services answer, for load balancers, monitors and the dashboard.

No credentials needed and nothing sensitive in the answer: component states only (no hosts,
versions or error texts). 200 while the database answers (Redis down is *degraded*: the REST
API works, live WebSocket pushes and the task queue do not); 503 when the database does not.

- ``database``: ``ok`` | ``down`` (a ``SELECT 1``);
- ``redis``: ``ok`` | ``down`` | ``not_configured`` (embedded default: no Redis at all);
- ``websocket``: ``ok`` | ``degraded`` (the channel layer is Redis and Redis is down: sockets
  cannot join their groups and live events wait in the store until clients reconnect);
- ``tasks``: ``inline`` (eager, embedded default) | ``ok`` | ``down`` (the Celery broker).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 1.0


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        logger.warning("health: database down: %s", exc)
        return "down"


def redis_state(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
        return "ok"
    except redis.RedisError as exc:
        logger.warning("health: redis down: %s", exc)
        return "down"
    finally:
        client.close()


def broker_state(redis: str) -> str:
    from alphaloop.celery import app

    if app.conf.task_always_eager:
        return "inline"
    if settings.REDIS_URL and app.conf.broker_url == settings.REDIS_URL:
        return redis  # the broker is the Redis just probed
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)
        return "ok"
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.warning("health: task broker down: %s", exc)
        return "down"


def health_report() -> dict[str, str]:
    redis = redis_state(settings.REDIS_URL) if settings.REDIS_URL else "not_configured"
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    websocket = "degraded" if "redis" in layer.lower() and redis != "ok" else "ok"
    tasks = broker_state(redis)
    database = database_state()
    if database != "ok":
        status = "down"
    elif "down" in (redis, tasks) or websocket != "ok":
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "database": database, "redis": redis, "websocket": websocket, "tasks": tasks}


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    database = serializers.ChoiceField(choices=["ok", "down"])
    redis = serializers.ChoiceField(choices=["ok", "down", "not_configured"])
    websocket = serializers.ChoiceField(choices=["ok", "degraded"])
    tasks = serializers.ChoiceField(choices=["ok", "down", "inline"])


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(tags=["health"], summary="Which backing services answer (no credentials needed)",
                   responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request):
        report = health_report()
        return Response(report, status=503 if report["database"] != "ok" else 200,
                        headers={"Cache-Control": "no-store"})
