"""Settings for the CRMO infliximab registry, read from the environment (django-environ).

The embedded default (no environment at all) is a single-machine demo: SQLite in ./data and Celery
running tasks eagerly. DATABASE_URL and REDIS_URL switch to PostgreSQL and a real broker.
"""

import datetime as dt
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "data"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The fallback key only exists so `make run` works out of the box; outside the demo and DEBUG the
# app refuses to start with it (see "Hardening" below).
DEMO_SECRET_KEY = "insecure-demo-key-change-me-" + "x" * 24
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEMO_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# How many reverse proxies in front of the app append to X-Forwarded-For (0: none; the client's
# address is REMOTE_ADDR). The lockout, the API's throttles and the access log all read the client
# address through it. Set it to the real number: a larger one lets clients forge their address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "accounts.apps.SecondFactorAdminConfig",  # django.contrib.admin whose site asks for the code
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "knox",  # API tokens, hashed (the api app's ApiToken: see "API: tokens, throttling")
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

# Sign-in: lockout, two-factor, idle timeout (accounts/). django-axes counts failed sign-ins in
# the database (shared by every gunicorn worker); django-otp holds the authenticator apps (TOTP)
# and the recovery codes (static tokens).
INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
]
MIDDLEWARE += [
    "accounts.middleware.IdleTimeoutMiddleware",  # before OTPMiddleware: it may sign out
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]
# axes' backend first: it refuses a locked-out sign-in before any password is checked. Every
# authenticate() needs the request then (Django's test Client.login: pass request=HttpRequest()).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# Two separate counts, either of which locks: one account guessed from anywhere, and one address
# trying many accounts. A hospital behind one NAT address shares the second: raise the limit or
# tell axes the real client address (below) rather than dropping "ip_address".
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# A success does not clear the failures: it would clear the address's count too (a sprayer with
# one valid account could reset it); they expire after the cool-off.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# The stored attempts keep no search terms (a `next` may carry ?q=<name>) and no codes.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "next", "code", "token"]
# Behind TRUSTED_PROXY_COUNT reverse proxies (set above), the address they add to X-Forwarded-For.
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
)
# Who unlocks an account or resets a lost authenticator, named on the lockout and code pages.
SIGN_IN_HELP = env.str("SIGN_IN_HELP", default="the registry's administrator")
# Roles whose people must sign in with a second factor (registry.models.Role values, and
# "superuser"); anyone may turn it on for themselves, and the Django admin asks everyone for it.
TWO_FACTOR_REQUIRED_ROLES = env.list(
    "TWO_FACTOR_REQUIRED_ROLES", default=["data_manager", "superuser"]
)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="CRMO registry")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret
# Signed out after this long without a request (background polling does not count), and at the
# latest SESSION_COOKIE_AGE after signing in.
IDLE_TIMEOUT = dt.timedelta(minutes=env.int("IDLE_TIMEOUT_MINUTES", default=30))
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)  # seconds

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
# A running build writes a heartbeat on its row every EXPORT_HEARTBEAT_SECONDS (from a thread of
# its own, so a build waiting on a slow query still beats). One silent for EXPORT_STALE_AFTER has
# lost its worker (the OOM killer): the watcher (research.watch_exports, every minute) queues it
# again, or marks it failed once EXPORT_MAX_ATTEMPTS builds have started. Keep the staleness
# several heartbeats long: a busy database delays a beat, and a live build must not be restarted.
EXPORT_HEARTBEAT_SECONDS = env.float("EXPORT_HEARTBEAT_SECONDS", default=30.0)
EXPORT_STALE_AFTER = dt.timedelta(seconds=env.float("EXPORT_STALE_AFTER_SECONDS", default=300))
EXPORT_MAX_ATTEMPTS = env.int("EXPORT_MAX_ATTEMPTS", default=2)
# A request still queued this long after it was queued lost its message (Redis restarted empty):
# the watcher queues it again, within the same EXPORT_MAX_ATTEMPTS. Longer than the wait behind a
# busy worker: a second message is harmless (the build is claimed once), a failed export is not.
EXPORT_QUEUE_DEADLINE = dt.timedelta(minutes=env.float("EXPORT_QUEUE_DEADLINE_MINUTES", default=30))
# A built file can be downloaded for this many days; then the watcher deletes it (under
# EXPORT_ROOT only: an operator's --out file is the operator's) and the export is "expired".
EXPORT_DOWNLOAD_DAYS = env.int("EXPORT_DOWNLOAD_DAYS", default=30)

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
# The nightly run evaluates the courses whose data, guideline or horizon changed; once a week, on
# this day (crontab's day of week: 0 or sun is Sunday), it evaluates every course in scope.
EVALUATION_FULL_WEEKDAY = env.str("EVALUATION_FULL_WEEKDAY", default="sun")
_other_days = ",".join(
    day
    for day in ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    if day != EVALUATION_FULL_WEEKDAY.lower()[:3]
)
CELERY_BEAT_SCHEDULE = {
    "nightly-evaluation": {
        "task": "monitoring.evaluate_nightly",
        "schedule": crontab(hour=_hour, minute=_minute, day_of_week=_other_days),
        "options": _BEAT_OPTIONS,
    },
    "weekly-full-evaluation": {
        "task": "monitoring.evaluate_nightly",
        "schedule": crontab(hour=_hour, minute=_minute, day_of_week=EVALUATION_FULL_WEEKDAY),
        "kwargs": {"full": True},
        "options": _BEAT_OPTIONS,
    },
    "morning-digests": {
        "task": "monitoring.send_digests",
        "schedule": crontab(hour=_digest_hour, minute=_digest_minute),
        "options": _BEAT_OPTIONS,
    },
    # The outcomes page's course outcomes, an hour after the evaluation they follow.
    "nightly-course-outcomes": {
        "task": "research.refresh_course_outcomes",
        "schedule": crontab(hour=(_hour + 1) % 24, minute=_minute),
        "options": _BEAT_OPTIONS,
    },
    # Research exports always end: stale builds restarted or failed, expired files deleted.
    "export-watch": {
        "task": "research.watch_exports",
        "schedule": 60.0,
        "options": _BEAT_OPTIONS,
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CRMO registry <registry@localhost>")
# Links in emails point here (the address clinic staff use to reach the registry).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
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
        # axes logs every sign-in at INFO; failures and lockouts (WARNING) still show.
        "axes": {"level": "WARNING"},
    },
}

SIMPLE_HISTORY_REVERT_DISABLED = True

# Audit of reads (audit/): every read of identified data and every sign-in event is one row of an
# append-only access log, written by this middleware once per request.
INSTALLED_APPS += ["audit"]
MIDDLEWARE += ["audit.middleware.AccessLogMiddleware"]
AUDIT_TRUSTED_PROXIES = TRUSTED_PROXY_COUNT
# `manage.py purge_access_log` deletes rows older than this. 26 years: the longest a child's
# record itself is kept (NHS Records Management Code of Practice 2021: until the 25th birthday, or
# the 26th if 17 at the end of treatment), so who read a record is known as long as the record is.
AUDIT_RETENTION_YEARS = env.int("AUDIT_RETENTION_YEARS", default=26)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "api.authentication.TokenAuthentication",
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
        "MedicationStopReasonEnum": "registry.models.MedicationStopReason",
        "AdverseEventDecisionEnum": "registry.models.AdverseEventDecision",
        "VaccinationReviewDecisionEnum": "registry.models.VaccinationReviewDecision",
    },
}

# --- API: tokens, throttling --------------------------------------------------------------------
# Tokens: django-rest-knox keeps a SHA-512 digest of each, never the secret (api/models.py).
# A token expires API_TOKEN_TTL days after it is made (its owner may choose, up to a year).
API_TOKEN_TTL = dt.timedelta(days=env.int("API_TOKEN_TTL", default=90))
KNOX_TOKEN_MODEL = "api.ApiToken"  # noqa: S105 - a model's name
REST_KNOX = {"TOKEN_TTL": API_TOKEN_TTL, "AUTO_REFRESH": False}
# knox's own token table is swapped out for api.ApiToken: its migrations would create it anyway
# (one more table referencing auth_user, which a flush of the test database could not truncate).
MIGRATION_MODULES = {"knox": None}
# Throttles ("N/second|minute|hour|day"): per address for callers without credentials and for
# failed tokens, per person for the others. Past "failed_token" failures, every token from that
# address is refused (429 with Retry-After), unchecked, until the oldest failure ages out.
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "api.authentication.AnonymousThrottle",
    "api.authentication.UserThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
    "user": env.str("API_THROTTLE_USER", default="600/minute"),
    "failed_token": env.str("API_THROTTLE_FAILED_TOKEN", default="10/minute"),
}
# Behind a proxy (TRUSTED_PROXY_COUNT unset), every caller would share the proxy's address.
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT or None
# Bodies with a NUL character or JSON nested too deep are a 400 (api/parsers.py); a query
# string's NUL and no-store on every answer: config.middleware (RejectNul, NoStore).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "api.parsers.JSONParser",
    "api.parsers.FormParser",
    "api.parsers.MultiPartParser",
]
# The throttles' counters must be shared by every gunicorn worker: Redis when there is one, with a
# key prefix of its own (the cache is never flushed, as the broker may share the database; a
# different database or server with CACHE_REDIS_URL); the demo's one process keeps them in memory.
# Short socket timeouts: a Redis that is down costs a request a second at most, and the throttles
# then let it through (api/authentication.py).
_cache_redis_url = env.str("CACHE_REDIS_URL", default=REDIS_URL)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_redis_url,
            "KEY_PREFIX": "crmo-cache",
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
        if _cache_redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Hardening: CSP, HTTPS, cookies, secret key ----------------------------------------------------
# Demo mode is the embedded single-machine default of `make run`: SQLite (no DATABASE_URL), plain
# HTTP on loopback, the public fallback key. Anything else (a PostgreSQL deployment, compose) is
# production unless DEBUG: HTTPS only, secure cookies, HSTS and a real secret key.
DEMO_MODE = env.bool(
    "DJANGO_DEMO_MODE", default=DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
)
PRODUCTION = not DEBUG and not DEMO_MODE

# Keys published with the code (settings, compose, .env.example, the Dockerfile's build): with
# one of them anyone can forge sessions and unsubscribe links. Production refuses them outright;
# config.checks flags them and the tests' key (pyproject.toml) in `check --deploy`.
PUBLIC_SECRET_KEYS = frozenset(
    {
        DEMO_SECRET_KEY,
        "insecure-compose-key-change-me-set-DJANGO_SECRET_KEY-in-env",
        "change-me-to-a-long-random-string",
        "collectstatic-build-only-not-a-secret",
    }
)
if not SECRET_KEY and (DEBUG or DEMO_MODE):
    SECRET_KEY = DEMO_SECRET_KEY  # an empty DJANGO_SECRET_KEY= line in a demo's .env
if PRODUCTION and (
    SECRET_KEY in PUBLIC_SECRET_KEYS or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is missing, too short (under 50 characters) or a key published with "
        "the code. Set DJANGO_SECRET_KEY in the environment or .env to a new random value, e.g. "
        'the output of: python3 -c "import secrets; print(secrets.token_urlsafe(50))". '
        "(Only the SQLite demo and DEBUG run without one.)"
    )

INSTALLED_APPS += ["csp", "config.apps.ProjectConfig"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
# After whitenoise, which answers static files itself: those stay cacheable.
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
    "config.middleware.NoStoreMiddleware",
)
# Last: its 400 page gets the person's menu and every other middleware's headers.
MIDDLEWARE.append("config.middleware.RejectNulMiddleware")

# No inline script or style anywhere (templates use static files and json_script data blocks).
# img-src data: is for Swagger UI's icons (SVGs inlined in its stylesheet).
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:"],
        "frame-ancestors": [_NONE],
        "form-action": [_SELF],
        "base-uri": [_NONE],
        "object-src": [_NONE],
    },
}

# HTTPS: behind a TLS-terminating proxy that sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER).
# The container health checks call plain HTTP on 127.0.0.1: those paths are not redirected.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^health/"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
# The preload directive only allows a submission to the browsers' list (made by hand, elsewhere).
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True

# Access lines never carry query strings (searches by name or MRN): runserver's django.server
# lines lose them here, gunicorn's in config/gunicorn.conf.py.
_logging: dict[str, Any] = LOGGING
_logging["filters"]["no_query_strings"] = {"()": "config.log_filters.NoQueryStrings"}
_logging["formatters"]["django.server"] = {
    "()": "django.utils.log.ServerFormatter",
    "format": "[{server_time}] {message}",
    "style": "{",
}
_logging["handlers"]["django.server"] = {
    "class": "logging.StreamHandler",
    "formatter": "django.server",
}
_logging["loggers"]["django.server"] = {
    "handlers": ["django.server"],
    "level": "INFO",
    "propagate": False,
    "filters": ["no_query_strings"],
}
_logging["loggers"]["django.request"]["filters"].append("no_query_strings")
# Hardening ends ----------------------------------------------------------------------------------

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
EVALUATION_RUN_DEADLINE = dt.timedelta(hours=env.float("EVALUATION_RUN_DEADLINE_HOURS", default=6))
# /health/ turns red, and the morning watch emails the data managers (once per night), when no
# nightly evaluation finished within this many hours.
NIGHTLY_MAX_AGE = dt.timedelta(hours=env.float("NIGHTLY_MAX_AGE_HOURS", default=26))
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
HEALTH_CELERY_TIMEOUT = dt.timedelta(seconds=env.float("HEALTH_CELERY_TIMEOUT", default=2.0))
# A red check is logged once per probe by django-health-check as a one-line warning (no
# traceback); the 503 itself is not logged as a server error.
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
