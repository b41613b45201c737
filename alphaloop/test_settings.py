"""Settings for the test suite: the real settings with test-only secrets and a fast bcrypt."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("JWT_SIGNING_KEY", "test-only-jwt-key-not-for-production-0123456789-abcdefghij")
os.environ.setdefault("ALPHALOOP_ENV_FILE", "/nonexistent/alphaloop-test.env")
os.environ.setdefault("MARKET_FEED", "none")

from alphaloop.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["alphaloop.hashers.FastBCryptSHA256PasswordHasher"]
# Tests call tasks inline unless they start a real worker themselves.
CELERY_TASK_ALWAYS_EAGER = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
