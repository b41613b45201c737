from django.urls import path

from alerts import views

urlpatterns = [
    path("list", views.AlertListView.as_view(), name="alert-list"),
    path("create", views.AlertCreateView.as_view(), name="alert-create"),
    path("history", views.AlertHistoryView.as_view(), name="alert-history"),
    path("<int:pk>", views.AlertDetailView.as_view(), name="alert-detail"),
]
