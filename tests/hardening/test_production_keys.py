"""The production gate on keys: with DEBUG off the app does not start on a default, weak or shared key;
with DEBUG on a default key prints the spec's warning. JWT_SECRET_KEY (the spec's name) is
JWT_SIGNING_KEY's alias."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alphaloop.config import DEBUG_ONLY_SECRET

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "Qm7-vXr2pL9sT4wZ8kN1bF6hJ3dG5yC0aE-uIoPqRsTvWxYz12345"
GOOD_JWT = "Jw4-eRt7yU1iO0pA9sD2fG5hK8lZ3xC6vB-nM0qWeRtYuIoP67890"
INSECURE_TAIL = "7g#k2$pq9!zr8m@w4x6v^t1b3n5c0j&h*f(e)d_s+a=l-u"
SPEC_WARNING = "JWT_SECRET_KEY is default value! Change it in production!"


def _start(env_overrides: dict, code: str = "import alphaloop.settings") -> subprocess.CompletedProcess:
    """A fresh interpreter importing the settings with this environment: the first step of every start
    (manage.py, the ASGI/WSGI apps, Celery), where the gate sits."""
    names = {"SECRET_KEY", "JWT_SIGNING_KEY", "JWT_SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update({"ALPHALOOP_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "alphaloop.settings", **env_overrides})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _production(**keys: str) -> dict:
    return {"DEBUG": "false", "SECRET_KEY": GOOD_SECRET, "JWT_SIGNING_KEY": GOOD_JWT, **keys}


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SIGNING_KEY"])
@pytest.mark.parametrize(
    ("key", "why"),
    [
        (DEBUG_ONLY_SECRET, "is missing or a default value"),
        ("a" * 32, "is 32 characters long; at least 50 are needed"),
        ("changeme" * 4, "starts with a known insecure prefix"),
        ("DJANGO-INSECURE-" + INSECURE_TAIL, "starts with a known insecure prefix"),
        (" django-insecure-" + INSECURE_TAIL, "starts with a known insecure prefix"),
        ("abcd" * 20, "has fewer than 5 distinct characters"),
        ("k" * 50, "has fewer than 5 distinct characters"),
    ],
    ids=["debug-only key", "a*32", "changeme*4", "upper-case prefix", "leading space", "4 characters", "k*50"],
)
def test_with_debug_off_the_app_does_not_start_on_a_default_or_weak_key(name, key, why):
    result = _start(_production(**{name: key}))

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} {why}." in result.stderr


def test_a_jwt_forged_with_the_debug_only_key_is_never_checked_in_production():
    forge = (
        "import jwt, django\n"
        "token = jwt.encode({'token_type': 'access', 'user_id': 1, 'exp': 4102444800, 'jti': 'x'},"
        f" {DEBUG_ONLY_SECRET!r}, algorithm='HS256')\n"
        "django.setup()\n"
        "from rest_framework_simplejwt.tokens import AccessToken\n"
        "print('accepted', AccessToken(token)['user_id'])\n"
    )

    with_the_debug_key = _start({"DEBUG": "false", "SECRET_KEY": DEBUG_ONLY_SECRET, "JWT_SIGNING_KEY": GOOD_JWT}, forge)
    left_to_default = _start({"DEBUG": "false", "SECRET_KEY": GOOD_SECRET}, forge)

    for result in (with_the_debug_key, left_to_default):
        assert result.returncode != 0 and "accepted" not in result.stdout
    assert "SECRET_KEY is missing or a default value" in with_the_debug_key.stderr
    assert "JWT_SIGNING_KEY is missing or a default value" in left_to_default.stderr


def test_with_debug_off_the_jwt_key_may_not_be_the_secret_key():
    result = _start(_production(JWT_SIGNING_KEY=GOOD_SECRET))

    assert result.returncode != 0
    assert "JWT_SIGNING_KEY equals SECRET_KEY" in result.stderr


def test_the_specs_jwt_secret_key_is_an_alias_of_jwt_signing_key():
    show = "from alphaloop import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'])"
    production = {"DEBUG": "false", "SECRET_KEY": GOOD_SECRET}

    by_the_spec_name = _start({**production, "JWT_SECRET_KEY": GOOD_JWT}, show)
    weak_by_the_spec_name = _start({**production, "JWT_SECRET_KEY": "a" * 32}, show)
    both_disagreeing = _start({**production, "JWT_SECRET_KEY": GOOD_JWT, "JWT_SIGNING_KEY": GOOD_JWT[::-1]}, show)

    assert (by_the_spec_name.returncode, by_the_spec_name.stdout.strip()) == (0, GOOD_JWT), by_the_spec_name.stderr
    assert weak_by_the_spec_name.returncode != 0
    assert "JWT_SIGNING_KEY is 32 characters long" in weak_by_the_spec_name.stderr
    assert both_disagreeing.returncode != 0
    assert "JWT_SIGNING_KEY and JWT_SECRET_KEY (its alias) are both set and differ" in both_disagreeing.stderr


def test_with_debug_on_a_default_key_prints_the_specs_warning_and_a_real_one_prints_nothing():
    default = _start({"DEBUG": "true"})
    spec_default = _start({"DEBUG": "true", "SECRET_KEY": GOOD_SECRET, "JWT_SECRET_KEY": "change-me-please"})
    real = _start({"DEBUG": "true", "SECRET_KEY": GOOD_SECRET, "JWT_SIGNING_KEY": GOOD_JWT})

    assert default.returncode == spec_default.returncode == real.returncode == 0
    assert SPEC_WARNING in default.stderr and "⚠️ SECRET_KEY is default value!" in default.stderr
    assert SPEC_WARNING in spec_default.stderr
    assert "default value" not in real.stderr and "Change it in production" not in real.stderr
