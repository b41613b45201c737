"""First-run setup for `make run`: admin user, their paper account, the beat schedule, demo data."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, call_command

from alphaloop.schedule import periodic_tasks_ensure
from marketdata.models import Instrument
from orders.accounts import account_get_or_create_default


class Command(BaseCommand):
    help = "Create the admin user and account on first run, install the beat schedule, seed demo data once."

    def add_arguments(self, parser):
        parser.add_argument("--no-seed", action="store_true", help="Skip seed_demo even on first run")

    def handle(self, *args, no_seed: bool = False, **options):
        User = get_user_model()
        username = settings.ADMIN_USERNAME
        user = User.objects.filter(username=username).first()
        if user is None:
            password = os.environ.get("ALPHALOOP_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(self.style.SUCCESS(f"Created admin user '{username}'."))
            if not os.environ.get("ALPHALOOP_ADMIN_PASSWORD"):
                self.stdout.write(self.style.WARNING(f"Generated password (shown once): {password}"))
        account_get_or_create_default(user=user)
        periodic_tasks_ensure()
        if not no_seed and not Instrument.objects.exists():
            self.stdout.write("First run: seeding synthetic demo data...")
            call_command("seed_demo", stdout=self.stdout)
