"""AlphaLoop settings, read from the environment (django-environ).

Every variable is documented in the README's Settings section. Bad values fail
at import time with the variable's name (see ``alphaloop.config``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alphaloop import config
from alphaloop.config import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.str("ALPHALOOP_VAR_DIR", default=str(BASE_DIR / "var")))

# A local env file (written by `make run` on first start) holds generated secrets.
config.read_env_file(Path(env.str("ALPHALOOP_ENV_FILE", default=str(VAR_DIR / "local.env"))))

DEBUG = config.get_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="")
JWT_SIGNING_KEY = config.jwt_signing_key()  # also read as JWT_SECRET_KEY, the spec's name
config.require_secrets(debug=DEBUG, secret_key=SECRET_KEY, jwt_signing_key=JWT_SIGNING_KEY)
if DEBUG:
    SECRET_KEY = SECRET_KEY or config.DEBUG_ONLY_SECRET
    JWT_SIGNING_KEY = JWT_SIGNING_KEY or SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TRUSTED_PROXIES = config.get_networks("TRUSTED_PROXIES", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "django_celery_beat",
    "channels",
    "axes",
    "alphaloop",
    "marketdata",
    "factors",
    "backtest",
    "orders",
    "alerts",
    "equity",
    "journal",
    "notifications",
    "dashboard",
]

MIDDLEWARE = [
    "alphaloop.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "alphaloop.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "alphaloop.urls"
ASGI_APPLICATION = "alphaloop.asgi.application"
WSGI_APPLICATION = "alphaloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "alphaloop.context_processors.app_settings",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'alphaloop.sqlite3'}")
DATABASES = {"default": config.database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channel layer, cache --------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A consumer waits for its next message with a blocking read of brpop_timeout (5 s): the
            # client's own read timeout must outlast it, or every quiet socket dies after 5 s (redis-py's
            # default read timeout is also 5 s). A dead Redis still fails at once (connect timeout).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Thread-safe variant: the embedded feed and beat threads publish into Daphne's loop.
    CHANNEL_LAYERS = {"default": {"BACKEND": "notifications.layers.ThreadSafeInMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Embedded default: no broker configured means tasks run inline in the web process.
CELERY_TASK_ALWAYS_EAGER = config.get_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Auth -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "alphaloop.usernames.CaseInsensitiveModelBackend",  # usernames in any case (alphaloop/usernames.py)
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection (django-axes): admin login, browser login and the token endpoint.
AXES_FAILURE_LIMIT = config.get_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=config.get_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "alphaloop.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "alphaloop.net.client_ip"
AXES_USERNAME_CALLABLE = "alphaloop.usernames.lockout_username"
AXES_VERBOSE = False

ADMIN_USERNAME = env.str("ALPHALOOP_ADMIN_USERNAME", default="admin")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "alphaloop.openapi.AutoSchema",
    # No filter backend: each list reads its filters through a query serializer the schema documents (and
    # alphaloop.contract checks); a backend would also make the schema call get_queryset() to find a model.
    "DEFAULT_FILTER_BACKENDS": [],
    # Every list answers one page {count, next, previous, results} (alphaloop/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "alphaloop.pagination.Pagination",
    "EXCEPTION_HANDLER": "alphaloop.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": env.str("LOGIN_THROTTLE_RATE", default="10/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only (anything else is a 415), checked against the documented request schema.
    "DEFAULT_PARSER_CLASSES": ["alphaloop.contract.ContractJSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=config.get_int("JWT_ACCESS_MINUTES", 5, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=config.get_int("JWT_REFRESH_DAYS", 1, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AlphaLoop API",
    "DESCRIPTION": "Self-hosted trading backend: equity, journal, alerts, orders, factors, backtests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets come from drf-spectacular-sidecar, served locally (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "OrderSideEnum": "orders.models.Order.SIDES",
        "OrderStatusEnum": "orders.models.Order.STATUSES",
        "OrderTypeEnum": "orders.models.Order.TYPES",
        "TimeInForceEnum": "orders.models.Order.TIFS",
        "PlanDirectionEnum": "orders.models.TradingPlan.DIRECTIONS",
        "PlanStatusEnum": "orders.models.TradingPlan.STATUSES",
        "AlertDirectionEnum": "alerts.models.PriceAlert.DIRECTIONS",
        "TradeDirectionEnum": "journal.serializers.DIRECTIONS",
        "BacktestStatusEnum": "backtest.models.BacktestRun.STATUSES",
        "NotificationChannelEnum": "notifications.models.NotificationLog.CHANNELS",
        "FillsImportStatusEnum": "orders.external_fills.IMPORT_STATUSES",
        "BrokerMismatchKindEnum": "orders.models.BrokerMismatch.KINDS",
        "JournalTagKindEnum": "journal.models.JournalTag.KINDS",
        "SignalDirectionEnum": "factors.models.Signal.DIRECTIONS",
    },
}

# --- i18n / time ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
MARKET_TIME_ZONE = "America/New_York"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Trading settings (spec section 8) ---------------------------------------
ORDER_MODE = config.get_choice("ORDER_MODE", "PAPER", choices=("PAPER", "REAL"))
REAL_BROKER_ADAPTER = env.str("REAL_BROKER_ADAPTER", default="")
MAX_DAILY_LOSS_PCT = config.get_decimal("MAX_DAILY_LOSS_PCT", "0.05", minimum="0", maximum="1")
MAX_ORDERS_PER_MINUTE = config.get_int("MAX_ORDERS_PER_MINUTE", 5, minimum=1)
MAX_SINGLE_ORDER_PCT = config.get_decimal("MAX_SINGLE_ORDER_PCT", "0.20", minimum="0", maximum="1")
MAX_ORDER_QUANTITY = config.get_decimal("MAX_ORDER_QUANTITY", "100000", minimum="0")
MAX_ORDER_VALUE = config.get_decimal("MAX_ORDER_VALUE", "1000000", minimum="0")
PRICE_BAND_WARN_PCT = config.get_decimal("PRICE_BAND_WARN_PCT", "0.03", minimum="0", maximum="0.99")
PRICE_BAND_REFUSE_PCT = config.get_decimal("PRICE_BAND_REFUSE_PCT", "0.10", minimum="0", maximum="0.99")
TRADING_HOURS_ONLY = config.get_bool("TRADING_HOURS_ONLY", True)
PAPER_SLIPPAGE_BPS = config.get_decimal("PAPER_SLIPPAGE_BPS", "5", minimum="0", maximum="1000")
PAPER_COMMISSION_PER_SHARE = config.get_decimal("PAPER_COMMISSION_PER_SHARE", "0.005", minimum="0")
PAPER_COMMISSION_MIN = config.get_decimal("PAPER_COMMISSION_MIN", "1.00", minimum="0")
PAPER_MAX_FILL_QTY = config.get_decimal("PAPER_MAX_FILL_QTY", "0", minimum="0")
APPROVAL_TTL_MINUTES = config.get_int("APPROVAL_TTL_MINUTES", 60, minimum=1)
PAPER_INITIAL_CASH = config.get_decimal("PAPER_INITIAL_CASH", "100000", minimum="0")
# Largest trade-history upload (Orders page, POST /api/v1/orders/import-fills); manage.py import_fills has no limit.
IMPORT_FILLS_MAX_BYTES = config.get_int("IMPORT_FILLS_MAX_BYTES", 2_000_000, minimum=1)
IMPORT_FILLS_MAX_ROWS = config.get_int("IMPORT_FILLS_MAX_ROWS", 1000, minimum=1)
RISK_FREE_RATE = config.get_decimal("RISK_FREE_RATE", "0.04", minimum="-1", maximum="1")
# Annual risk-free rate of backtest Sharpe/Sortino/alpha when a run gives none (0, as backtrader, vectorbt, empyrical).
BACKTEST_RISK_FREE_RATE = config.get_decimal("BACKTEST_RISK_FREE_RATE", "0", minimum="-0.1", maximum="1")
ALERT_CHECK_INTERVAL_SECONDS = config.get_int("ALERT_CHECK_INTERVAL_SECONDS", 30, minimum=1)
# The dashboard summary is cached per account this long (0: off); any change of the account or a quote ends it.
DASHBOARD_CACHE_SECONDS = config.get_int("DASHBOARD_CACHE_SECONDS", 2, minimum=0)
EQUITY_SNAPSHOT_TIME = config.get_time("EQUITY_SNAPSHOT_TIME", "16:30")
WS_HEARTBEAT_SECONDS = config.get_int("WS_HEARTBEAT_SECONDS", 30, minimum=1)
WS_TICKET_SECONDS = config.get_int("WS_TICKET_SECONDS", 30, minimum=1)
# A live push gives up after this long; after a failed connect, pushes pause this long (events stay stored).
LIVE_PUSH_TIMEOUT_SECONDS = config.get_decimal("LIVE_PUSH_TIMEOUT_SECONDS", "2", minimum="0.1")
LIVE_PUSH_RETRY_SECONDS = config.get_decimal("LIVE_PUSH_RETRY_SECONDS", "5", minimum="0.1")
LIVE_EVENT_RETENTION_DAYS = config.get_int("LIVE_EVENT_RETENTION_DAYS", 30, minimum=1)
SIGNAL_NOTIFY_MIN_STRENGTH = config.get_decimal("SIGNAL_NOTIFY_MIN_STRENGTH", "0.5", minimum="0", maximum="1")
SIGNAL_HORIZON_DAYS = config.get_int("SIGNAL_HORIZON_DAYS", 10, minimum=1)
BACKTEST_STALE_SECONDS = config.get_int("BACKTEST_STALE_SECONDS", 60, minimum=5)
EQUITY_BENCHMARK_SYMBOL = env.str("EQUITY_BENCHMARK_SYMBOL", default="SPY")
MARKET_FEED = config.get_choice("MARKET_FEED", "synthetic", choices=("replay", "synthetic", "alpaca", "none"))
MARKET_FEED_INTERVAL_SECONDS = config.get_decimal("MARKET_FEED_INTERVAL_SECONDS", "2", minimum="0.01")
# MARKET_FEED=alpaca: the dashboard's watchlist (empty: every active instrument), how often the feed re-reads the
# symbols that matter, and how long the session may go without a tick before market orders are refused.
MARKET_FEED_WATCHLIST = [s.strip().upper() for s in env.list("MARKET_FEED_WATCHLIST", default=[]) if s.strip()]
MARKET_FEED_REFRESH_SECONDS = config.get_decimal("MARKET_FEED_REFRESH_SECONDS", "10", minimum="0.1")
FEED_STALE_SECONDS = config.get_int("FEED_STALE_SECONDS", 30, minimum=1)
MARKET_FEED_SPEED = config.get_decimal("MARKET_FEED_SPEED", "60", minimum="0.01")

# --- Alpaca: a real brokerage account and real market data (README "Connect a real account") ---
# BROKER=alpaca is the short name of REAL_BROKER_ADAPTER=orders.brokers.alpaca.AlpacaBroker.
BROKER = config.get_choice("BROKER", "", choices=("alpaca",))
BROKER_ADAPTERS = {"alpaca": "orders.brokers.alpaca.AlpacaBroker"}
if BROKER:
    if REAL_BROKER_ADAPTER and REAL_BROKER_ADAPTER != BROKER_ADAPTERS[BROKER]:
        raise config.ImproperlyConfigured(
            f"BROKER={BROKER} names {BROKER_ADAPTERS[BROKER]} but REAL_BROKER_ADAPTER={REAL_BROKER_ADAPTER}: set one of them"
        )
    REAL_BROKER_ADAPTER = BROKER_ADAPTERS[BROKER]
ALPACA_API_KEY = env.str("ALPACA_API_KEY", default="")
ALPACA_SECRET_KEY = env.str("ALPACA_SECRET_KEY", default="")
ALPACA_PAPER = config.get_bool("ALPACA_PAPER", True)
if MARKET_FEED == "alpaca" and not (ALPACA_API_KEY and ALPACA_SECRET_KEY):
    raise config.ImproperlyConfigured(
        "MARKET_FEED=alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY (any Alpaca account's keys)")


def _alpaca_url(name: str, schemes: tuple[str, ...]) -> str:
    """An endpoint override; empty means the SDK's own endpoint (paper or live by ALPACA_PAPER)."""
    value = env.str(name, default="")
    if value and not value.startswith(schemes):
        raise config.ImproperlyConfigured(f"{name} must start with {' or '.join(schemes)}, got {value!r}")
    return value


ALPACA_TRADING_URL = _alpaca_url("ALPACA_TRADING_URL", ("https://", "http://"))
ALPACA_DATA_URL = _alpaca_url("ALPACA_DATA_URL", ("https://", "http://"))
ALPACA_TRADING_STREAM_URL = _alpaca_url("ALPACA_TRADING_STREAM_URL", ("wss://", "ws://"))
ALPACA_DATA_STREAM_URL = _alpaca_url("ALPACA_DATA_STREAM_URL", ("wss://", "ws://"))  # names the feed: .../v2/iex
ALPACA_TIMEOUT_SECONDS = config.get_decimal("ALPACA_TIMEOUT_SECONDS", "10", minimum="0.1")
ALPACA_MAX_RETRIES = config.get_int("ALPACA_MAX_RETRIES", 3, minimum=0)
ALPACA_MAX_RETRY_AFTER_SECONDS = config.get_int("ALPACA_MAX_RETRY_AFTER_SECONDS", 30, minimum=0)
ALPACA_CANCEL_CONFIRM_SECONDS = config.get_decimal("ALPACA_CANCEL_CONFIRM_SECONDS", "5", minimum="0")
# The trade-updates stream (orders.brokers.alpaca_stream): reconnects wait a jittered, doubling delay from
# ALPACA_STREAM_BACKOFF_SECONDS up to ALPACA_STREAM_MAX_BACKOFF_SECONDS (a reconnect storm gets 429/406); a socket
# that answers no ping for ALPACA_STREAM_PING_SECONDS is dropped and reopened.
ALPACA_STREAM_BACKOFF_SECONDS = config.get_decimal("ALPACA_STREAM_BACKOFF_SECONDS", "1", minimum="0.01")
ALPACA_STREAM_MAX_BACKOFF_SECONDS = config.get_decimal("ALPACA_STREAM_MAX_BACKOFF_SECONDS", "60", minimum="0.01")
ALPACA_STREAM_PING_SECONDS = config.get_decimal("ALPACA_STREAM_PING_SECONDS", "15", minimum="0.1")
# The AlphaLoop account (its code) that books executions of orders placed outside AlphaLoop, e.g. in Alpaca's own
# app; empty: the only non-paper account.
BROKER_EXTERNAL_ACCOUNT = env.str("BROKER_EXTERNAL_ACCOUNT", default="")
# Reconciliation against the broker (orders.reconciliation): how often in session, and what a difference does
# to the account's trading state (reduce: REDUCING, halt: HALTED, warn: nothing but the record and the warning).
BROKER_RECONCILE_SECONDS = config.get_int("BROKER_RECONCILE_SECONDS", 60, minimum=5)
BROKER_MISMATCH_ACTION = config.get_choice("BROKER_MISMATCH_ACTION", "reduce", choices=("reduce", "halt", "warn"))

# --- Notifications and LLM ------------------------------------------------------
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_CHAT_ID = env.str("TELEGRAM_CHAT_ID", default="")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org")
TELEGRAM_TIMEOUT_SECONDS = config.get_decimal("TELEGRAM_TIMEOUT_SECONDS", "5", minimum="0.1")
TELEGRAM_MAX_RETRIES = config.get_int("TELEGRAM_MAX_RETRIES", 3, minimum=0)
TELEGRAM_BACKOFF_SECONDS = config.get_decimal("TELEGRAM_BACKOFF_SECONDS", "0.5", minimum="0")
TELEGRAM_MAX_RETRY_AFTER_SECONDS = config.get_int("TELEGRAM_MAX_RETRY_AFTER_SECONDS", 30, minimum=0)
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = config.get_int("EMAIL_PORT", 25, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="alphaloop@localhost")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_TIMEOUT_SECONDS = config.get_decimal("OPENAI_TIMEOUT_SECONDS", "30", minimum="0.1")
OPENAI_MAX_RETRIES = config.get_int("OPENAI_MAX_RETRIES", 2, minimum=0)

# --- Security -----------------------------------------------------------------
# DEPLOY_PROFILE=production: HTTPS only (redirect, HSTS for a year with subdomains and preload, secure
# cookies); `manage.py check --deploy --fail-level WARNING` passes with it. Each setting can still be
# set on its own. The default "local" profile serves plain HTTP on loopback (`make run`).
PRODUCTION = config.get_choice("DEPLOY_PROFILE", "local", choices=("local", "production")) == "production"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = config.get_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = config.get_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = config.get_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = config.get_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = config.get_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Tokens, tickets, bot tokens, the webhook secret and query strings are masked in every line.
    "filters": {"redact_secrets": {"()": "alphaloop.redaction.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}
