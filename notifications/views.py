import hmac

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from alphaloop.contract import query_data
from alphaloop.net import client_ip
from notifications import selectors, serializers, services
from notifications.telegram import telegram_update_handle


class NotificationListView(generics.ListAPIView):
    """The user's notification log, newest first (``?status=``, ``?channel=``, ``?page=``, ``?page_size=``)."""

    serializer_class = serializers.NotificationSerializer

    @extend_schema(parameters=[serializers.NotificationListQuerySerializer], tags=["notifications"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = serializers.NotificationListQuerySerializer(data=query_data(self.request))
        query.is_valid(raise_exception=True)
        return selectors.notifications_list(user=self.request.user, **query.validated_data)


class NotificationReadView(APIView):
    @extend_schema(request=None, responses=serializers.NotificationSerializer, tags=["notifications"])
    def post(self, request, pk: int):
        notification = selectors.notifications_list(user=request.user).filter(pk=pk).first()
        if notification is None:
            raise Http404
        notification = services.notification_mark_read(
            notification=notification, user=request.user, ip_address=client_ip(request)
        )
        return Response(serializers.NotificationSerializer(notification).data)


class NotificationReadAllView(APIView):
    @extend_schema(request=None, responses=serializers.ReadAllResultSerializer, tags=["notifications"])
    def post(self, request):
        updated = services.notifications_mark_all_read(user=request.user, ip_address=client_ip(request))
        return Response({"updated": updated})


class NotificationPreferencesView(APIView):
    """Which channels each event type goes to. PUT changes the event types it names."""

    @extend_schema(responses=serializers.PreferencesSerializer, tags=["notifications"])
    def get(self, request):
        return Response({"preferences": selectors.notification_preferences_get(user=request.user)})

    @extend_schema(
        request=serializers.PreferencesUpdateSerializer, responses=serializers.PreferencesSerializer, tags=["notifications"]
    )
    def put(self, request):
        body = serializers.PreferencesUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        preferences = services.notification_preferences_set(
            user=request.user, preferences=body.validated_data["preferences"], ip_address=client_ip(request)
        )
        return Response({"preferences": preferences})


class LiveEventsView(APIView):
    """Catch-up over HTTP: the user's live events with id > ``after``, oldest first."""

    @extend_schema(parameters=[serializers.EventsQuerySerializer], responses=serializers.EventsResultSerializer,
                   tags=["notifications"])
    def get(self, request):
        query = serializers.EventsQuerySerializer(data=query_data(request))
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        events = selectors.live_events_after(user_id=request.user.pk, after=after, limit=limit + 1)
        page = events[:limit]
        return Response({
            "events": serializers.LiveEventSerializer(page, many=True).data,
            "last_id": page[-1].pk if page else after,
            "has_more": len(events) > limit,
        })


class TelegramWebhookView(APIView):
    """Bot API webhook: no JWT (Telegram calls it); the secret path segment is the credential.

    Refused (401) unless ``TELEGRAM_WEBHOOK_SECRET`` is set and matches. Register it with
    ``setWebhook url=https://<host>/api/v1/notifications/telegram/webhook/<secret>``.
    """

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=serializers.TelegramUpdateSerializer,
        responses={200: serializers.TelegramWebhookResultSerializer, 401: None},
        parameters=[OpenApiParameter("secret", str, OpenApiParameter.PATH)],
        tags=["notifications"],
    )
    def post(self, request, secret: str):
        expected = settings.TELEGRAM_WEBHOOK_SECRET
        if not expected or not hmac.compare_digest(secret.encode(), str(expected).encode()):
            return Response({"detail": "Missing or wrong webhook secret.", "code": "webhook_secret"},
                            status=status.HTTP_401_UNAUTHORIZED)
        update = serializers.TelegramUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        outcome = telegram_update_handle(request.data)
        return Response({"ok": True, "handled": outcome.handled}, status=status.HTTP_200_OK)
