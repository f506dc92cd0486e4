"""Django settings. Every knob is an environment variable with an embedded default."""

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from mgmt.analytics.retention_rules import Retention
from mgmt.compiler.rate_limits import ENVOY_5XX
from mgmt.database_url import database_from_url
from mgmt.lifecycle.notice_dates import parse_lead_days

# Lets admin classes be written as ModelAdmin[Model] for mypy, at run time too.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TOLLGATE_VAR_DIR", BASE_DIR / "var"))

# The embedded default is for one machine; production sets a real secret.
SECRET_KEY = os.environ.get("TOLLGATE_SECRET_KEY", "tollgate-embedded-not-for-production")
DEBUG = os.environ.get("TOLLGATE_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("TOLLGATE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mgmt.gateway",
    "mgmt.devapi",
    "mgmt.portal",
    "mgmt.analytics",
    "mgmt.billing",
    "mgmt.tls",
    "mgmt.identity",
    "mgmt.oauth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mgmt.urls"
WSGI_APPLICATION = "mgmt.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' own: admin/base_site.html here adds the degraded-nodes banner.
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mgmt.gateway.context_processors.degraded_nodes",
            ]
        },
    }
]

DATABASES = {
    # Unset: the embedded SQLite file lives in VAR_DIR, with the rest of this install's state.
    "default": database_from_url(
        os.environ.get("TOLLGATE_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tollgate.sqlite3'}",
        BASE_DIR,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/portal/login"
# A mailed password-reset link works once, for two hours.
PASSWORD_RESET_TIMEOUT = 2 * 3600
LOGIN_REDIRECT_URL = "/portal/"
# Portal sessions end with the browser and after two weeks at the latest.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Behind TLS (production): cookies only over HTTPS, and browsers told to stay on it.
# `make run` serves plain HTTP on loopback, so this is off unless asked for.
if os.environ.get("TOLLGATE_HTTPS", "0") == "1":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Request bodies Django reads at most: room for an owner's 2 MiB OpenAPI document typed into
# admin and for xds_server's event batches. The developer API allows far less (below).
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
# The largest JSON body the developer API parses; larger ones get 413 problem+json.
TOLLGATE_API_MAX_BODY_BYTES = int(os.environ.get("TOLLGATE_API_MAX_BODY_BYTES", str(256 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

# Throttles count here: per process by default; production points it at Redis so that
# every mgmt replica counts together.
_cache_url = os.environ.get("TOLLGATE_CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mgmt.devapi.authentication.AccessTokenAuthentication",
        "mgmt.devapi.authentication.PortalSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["mgmt.devapi.parsing.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mgmt.devapi.problems.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "mgmt.devapi.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {
        "signup": os.environ.get("TOLLGATE_THROTTLE_SIGNUP", "10/hour"),
        "login": os.environ.get("TOLLGATE_THROTTLE_LOGIN", "20/minute"),
        "key_creation": os.environ.get("TOLLGATE_THROTTLE_KEY_CREATION", "60/hour"),
        "application_creation": os.environ.get("TOLLGATE_THROTTLE_APPLICATION_CREATION", "30/hour"),
        "application_deletion": os.environ.get("TOLLGATE_THROTTLE_APPLICATION_DELETION", "30/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles count per client address: REMOTE_ADDR, unless mgmt runs behind this many
    # proxies that append to X-Forwarded-For (a client could forge the header otherwise).
    "NUM_PROXIES": int(os.environ.get("TOLLGATE_NUM_PROXIES", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tollgate developer API",
    "DESCRIPTION": "Sign up, manage applications, API keys, subscriptions and limit "
    "requests, and browse the API catalog. Errors are RFC 9457 problem+json.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SubscriptionState": "mgmt.gateway.models.Subscription.State",
        "LimitRequestState": "mgmt.gateway.models.LimitRequest.State",
        "KeyState": "mgmt.devapi.serializers.access.KEY_STATES",
        "InvitationState": "mgmt.devapi.serializers.accounts.INVITATION_STATES",
        "InvoiceState": "mgmt.billing.models.Invoice.State",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A key or token that a client put in a URL is redacted before any handler sees it.
    "filters": {"redact_secrets": {"()": "mgmt.log_redaction.RedactSecrets"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        # Django's own for runserver's request lines (configuring the logger drops it).
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "loggers": {
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_secrets"],
        },
        "django.request": {"filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("TOLLGATE_LOG_LEVEL", "INFO")},
}

# --- Tollgate ---------------------------------------------------------------
# Shared secret between mgmt and xds_server for the /internal/xds/ endpoints.
# `make run` generates a random one per install (var/internal_token).
TOLLGATE_INTERNAL_TOKEN = os.environ.get("TOLLGATE_INTERNAL_TOKEN", "tollgate-dev-internal-token")
if len(TOLLGATE_INTERNAL_TOKEN) < 16:
    raise ImproperlyConfigured("TOLLGATE_INTERNAL_TOKEN must be at least 16 characters")
# Where Envoy's gateway listener binds (compiled into the LDS listener).
TOLLGATE_GATEWAY_ADDRESS = os.environ.get("TOLLGATE_GATEWAY_ADDRESS", "127.0.0.1")
TOLLGATE_GATEWAY_PORT = int(os.environ.get("TOLLGATE_GATEWAY_PORT", "10000"))
# The HTTPS listener, opened once a certificate is uploaded (admin → TLS); 0 turns it off.
TOLLGATE_GATEWAY_HTTPS_PORT = int(os.environ.get("TOLLGATE_GATEWAY_HTTPS_PORT", "10443"))
# Where Envoy finds the system's CA bundle, for upstreams verified without a CA of their own.
TOLLGATE_SYSTEM_CA_FILE = os.environ.get(
    "TOLLGATE_SYSTEM_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"
)
# The key that seals TLS private keys at rest; xds_server is given the same file.
# Unset: the install's own var/secrets.key (`make run` makes it), so every process of one
# install (the runner's children, `manage.py shell`) seals and checks with the same key.
TOLLGATE_SECRETS_KEY_FILE = (
    Path(_key_file)
    if (_key_file := os.environ.get("TOLLGATE_SECRETS_KEY_FILE"))
    else (VAR_DIR / "secrets.key" if (VAR_DIR / "secrets.key").exists() else None)
)
# Envoy's time budget for one ext_authz Check before failing closed with 503.
TOLLGATE_EXTAUTHZ_TIMEOUT_MS = int(os.environ.get("TOLLGATE_EXTAUTHZ_TIMEOUT_MS", "250"))
# How Envoy calls ext_authz: "http" (its HTTP mode, the default: about twice as fast in
# the sidecar) or "grpc" (Authorization/Check).
TOLLGATE_AUTHZ_TRANSPORT = os.environ.get("TOLLGATE_AUTHZ_TRANSPORT", "http")
if TOLLGATE_AUTHZ_TRANSPORT not in ("http", "grpc"):
    raise ImproperlyConfigured("TOLLGATE_AUTHZ_TRANSPORT must be http or grpc")
# What a fail-closed route answers when the rate-limit counters are unreachable: a 5xx
# that Envoy's HttpStatus knows (never 429, which means "over your limit").
TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS = int(
    os.environ.get("TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS", "503")
)
if TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS not in ENVOY_5XX:
    raise ImproperlyConfigured(
        "TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS must be one of "
        + ", ".join(map(str, sorted(ENVOY_5XX)))
    )
# The x-ratelimit-* headers (IETF draft 03) too, on rate-limited routes.
TOLLGATE_RATELIMIT_DRAFT03_HEADERS = (
    os.environ.get("TOLLGATE_RATELIMIT_DRAFT03_HEADERS", "0") == "1"
)
# Where partners reach the portal: links in verification and invitation mails.
TOLLGATE_PUBLIC_URL = os.environ.get("TOLLGATE_PUBLIC_URL", "http://127.0.0.1:8000")
# Compile and publish a snapshot after every committed change (off only in tests that say so).
TOLLGATE_AUTO_PUBLISH = os.environ.get("TOLLGATE_AUTO_PUBLISH", "1") == "1"
# A commit within this many ms of the last publication's end waits that long and shares
# one snapshot with the commits around it; an isolated commit publishes at once.
TOLLGATE_PUBLISH_GAP_MS = int(os.environ.get("TOLLGATE_PUBLISH_GAP_MS", "250"))
# History kept by the retention job: the newest published and refused snapshots (the live
# one and any a node still runs are always kept), and node statuses and NACKs older than
# this many days (those describing the live snapshot are always kept).
TOLLGATE_KEEP_PUBLISHED_SNAPSHOTS = int(os.environ.get("TOLLGATE_KEEP_PUBLISHED_SNAPSHOTS", "50"))
TOLLGATE_KEEP_REFUSED_SNAPSHOTS = int(os.environ.get("TOLLGATE_KEEP_REFUSED_SNAPSHOTS", "20"))
TOLLGATE_KEEP_XDS_HISTORY_DAYS = int(os.environ.get("TOLLGATE_KEEP_XDS_HISTORY_DAYS", "14"))
# A developer-API write may wait (Prefer: wait=N) at most this long for the gateways' ACKs.
TOLLGATE_CONFIG_WAIT_MAX_SECONDS = float(os.environ.get("TOLLGATE_CONFIG_WAIT_MAX_SECONDS", "10"))

# --- Lifecycle: Celery, notices, mail ---------------------------------------
# The broker: `make run` starts an embedded Redis on 16379; production points this at its Redis.
CELERY_BROKER_URL = os.environ.get("TOLLGATE_CELERY_BROKER_URL", "redis://127.0.0.1:16379/1")
# One queue for Tollgate's tasks; several deployments may share a Redis with their own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("TOLLGATE_CELERY_QUEUE", "tollgate")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Results are off unless a backend is given (tests read the job's report through one).
CELERY_RESULT_BACKEND = os.environ.get("TOLLGATE_CELERY_RESULT_BACKEND") or None
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task a dead worker held goes back to the queue after this (longer than any task runs).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("TOLLGATE_CELERY_VISIBILITY_TIMEOUT", "3600"))
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Reminders go out this many days before a sunset (the nearest due one only).
try:
    TOLLGATE_NOTICE_LEAD_DAYS = parse_lead_days(
        os.environ.get("TOLLGATE_NOTICE_LEAD_DAYS", "30,7,1")
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"TOLLGATE_NOTICE_LEAD_DAYS: {exc}") from None
# "7 days before" counts calendar days in this zone; notices show dates in it.
TOLLGATE_LIFECYCLE_TIME_ZONE = os.environ.get("TOLLGATE_LIFECYCLE_TIME_ZONE", TIME_ZONE)
try:
    ZoneInfo(TOLLGATE_LIFECYCLE_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"TOLLGATE_LIFECYCLE_TIME_ZONE: unknown time zone {TOLLGATE_LIFECYCLE_TIME_ZONE!r}"
    ) from None
# Attempts per notice before it is marked failed (an owner can retry it from the admin).
TOLLGATE_NOTICE_MAX_ATTEMPTS = int(os.environ.get("TOLLGATE_NOTICE_MAX_ATTEMPTS", "8"))
# A notice claimed this long ago by a worker that never finished is sent again.
TOLLGATE_NOTICE_CLAIM_TIMEOUT_SECONDS = int(
    os.environ.get("TOLLGATE_NOTICE_CLAIM_TIMEOUT_SECONDS", "900")
)
# The job queues a pending notice again only if its last attempt is this old (its own
# retry is usually sooner).
TOLLGATE_NOTICE_RETRY_QUIET_SECONDS = int(
    os.environ.get("TOLLGATE_NOTICE_RETRY_QUIET_SECONDS", "600")
)

_EMAIL_BACKENDS = {
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
# file (the default: var/mail, one file per run), console, smtp, or a dotted backend path.
_email_backend = os.environ.get("TOLLGATE_EMAIL_BACKEND", "file")
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
EMAIL_FILE_PATH = os.environ.get("TOLLGATE_EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("TOLLGATE_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("TOLLGATE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("TOLLGATE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("TOLLGATE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("TOLLGATE_EMAIL_USE_TLS", "0") == "1"
EMAIL_USE_SSL = os.environ.get("TOLLGATE_EMAIL_USE_SSL", "0") == "1"
# A mail server that hangs must not hold a worker: the attempt fails and is retried.
EMAIL_TIMEOUT = int(os.environ.get("TOLLGATE_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("TOLLGATE_EMAIL_FROM", "Tollgate <tollgate@localhost>")

# --- The data plane's Redis, as management reads it -------------------------
# Where the sidecars count (quotas shown to partners exactly) and record throttle events
# (the dashboard's "throttled now"): their TOLLGATE_REDIS_URL. Empty: management cannot see
# the counters, and quotas are shown as estimates from the rollups, labelled so.
TOLLGATE_COUNTERS_REDIS_URL = os.environ.get("TOLLGATE_COUNTERS_REDIS_URL") or os.environ.get(
    "TOLLGATE_REDIS_URL", ""
)

# --- Billing ------------------------------------------------------------------
# A period is closed this long after it ends: leases of its last moments given back (250 ms)
# and its last checks counted.
TOLLGATE_BILLING_SETTLE_SECONDS = int(os.environ.get("TOLLGATE_BILLING_SETTLE_SECONDS", "60"))
# Webhook URLs on private or loopback addresses (SSRF) are refused unless this is set.
TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = os.environ.get("TOLLGATE_WEBHOOKS_ALLOW_PRIVATE", "") == "1"
# One delivery attempt's time limit (a slow receiver is a failed attempt, retried later).
TOLLGATE_WEBHOOKS_TIMEOUT_S = float(os.environ.get("TOLLGATE_WEBHOOKS_TIMEOUT_S", "10"))

# Bearer token Prometheus scrapes mgmt's /metrics with; unset: no /metrics (404).
TOLLGATE_METRICS_TOKEN = os.environ.get("TOLLGATE_METRICS_TOKEN", "")
if TOLLGATE_METRICS_TOKEN and len(TOLLGATE_METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("TOLLGATE_METRICS_TOKEN must be at least 16 characters")

# --- Analytics: usage folded from Envoy's access logs ----------------------
# Notices go to applications that called the version in this many days (from the usage
# rollups); with no usage recorded in that window, to every subscriber.
TOLLGATE_NOTICE_CALLER_DAYS = int(os.environ.get("TOLLGATE_NOTICE_CALLER_DAYS", "30"))
if TOLLGATE_NOTICE_CALLER_DAYS < 1:
    raise ImproperlyConfigured("TOLLGATE_NOTICE_CALLER_DAYS: at least 1")
# The Redis the access-log collector writes its usage hashes to, and the sidecars their
# throttle events (the dashboard's "throttled now"): their TOLLGATE_REDIS_URL.
TOLLGATE_ANALYTICS_REDIS_URL = os.environ.get("TOLLGATE_ANALYTICS_REDIS_URL") or os.environ.get(
    "TOLLGATE_REDIS_URL", "redis://127.0.0.1:6379/0"
)
# A minute is folded this long after it ends, so the collector's last flushes land first;
# what still comes later is folded as another batch and adds to it.
TOLLGATE_ANALYTICS_SETTLE_SECONDS = int(os.environ.get("TOLLGATE_ANALYTICS_SETTLE_SECONDS", "90"))
# Retention per resolution in days: minute rows (with coverage), hour rows, day rows
# (0: forever). Minutes at least 4 days, hours at least as long as minutes, days as hours.
TOLLGATE_ANALYTICS_KEEP_MINUTE_DAYS = int(
    os.environ.get("TOLLGATE_ANALYTICS_KEEP_MINUTE_DAYS", "7")
)
TOLLGATE_ANALYTICS_KEEP_HOUR_DAYS = int(os.environ.get("TOLLGATE_ANALYTICS_KEEP_HOUR_DAYS", "90"))
TOLLGATE_ANALYTICS_KEEP_DAY_DAYS = int(os.environ.get("TOLLGATE_ANALYTICS_KEEP_DAY_DAYS", "0"))
try:
    Retention(
        minute_days=TOLLGATE_ANALYTICS_KEEP_MINUTE_DAYS,
        hour_days=TOLLGATE_ANALYTICS_KEEP_HOUR_DAYS,
        day_days=TOLLGATE_ANALYTICS_KEEP_DAY_DAYS,
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"TOLLGATE_ANALYTICS_KEEP_*_DAYS: {exc}") from None

# --- OAuth2 authorization server (mgmt.oauth): client credentials, ES256 access tokens ---
# The `iss` of every token and of the RFC 8414 metadata; gateways accept tokens naming it.
TOLLGATE_OAUTH_ISSUER = os.environ.get(
    "TOLLGATE_OAUTH_ISSUER", TOLLGATE_PUBLIC_URL.rstrip("/") + "/oauth"
)
# The `aud` of every token: what the gateway's jwt_authn provider requires.
TOLLGATE_OAUTH_AUDIENCE = os.environ.get("TOLLGATE_OAUTH_AUDIENCE", "tollgate-gateway")
# How long an access token lives (its `exp` - `iat`).
TOLLGATE_OAUTH_TOKEN_SECONDS = int(os.environ.get("TOLLGATE_OAUTH_TOKEN_SECONDS", "600"))
# A new signing key is in the JWKS this long before it signs, so every gateway holds it.
TOLLGATE_OAUTH_KEY_PUBLISH_SECONDS = int(os.environ.get("TOLLGATE_OAUTH_KEY_PUBLISH_SECONDS", "60"))
# The signing key is replaced when it is this old (by the beat task or the admin action).
TOLLGATE_OAUTH_KEY_ROTATION_DAYS = int(os.environ.get("TOLLGATE_OAUTH_KEY_ROTATION_DAYS", "30"))
# Token requests per client id and per client address (DRF rate syntax), in Django's cache.
TOLLGATE_OAUTH_THROTTLE_CLIENT = os.environ.get("TOLLGATE_OAUTH_THROTTLE_CLIENT", "30/min")
TOLLGATE_OAUTH_THROTTLE_ADDRESS = os.environ.get("TOLLGATE_OAUTH_THROTTLE_ADDRESS", "120/min")
if TOLLGATE_OAUTH_TOKEN_SECONDS < 1 or TOLLGATE_OAUTH_KEY_ROTATION_DAYS < 1:
    raise ImproperlyConfigured(
        "TOLLGATE_OAUTH_TOKEN_SECONDS and TOLLGATE_OAUTH_KEY_ROTATION_DAYS: at least 1"
    )
