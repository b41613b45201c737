"""Turn a lost database connection into a clear 503 for every page and API."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("database unavailable: %s", exception)
            return JsonResponse(
                {"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"},
                status=503,
                headers={"Retry-After": "5"},
            )
        return None
