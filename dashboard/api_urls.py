from django.urls import path

from dashboard.apis import SummaryView

urlpatterns = [
    path("summary", SummaryView.as_view(), name="dashboard-summary"),
]
