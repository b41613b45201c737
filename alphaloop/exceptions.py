"""One domain error type, the DRF exception handler that renders it, and JSON 400/404/500 pages for /api/.

Every error is JSON: ``{"detail": str, "code": str, ...extra}`` for domain and HTTP errors (401, 403,
404, 405, 415, 429, ...), DRF's ``{field: [messages]}`` for serializer validation, and never a 500
for bad input. ``alphaloop.openapi.AutoSchema`` documents these responses on every operation that can
return them (checked by schemathesis in ``tests/hardening/test_schema_fuzz.py``).
"""

from __future__ import annotations

import logging

from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults as django_defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business rule said no. ``code`` is machine-readable, ``extra`` goes into the body."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str = "invalid", extra: dict | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def exception_handler(exc, context):
    from alphaloop.auth import lockout_response

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, AxesBackendPermissionDenied):
        return lockout_response(context["request"])
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The body is larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).",
                         "code": "request_too_large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, ApplicationError):
        headers = {"Retry-After": "5"} if exc.status_code == status.HTTP_503_SERVICE_UNAVAILABLE else None
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.status_code, headers=headers)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    elif isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response({"detail": "The request could not be stored.", "code": "database_error"}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _error_body(exc, response.data)
    return response


def _error_body(exc: exceptions.APIException, data):
    """DRF's body in the documented shapes: field errors stay a dict, every other error carries a ``code``."""
    if isinstance(exc, exceptions.ValidationError):
        # ``raise ValidationError("msg")`` renders a bare list; give it the field-errors shape.
        return data if isinstance(data, dict) else {"non_field_errors": data}
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        codes = exc.get_codes()
        return {**data, "code": codes if isinstance(codes, str) else exc.default_code}
    return data


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def api_page_not_found(request, exception=None):
    """``handler404``: JSON under /api/ (no route matches, e.g. ``/api/v1/plans/abc``), Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return django_defaults.page_not_found(request, exception)


def api_bad_request(request, exception=None):
    """``handler400``: a request Django refuses before any view (a Host not in ``ALLOWED_HOSTS``, a suspicious
    body): JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return django_defaults.bad_request(request, exception)


def api_server_error(request):
    """``handler500``: JSON under /api/, Django's page elsewhere. Reaching it is a bug (the fuzz test looks for it)."""
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
    return django_defaults.server_error(request)
