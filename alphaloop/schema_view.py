"""``/api/schema/``: the OpenAPI schema the request contract holds every request to, built once per process."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response

from alphaloop.contract import api_schema


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view serving ``alphaloop.contract.api_schema()`` instead of building the schema
    again on each request (its generator is not thread-safe; the contract builds it once, under a lock)."""

    def _get_schema_response(self, request):
        filename = self._get_filename(request, None)
        return Response(data=api_schema(), headers={"Content-Disposition": f'inline; filename="{filename}"'})
