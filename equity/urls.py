from django.urls import path

from equity import apis

urlpatterns = [
    path("snapshot", apis.SnapshotCreateApi.as_view(), name="equity-snapshot"),
    path("snapshots", apis.SnapshotListApi.as_view(), name="equity-snapshots"),
    path("pnl-attribution", apis.PnlAttributionApi.as_view(), name="equity-pnl-attribution"),
    path("stats", apis.StatsApi.as_view(), name="equity-stats"),
    path("monthly-returns", apis.MonthlyReturnsApi.as_view(), name="equity-monthly-returns"),
]
