"""One domain error type and the DRF exception handler that renders it.

Responses: ``{"detail": str, "code": str, ...extra}`` for domain errors, DRF's
``{field: [messages]}`` for serializer validation, and never a 500 for bad input.
"""

from __future__ import annotations

import logging

from axes.exceptions import AxesBackendPermissionDenied
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
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
    elif isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.status_code)
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
    return drf_exception_handler(exc, context)
