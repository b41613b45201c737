"""One shape for every list under /api/v1: ``{count, next, previous, results}``, paged by ``?page=&page_size=``.

``Pagination`` is the project's ``DEFAULT_PAGINATION_CLASS``: every list view is a ``ListAPIView``
and answers one page of ``PAGE_SIZE`` rows (at most ``MAX_PAGE_SIZE``); ``next`` and ``previous`` are
the URLs of the neighbouring pages, or null. A page past the last one is empty (``count`` still says
how many rows there are), not an error, so a client that pages while rows disappear never sees a 404.

Where the design spec names the page size differently (``journal/list?page=1&size=20``,
``alerts/history?limit=20``, ``orders/history?limit=20``) the view lists that name in
``page_size_aliases``: it is documented on that operation and read as ``page_size``.
"""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000


def _bounded_int(name: str, raw: str, maximum: int) -> int:
    if not re.fullmatch(r"-?\d{1,19}", raw, re.ASCII):
        raise ValidationError({name: ["A valid integer is required."]})
    value = int(raw)
    if value < 1:
        raise ValidationError({name: ["Ensure this value is greater than or equal to 1."]})
    if value > maximum:
        raise ValidationError({name: [f"Ensure this value is less than or equal to {maximum}."]})
    return value


class Pagination(pagination.PageNumberPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def size_params(self, view) -> tuple[str, ...]:
        """The query names of the page size on ``view``: ``page_size`` first, then the spec's spelling, if any."""
        return (self.page_size_query_param, *getattr(view, "page_size_aliases", ()))

    def get_page_size(self, request) -> int:
        for name in self.size_params(getattr(self, "view", None)):
            if name in request.query_params:
                return _bounded_int(name, request.query_params[name], self.max_page_size)
        return self.page_size

    def paginate_queryset(self, queryset, request, view=None):
        self.request, self.view = request, view
        size = self.get_page_size(request)
        self.number = _bounded_int(self.page_query_param, request.query_params.get(self.page_query_param, "1"), MAX_PAGE)
        self.paginator = Paginator(queryset, size)
        if self.number > self.paginator.num_pages:
            return []
        return list(self.paginator.page(self.number))

    def _page_link(self, number: int) -> str:
        url = self.request.build_absolute_uri()
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_next_link(self) -> str | None:
        return self._page_link(self.number + 1) if self.number < self.paginator.num_pages else None

    def get_previous_link(self) -> str | None:
        # Past the end, "previous" is the last page.
        return self._page_link(min(self.number - 1, self.paginator.num_pages)) if self.number > 1 else None

    def get_paginated_response(self, data) -> Response:
        return Response({"count": self.paginator.count, "next": self.get_next_link(),
                         "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        body = super().get_paginated_response_schema(schema)
        body["required"] = ["count", "next", "previous", "results"]
        body["properties"]["count"]["description"] = "How many rows the whole list has (all pages)."
        body["properties"]["next"]["description"] = "The next page's URL; null on the last page."
        body["properties"]["previous"]["description"] = "The previous page's URL; null on the first page."
        return body

    def get_schema_operation_parameters(self, view) -> list[dict]:
        page = {"name": self.page_query_param, "required": False, "in": "query",
                "description": "Page number, from 1. A page past the last one is empty.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}
        sizes = []
        for name in self.size_params(view):
            alias = "" if name == self.page_size_query_param else f" (the design spec's name for `{self.page_size_query_param}`)"
            sizes.append({"name": name, "required": False, "in": "query",
                          "description": f"Rows per page{alias}: default {self.page_size}, at most {self.max_page_size}.",
                          "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}})
        return [page, *sizes]
