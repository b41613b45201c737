from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("session-token", views.session_token, name="session-token"),
    path("equity/", views.equity_page, name="equity"),
    path("journal/", views.journal_page, name="journal"),
    path("journal/<int:pk>/", views.journal_detail, name="journal-detail"),
    path("alerts/", views.alerts_page, name="alerts"),
    path("orders/", views.orders_page, name="orders"),
    path("backtests/", views.backtests_page, name="backtests"),
    path("backtests/<int:pk>/tearsheet.html", views.backtest_tearsheet, {"kind": "html"}, name="backtest-tearsheet"),
    path("backtests/<int:pk>/tearsheet.zip", views.backtest_tearsheet, {"kind": "zip"}, name="backtest-tearsheet-zip"),
    path("signals/", views.signals_page, name="signals"),
]
