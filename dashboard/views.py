"""Server-rendered pages. Each page loads its numbers from the JSON API with a short-lived JWT
that the login session obtains from ``session_token`` (the API itself accepts JWTs only)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST
from rest_framework_simplejwt.tokens import AccessToken

from alphaloop.scoping import owned_by, user_account
from journal.models import TradeJournal
from orders.selectors import broker_panel


@login_required
@require_POST
def session_token(request):
    """A 5-minute access token for the page's API calls (CSRF-protected, session required)."""
    return JsonResponse({"access": str(AccessToken.for_user(request.user))})


def _page(template: str, active: str):
    @login_required
    def view(request):
        account = user_account(request.user)
        return render(request, template, {"active": active, "account": account})

    view.__name__ = f"{active}_page"
    return view


home = _page("dashboard/home.html", "dashboard")
equity_page = _page("dashboard/equity.html", "equity")
journal_page = _page("dashboard/journal.html", "journal")
alerts_page = _page("dashboard/alerts.html", "alerts")


@login_required
def orders_page(request):
    """The Orders page; for an account at a real broker, its panel: connection, last reconciliation, open mismatches."""
    account = user_account(request.user)
    return render(request, "dashboard/orders.html",
                  {"active": "orders", "account": account, "broker": broker_panel(account)})


backtests_page = _page("dashboard/backtests.html", "backtests")
signals_page = _page("dashboard/signals.html", "signals")


@login_required
def journal_detail(request, pk: int):
    journal = get_object_or_404(owned_by(TradeJournal.objects.all(), request.user), pk=pk)
    return render(request, "dashboard/journal_detail.html", {"active": "journal", "journal": journal,
                                                             "account": journal.account})


@login_required
def backtest_tearsheet(request, pk: int, kind: str):
    """A finished run's tearsheet to keep: one self-contained HTML page, or it and its PNG plots in a zip."""
    from backtest.models import BacktestRun
    from backtest.selectors import run_tearsheet, tearsheet_zip

    run = get_object_or_404(owned_by(BacktestRun.objects.all(), request.user, owner_path="user"), pk=pk)
    if run.status != BacktestRun.SUCCEEDED:
        return HttpResponse(f"Run #{run.pk} is {run.status.lower()}: only a finished run has a tearsheet.",
                            status=409, content_type="text/plain; charset=utf-8")
    html, images = run_tearsheet(run=run)
    name = f"alphaloop-run-{run.pk}-{run.strategy_id}-tearsheet"
    if kind == "zip":
        response = HttpResponse(tearsheet_zip(html, images), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    else:
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.html"'
    return response
