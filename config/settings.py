"""Settings for the CRMO infliximab registry, read from the environment (django-environ).

The embedded default (no environment at all) is a single-machine demo: SQLite in ./data and Celery
running tasks eagerly. DATABASE_URL and REDIS_URL switch to PostgreSQL and a real broker.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "data"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The fallback key only exists so `make run` works out of the box; production sets its own.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-demo-key-change-me-" + "x" * 24)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "registry",
    "monitoring",
    "research",
    "clinic",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "clinic.context_processors.memberships",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'registry.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(exist_ok=True)
    # SQLite cannot hold the lab results' NULLS NOT DISTINCT unique constraint (Django creates no
    # index and warns); on the demo database the lab import alone refuses duplicates.
    SILENCED_SYSTEM_CHECKS = ["models.W047"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["registry.auth.MembershipBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# Clinical dates ("given on", "today") are the clinic's local dates: set the clinic's zone.
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
# Third-party assets come from npm (package-lock.json), installed into node_modules by `make
# install` and by the image build; never from a CDN (hospitals run offline).
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The image runs collectstatic and sets the hashed, compressed storage (see the Dockerfile);
    # `make run` and the tests serve the files as they are, straight from the finders.
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE", default="django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_MANIFEST_STRICT = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "clinic:home"
LOGOUT_REDIRECT_URL = "login"

# Celery: no REDIS_URL means no broker, so tasks run in-process (the embedded demo).
REDIS_URL = env.str("REDIS_URL", default="")
# Even an eager task opens a producer (to serialise its arguments as a worker would): name the
# in-memory transport's host, or kombu warns "No hostname was supplied" on every first publish.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A clinical save must not wait for a broker that is down. The on-commit enqueue publishes once,
# without retry and without touching the result store (monitoring.tasks), and gives up when Redis
# refuses (at once), does not answer a connect (after CELERY_BROKER_CONNECT_TIMEOUT) or stops
# answering on an open connection (after CELERY_BROKER_SOCKET_TIMEOUT); it logs, the save returns
# and the nightly run catches up. Without these redis-py waits for the kernel's connect timeout
# (about 2 minutes) and, on a half-open connection, forever. The timeouts bound one attempt only:
# the worker and beat still reconnect in their own loop (broker_connection_retry: 100 attempts
# 2-30 s apart, about 45 minutes), and other publishes keep Celery's default retry (3 more
# attempts 0.2 s apart: a chord's callback from the worker, say). Raise them for a distant Redis.
_broker_connect_timeout = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=1.0)
_broker_socket_timeout = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": _broker_connect_timeout,
    "socket_timeout": _broker_socket_timeout,
    "retry_on_timeout": False,  # redis-py would repeat a timed-out command once more
    # A connection opened on first use (a publish) tries once (kombu's default: for up to 4 s).
    "max_retries": 0,
}
# The result store is the same Redis (Celery's defaults: no connect timeout, 120 s reads).
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = _broker_connect_timeout
CELERY_REDIS_SOCKET_TIMEOUT = _broker_socket_timeout
CELERY_REDIS_RETRY_ON_TIMEOUT = False

# De-identified research exports (research/): built files live here, outside any served folder.
EXPORT_ROOT = Path(env.str("EXPORT_ROOT", default=str(DATA_DIR / "exports")))

# The bulk lab import (POST /api/v1/lab-results/import/) refuses more with 413 (split the file):
# one import is validated and saved in one request's transaction, so these bound its time and
# memory. Bytes: of the body, and of an uploaded file.
LAB_IMPORT_MAX_ROWS = env.int("LAB_IMPORT_MAX_ROWS", default=5000)
LAB_IMPORT_MAX_BYTES = env.int("LAB_IMPORT_MAX_BYTES", default=2 * 1024 * 1024)

# Nightly evaluation of every course in scope, fanned out in chunks of this many courses.
EVALUATION_CHUNK_SIZE = env.int("EVALUATION_CHUNK_SIZE", default=500)
NIGHTLY_EVALUATION_AT = env.str("NIGHTLY_EVALUATION_AT", default="02:00")  # clinic's local time
_hour, _minute = (int(part) for part in NIGHTLY_EVALUATION_AT.split(":"))
# The morning digest: beat starts it here; it waits for the night's evaluation to finish.
DIGEST_AT = env.str("DIGEST_AT", default="06:30")
_digest_hour, _digest_minute = (int(part) for part in DIGEST_AT.split(":"))
# Beat sends each run once, at its minute: a broker down then (restarting at 02:00) would skip the
# night. So beat keeps trying for about a quarter of an hour, and keeps no result (nobody reads
# it, and waiting on the result store would come first and not be retried).
_BEAT_OPTIONS = {
    "ignore_result": True,
    "retry": True,
    "retry_policy": {
        "max_retries": 30,
        "interval_start": 0,
        "interval_step": 10,
        "interval_max": 30,
    },
}
CELERY_BEAT_SCHEDULE = {
    "nightly-evaluation": {
        "task": "monitoring.evaluate_nightly",
        "schedule": crontab(hour=_hour, minute=_minute),
        "options": _BEAT_OPTIONS,
    },
    "morning-digests": {
        "task": "monitoring.send_digests",
        "schedule": crontab(hour=_digest_hour, minute=_digest_minute),
        "options": _BEAT_OPTIONS,
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CRMO registry <registry@localhost>")
# Links in emails point here (the address clinic staff use to reach the registry).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Logs never carry patient identifiers: code logs registry codes and primary keys only.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"one_line_denials": {"()": "config.log_filters.OneLineDenials"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # A refusal (403) is an expected answer: one line, not a traceback.
        "django.request": {"filters": ["one_line_denials"]},
        # In-process (eager) tasks would log a "Task … succeeded" line for each of them, dozens
        # per demo load or form save; failures (ERROR) still show. A worker logs them as usual.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

SIMPLE_HISTORY_REVERT_DISABLED = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.RolePermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DATE_INPUT_FORMATS": ["iso-8601"],
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRMO infliximab registry API",
    "DESCRIPTION": (
        "The registry's clinical record and guideline alerts over HTTP, scoped to the caller's "
        "sites. Writes validate exactly as the web UI does and re-evaluate the course. No hard "
        "deletes: a correction is an update (PATCH/PUT with If-Match), kept in the history."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page works offline: Swagger UI's assets come from drf-spectacular-sidecar.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Alert statuses appear as status, from_status and to_status: one enum, one name.
    "ENUM_NAME_OVERRIDES": {
        "AlertStatusEnum": "monitoring.models.AlertStatus",
        "StopReasonEnum": "registry.models.StopReason",
        "RegimenReasonEnum": "registry.models.RegimenReason",
        "ReviewDecisionEnum": "registry.models.ReviewDecision",
    },
}

# --- Operations: health, error reporting, workers ---------------------------------------------
# A task whose worker process died under it (the OOM killer): Celery retries it after
# EVALUATION_RETRY_DELAY seconds, counted against its max_retries (5 for the evaluation's chunks),
# and requeues it if the retry cannot be sent; with acks_late the message was never acknowledged.
# A chunk whose retries are spent fails, and so does its run (monitoring.tasks.fail_nightly).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_RETRY_ON_WORKER_LOST = True
EVALUATION_RETRY_DELAY = env.int("EVALUATION_RETRY_DELAY", default=30)
# A run still "running" this long after it started is marked failed (its chord was lost): the
# digest stops waiting for it.
EVALUATION_RUN_DEADLINE = timedelta(hours=env.float("EVALUATION_RUN_DEADLINE_HOURS", default=6))
# /health/ turns red, and the morning watch emails the data managers (once per night), when no
# nightly evaluation finished within this many hours.
NIGHTLY_MAX_AGE = timedelta(hours=env.float("NIGHTLY_MAX_AGE_HOURS", default=26))
# The watch runs after the digest's four hours of waiting (DIGEST_AT + 4 h 30 by default).
NIGHTLY_WATCH_AT = env.str(
    "NIGHTLY_WATCH_AT",
    default=f"{(_digest_hour + 4 + (_digest_minute + 30) // 60) % 24:02d}:"
    f"{(_digest_minute + 30) % 60:02d}",
)
_watch_hour, _watch_minute = (int(part) for part in NIGHTLY_WATCH_AT.split(":"))
CELERY_BEAT_SCHEDULE["nightly-watch"] = {
    "task": "monitoring.watch_nightly",
    "schedule": crontab(hour=_watch_hour, minute=_watch_minute),
    "options": _BEAT_OPTIONS,
}
# /health/ (config/health.py): anonymous callers get 200 or 503 only; superusers, data managers
# and a monitor sending "Authorization: Bearer <HEALTH_CHECK_TOKEN>" (unset: no token works) see
# which check failed. /healthz stays the container's cheap liveness probe.
HEALTH_CHECK_TOKEN = env.str("HEALTH_CHECK_TOKEN", default="")
HEALTH_CELERY_TIMEOUT = timedelta(seconds=env.float("HEALTH_CELERY_TIMEOUT", default=2.0))
# A red check is logged once per probe by django-health-check as a one-line warning (no
# traceback); the 503 itself is not logged as a server error.
_logging: Any = LOGGING
_logging["filters"]["quiet_readiness"] = {"()": "config.log_filters.QuietReadiness"}
_logging["filters"]["one_line_check_failures"] = {"()": "config.log_filters.OneLineCheckFailures"}
_logging["loggers"]["django.request"].setdefault("filters", []).append("quiet_readiness")
_logging["loggers"]["health_check"] = {"filters": ["one_line_check_failures"]}
# Error reports to a self-hosted Sentry or GlitchTip, when SENTRY_DSN is set; scrubbed of personal
# data before they leave (config/error_reporting.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
if SENTRY_DSN:
    from config.error_reporting import init_error_reporting

    init_error_reporting(SENTRY_DSN, environment=SENTRY_ENVIRONMENT)
