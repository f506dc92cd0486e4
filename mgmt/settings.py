"""Django settings. Every knob is an environment variable with an embedded default."""

import os
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from mgmt.compiler.rate_limits import ENVOY_5XX
from mgmt.database_url import database_from_url

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
    "mgmt.gateway",
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
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("TOLLGATE_DATABASE_URL", "sqlite:///var/tollgate.sqlite3"), BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
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
# Envoy's time budget for one ext_authz Check before failing closed with 503.
TOLLGATE_EXTAUTHZ_TIMEOUT_MS = int(os.environ.get("TOLLGATE_EXTAUTHZ_TIMEOUT_MS", "250"))
# Envoy's time budget for one rate-limit check; past it, the route's failure mode decides.
TOLLGATE_RATELIMIT_TIMEOUT_MS = int(os.environ.get("TOLLGATE_RATELIMIT_TIMEOUT_MS", "100"))
if not 1 <= TOLLGATE_RATELIMIT_TIMEOUT_MS <= 60_000:
    raise ImproperlyConfigured("TOLLGATE_RATELIMIT_TIMEOUT_MS must be 1 to 60000")
# What a fail-closed route answers when the rate-limit service is unreachable: a 5xx
# that Envoy's HttpStatus knows (never 429, which means "over your limit").
TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS = int(
    os.environ.get("TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS", "503")
)
if TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS not in ENVOY_5XX:
    raise ImproperlyConfigured(
        "TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS must be one of "
        + ", ".join(map(str, sorted(ENVOY_5XX)))
    )
# Envoy also sends its x-ratelimit-* headers (IETF draft 03) on rate-limited routes.
TOLLGATE_RATELIMIT_DRAFT03_HEADERS = (
    os.environ.get("TOLLGATE_RATELIMIT_DRAFT03_HEADERS", "0") == "1"
)
# Compile and publish a snapshot after every committed change (off only in tests that say so).
TOLLGATE_AUTO_PUBLISH = os.environ.get("TOLLGATE_AUTO_PUBLISH", "1") == "1"
