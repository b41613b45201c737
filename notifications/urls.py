from django.urls import path

from notifications import views

urlpatterns = [
    path("list", views.NotificationListView.as_view(), name="notification-list"),
    path("<int:pk>/read", views.NotificationReadView.as_view(), name="notification-read"),
    path("read-all", views.NotificationReadAllView.as_view(), name="notification-read-all"),
    path("preferences", views.NotificationPreferencesView.as_view(), name="notification-preferences"),
    path("events", views.LiveEventsView.as_view(), name="notification-events"),
    path("telegram/webhook/<str:secret>", views.TelegramWebhookView.as_view(), name="telegram-webhook"),
]
