from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from alphaloop.auth import TokenObtainView, TokenRefreshThrottledView, WsTicketView, login_throttled
from alphaloop.health import HealthView
from alphaloop.schema_view import SchemaView
from dashboard.live_compare_api import LiveCompareView

api_v1 = [
    path("auth/token", TokenObtainView.as_view(), name="token_obtain"),
    path("auth/token/refresh", TokenRefreshThrottledView.as_view(), name="token_refresh"),
    path("auth/ws-ticket", WsTicketView.as_view(), name="ws_ticket"),
    path("", include("orders.urls")),
    path("market/", include("marketdata.urls")),
    path("", include("factors.urls")),
    # Reads the account's fills, which the backtest app may not: the dashboard app serves it (README).
    path("backtest/live-compare", LiveCompareView.as_view(), name="backtest-live-compare"),
    path("backtest/", include("backtest.urls")),
    path("alerts/", include("alerts.urls")),
    path("equity/", include("equity.urls")),
    path("journal/", include("journal.urls")),
    path("notifications/", include("notifications.urls")),
    path("dashboard/", include("dashboard.api_urls")),
]

urlpatterns = [
    # Both login forms share the per-IP login budget of the token endpoints (alphaloop.auth.LoginRateThrottle).
    path("admin/login/", login_throttled(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_throttled(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include(api_v1)),
    # Outside /api/v1 on purpose: every /api/v1 path requires a JWT; this one answers anyone.
    path("api/health", HealthView.as_view(), name="health"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves its init script from a URL and our template links its styles: the page passes
    # the pages' CSP (no inline script or style).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
         name="swagger-ui"),
    path("", include("dashboard.urls")),
]

handler400 = "alphaloop.exceptions.api_bad_request"
handler404 = "alphaloop.exceptions.api_page_not_found"
handler500 = "alphaloop.exceptions.api_server_error"
