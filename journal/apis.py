"""Journal API (spec 3.3), mounted at /api/v1/journal/. Thin: validate, call a service or selector, serialize.

LLM errors come back as 503 ``llm_unavailable`` (timeout, connection) or 502
``llm_bad_response`` (error status, unreadable answer), via the exception handler.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from alphaloop.net import client_ip
from alphaloop.openapi import ErrorSerializer
from alphaloop.scoping import user_account
from journal import selectors, serializers, services
from marketdata.calendar import market_date

LLM_ERRORS = {
    502: OpenApiResponse(ErrorSerializer,
                         description="llm_bad_response: the LLM answered with an error or an unreadable answer"),
    503: OpenApiResponse(ErrorSerializer, description="llm_unavailable: the LLM timed out or could not be reached"),
}


def _query(request, serializer_class) -> dict:
    serializer = serializer_class(data=query_data(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _journals(request, account_id=None):
    account = user_account(request.user, account_id) if account_id else None
    return selectors.journals_for_user(request.user, account=account)


class JournalListApi(generics.ListAPIView):
    serializer_class = serializers.JournalSerializer
    page_size_aliases = ("size",)  # the spec's journal/list?page=1&size=20

    @extend_schema(summary="Journal entries, newest first, with filters",
                   parameters=[serializers.JournalListQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _query(self.request, serializers.JournalListQuerySerializer)
        return selectors.journal_list(journals=_journals(self.request, query.get("account_id")),
                                      symbol=query.get("symbol"), status=query.get("status"))


class JournalCreateApi(APIView):
    @extend_schema(
        summary="Write a journal entry by hand",
        request=serializers.JournalCreateSerializer,
        responses={201: serializers.JournalSerializer},
    )
    def post(self, request):
        body = serializers.JournalCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        account = user_account(request.user, data.pop("account_id", None))
        journal = services.journal_create(account=account, user=request.user, ip_address=client_ip(request), **data)
        return Response(serializers.JournalSerializer(journal).data, status=status.HTTP_201_CREATED)


class JournalDetailApi(APIView):
    @extend_schema(summary="One journal entry", responses=serializers.JournalSerializer)
    def get(self, request, pk: int):
        journal = get_object_or_404(_journals(request), pk=pk)
        return Response(serializers.JournalSerializer(journal).data)

    @extend_schema(
        summary="Fill in or change a journal entry (and move its status)",
        request=serializers.JournalUpdateSerializer,
        responses=serializers.JournalSerializer,
    )
    def patch(self, request, pk: int):
        journal = get_object_or_404(_journals(request), pk=pk)
        body = serializers.JournalUpdateSerializer(data=request.data, partial=True, context={"request": request})
        body.is_valid(raise_exception=True)
        journal = services.journal_update(
            journal=journal, user=request.user, data=body.validated_data, ip_address=client_ip(request)
        )
        return Response(serializers.JournalSerializer(journal).data)


class JournalAiReviewApi(APIView):
    @extend_schema(
        summary="Review the trade with the LLM (rule-based without OPENAI_API_KEY); status becomes REVIEWED",
        request=None,
        responses={200: serializers.AiReviewSerializer, **LLM_ERRORS},
    )
    def post(self, request, pk: int):
        journal = get_object_or_404(_journals(request), pk=pk)
        journal = services.journal_ai_review(journal_id=journal.pk, user=request.user, ip_address=client_ip(request))
        return Response(serializers.AiReviewSerializer(journal).data)


class WeeklyReportApi(APIView):
    @extend_schema(
        summary="The ISO week's closed trades: P&L, win rate, mistakes, emotions, plan adherence, narrative",
        parameters=[serializers.WeeklyReportQuerySerializer],
        responses={200: serializers.WeeklyReportSerializer, **LLM_ERRORS},
    )
    def get(self, request):
        query = _query(request, serializers.WeeklyReportQuerySerializer)
        day = query.get("date") or market_date(timezone.now())
        report = services.journal_weekly_report(journals=_journals(request, query.get("account_id")), day=day)
        return Response(serializers.WeeklyReportSerializer(report).data)


class TagsApi(generics.ListAPIView):
    serializer_class = serializers.TagSerializer

    @extend_schema(summary="The emotion and mistake vocabulary: built-ins plus yours")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.journal_tags_for(self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "user": self.request.user}

    @extend_schema(
        summary="Add an emotion state or a mistake tag to your vocabulary",
        request=serializers.TagCreateSerializer,
        responses={201: serializers.TagSerializer},
    )
    def post(self, request):
        body = serializers.TagCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tag = services.journal_tag_create(user=request.user, ip_address=client_ip(request), **body.validated_data)
        return Response(serializers.TagSerializer(tag, context={"user": request.user}).data,
                        status=status.HTTP_201_CREATED)


class TagDetailApi(APIView):
    @extend_schema(
        summary="Rename, describe, retire or restore a tag (yours; a built-in: staff only)",
        request=serializers.TagUpdateSerializer,
        responses={200: serializers.TagSerializer, 403: OpenApiResponse(ErrorSerializer, description="staff_only")},
    )
    def patch(self, request, tag_id: int):
        tag = get_object_or_404(selectors.journal_tags_for(request.user), pk=tag_id)
        body = serializers.TagUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tag = services.journal_tag_update(tag=tag, user=request.user, ip_address=client_ip(request), **body.validated_data)
        return Response(serializers.TagSerializer(tag, context={"user": request.user}).data)
