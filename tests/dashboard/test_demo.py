"""The demo history is booked through the real ledger, so every book agrees with every other."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from equity.models import EquitySnapshot, TradePnlAttribution
from journal.models import TradeJournal
from orders.models import Account, Fill, Position


@pytest.mark.django_db(transaction=True)  # real commits: after-commit receivers run as in production
def test_seed_demo_books_a_consistent_year_of_trading_for_the_superuser(make_user):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("admin", password="admin-pass-123456")
    account = admin.accounts.get()
    bystander = make_user("bystander")
    call_command("seed_demo", stdout=open("/dev/null", "w"))

    account.refresh_from_db()
    fills = Fill.objects.filter(account=account)
    assert fills.count() > 50
    cost_held = Position.objects.filter(account=account).aggregate(total=Sum("cost_basis"))["total"] or Decimal("0")
    assert account.cash == account.initial_cash + account.realized_pnl - account.total_commission - cost_held
    closed = TradePnlAttribution.objects.filter(account=account)
    assert closed.count() > 20 and TradeJournal.objects.filter(account=account).count() == closed.count()
    assert EquitySnapshot.objects.filter(account=account).count() == 260
    assert not Fill.objects.filter(account=bystander.accounts.get()).exists()
    from notifications.models import NotificationLog, NotificationPreference

    assert not NotificationLog.objects.filter(account=account).exists()  # history replays quietly
    assert not NotificationPreference.objects.filter(user=admin).exists()  # and leaves preferences as they were
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # second run: no duplicate history
    assert Fill.objects.filter(account=account).count() == fills.count()
