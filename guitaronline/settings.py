"""GuitarOnline settings, read from the environment (and `.env` when present).

Every variable is listed with a comment in `.env.example` and in the README's
configuration table. Defaults are for a newcomer's laptop: SQLite, local-memory
cache, console e-mail. Production (`APP_ENV=production`) refuses to start with
an unsafe secret key or with DEBUG on.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEFAULT_SECRET_KEY = "change-me-insecure-development-key"

APP_ENV = env.str("APP_ENV", default="development")
IS_PRODUCTION = APP_ENV == "production"
DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])


def _check_production_safety() -> None:
    """Refuse to boot production with a guessable key or debug pages on."""
    problems = []
    if not SECRET_KEY or SECRET_KEY == DEFAULT_SECRET_KEY or SECRET_KEY.lower().startswith("change-me"):
        problems.append("SECRET_KEY is missing, the default, or a 'change-me' placeholder")
    if DEBUG:
        problems.append("DEBUG must be false")
    if problems:
        raise ImproperlyConfigured("APP_ENV=production refuses to start: " + "; ".join(problems) + ".")


if IS_PRODUCTION:
    _check_production_safety()

INSTALLED_APPS = [
    "guitaronline.apps.StaffAdminConfig",  # django.contrib.admin with the rate-limited staff login
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "apps.common",
    "apps.identity",
    "apps.audit",
    "apps.teachers",
    "apps.scheduling",
    "apps.billing",
    "apps.booking",
    "apps.lessons",
    "apps.notifications",
    "apps.admin_ops",
]

MIDDLEWARE = [
    # First: every response (redirects and refusals included) carries X-Request-ID and gets an access line.
    "apps.common.request_ids.RequestIdMiddleware",
    "apps.common.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.common.middleware.StaticPolicyCSPMiddleware",  # django-csp's, policy built once
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.common.middleware.JsonErrorMiddleware",
    "apps.common.middleware.JsonBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "guitaronline.urls"
WSGI_APPLICATION = "guitaronline.wsgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite is the embedded default for trying the app; PostgreSQL (psycopg 3) is
# what production, CI and docker compose use.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that reads the socket instead of sending `SELECT 1`
    # before every request (guitaronline/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "guitaronline.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side parameter binding lets psycopg prepare the statements the
    # services repeat (lock, update, insert), so PostgreSQL stops re-planning them.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
        "DB_SERVER_SIDE_BINDING", default=True
    )
    # A row lock is waited for at most this long, then the statement fails (a clean 409 to the
    # client, not a hung request). Set once per connection, at connect time: no per-request SET.
    DB_LOCK_TIMEOUT_MS = env.int("DB_LOCK_TIMEOUT_MS", default=5000)
    DATABASES["default"]["OPTIONS"]["options"] = f"-c lock_timeout={DB_LOCK_TIMEOUT_MS}"
else:
    # Let concurrent writers wait for the file lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.User"

# --- Cache (rate-limit counters live here) -------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "apps.common.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="guitaronline"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "guitaronline"}}

# --- Passwords ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic` first (the Docker image runs it).
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=IS_PRODUCTION)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- HTTPS and security headers (`manage.py check --deploy` is clean with the SECURE_* env set) -------
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Redirect plain HTTP to HTTPS. Off by default: `make run` and docker compose serve plain HTTP.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# The balancer's probes and Prometheus talk plain HTTP to each instance: never redirected.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Behind a TLS-terminating balancer: "HTTP_X_FORWARDED_PROTO,https" (the header it sets, and the value
# that means HTTPS). Only set it when the balancer overwrites that header on every request.
_proxy_ssl_header = [part.strip() for part in env.str("SECURE_PROXY_SSL_HEADER", default="").split(",") if part.strip()]
if _proxy_ssl_header and (len(_proxy_ssl_header) != 2 or not _proxy_ssl_header[0].startswith("HTTP_")):
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must look like HTTP_X_FORWARDED_PROTO,https.")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None
# Content-Security-Policy (django-csp) on every response: only our own scripts, styles and images.
# Swagger UI (/docs, its assets from drf-spectacular-sidecar, served here) runs its start-up script
# from a URL (SpectacularSwaggerSplitView), so no inline script is needed; its one inline <style>
# block is allowed by its hash. The admin site needs nothing inline.
# sha256 of the <style> block in drf-spectacular's swagger_ui.html (apps/common/tests/test_security_headers.py
# recomputes it from the installed template, so an upgrade that changes it fails a test, not the page).
SWAGGER_UI_INLINE_STYLE_HASH = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, SWAGGER_UI_INLINE_STYLE_HASH],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Django's defaults, stated: no Referer to other sites, a window of our own for our pages.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Largest request body read (bytes); past it an API request gets 413 `payload_too_large`.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.identity.authentication.BearerJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.common.pagination.LimitOffsetPage",
    "PAGE_SIZE": 20,
    # orjson: same JSON, a fraction of the CPU (decimals still leave as strings).
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    # Strict JSON: refuses NaN, infinite numbers, duplicate keys, NUL, deep nesting (apps/common/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["apps.common.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "apps.common.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.common.schema.ApiAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=30)
REFRESH_TOKEN_EXPIRE_DAYS = env.int("REFRESH_TOKEN_EXPIRE_DAYS", default=30)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_EXPIRE_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "SIGNING_KEY": SECRET_KEY,
    "ALGORITHM": "HS256",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "GuitarOnline API",
    "DESCRIPTION": "Backend of an online guitar school: packages, slots, bookings, lessons, notifications.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Tag operations by domain (booking, billing...) rather than one "api" bucket.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Our PATCH views validate their serializers in full (`status` is required on the status endpoints;
    # optional fields say required=False), so PATCH bodies share the POST component instead of an
    # all-optional "Patched..." copy that would document required fields as optional.
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "apps.identity.models.Role",
        "SlotStatusEnum": "apps.scheduling.models.SlotStatus",
        "BookingStatusEnum": "apps.booking.models.BookingStatus",
        "PackageStatusEnum": "apps.billing.models.PackageStatus",
        "PaymentStatusEnum": "apps.billing.models.PaymentStatus",
        "LessonStatusEnum": "apps.lessons.models.LessonStatus",
        "NotificationStatusEnum": "apps.notifications.models.NotificationStatus",
        "OutboxEventStatusEnum": "apps.audit.models.OutboxEvent.Status",
    },
    "APPEND_COMPONENTS": {
        "schemas": {
            "ErrorEnvelope": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message", "details"],
                        "properties": {
                            "code": {"type": "string", "example": "validation_error"},
                            "message": {"type": "string"},
                            "details": {"type": "object", "additionalProperties": True},
                        },
                    }
                },
            }
        }
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.common.schema.add_error_responses",
    ],
}

# --- Domain settings ----------------------------------------------------------------------
BOOKING_HOLD_MINUTES = env.int("BOOKING_HOLD_MINUTES", default=10)
BOOKING_REFUND_WINDOW_HOURS = env.int("BOOKING_REFUND_WINDOW_HOURS", default=24)
# send_lesson_reminders: a scheduled lesson starting within this many hours gets its one reminder.
LESSON_REMINDER_HOURS = env.int("LESSON_REMINDER_HOURS", default=24)

AUTH_RATE_LIMIT_WINDOW_SECONDS = env.int("AUTH_RATE_LIMIT_WINDOW_SECONDS", default=60)
AUTH_RATE_LIMIT_REGISTER_REQUESTS = env.int("AUTH_RATE_LIMIT_REGISTER_REQUESTS", default=5)
AUTH_RATE_LIMIT_LOGIN_REQUESTS = env.int("AUTH_RATE_LIMIT_LOGIN_REQUESTS", default=10)
AUTH_RATE_LIMIT_REFRESH_REQUESTS = env.int("AUTH_RATE_LIMIT_REFRESH_REQUESTS", default=20)
TRUSTED_PROXY_IPS = env.list("TRUSTED_PROXY_IPS", default=[])
RATELIMIT_USE_CACHE = "default"
# If the cache is down, refuse rather than let an attacker through unlimited.
RATELIMIT_FAIL_OPEN = False

OUTBOX_WORKER_MODE = env.str("OUTBOX_WORKER_MODE", default="once")
OUTBOX_WORKER_POLL_SECONDS = env.float("OUTBOX_WORKER_POLL_SECONDS", default=10)
OUTBOX_WORKER_BATCH_SIZE = env.int("OUTBOX_WORKER_BATCH_SIZE", default=100)
OUTBOX_WORKER_MAX_RETRIES = env.int("OUTBOX_WORKER_MAX_RETRIES", default=5)
OUTBOX_WORKER_BASE_BACKOFF_SECONDS = env.float("OUTBOX_WORKER_BASE_BACKOFF_SECONDS", default=30)
OUTBOX_WORKER_MAX_BACKOFF_SECONDS = env.float("OUTBOX_WORKER_MAX_BACKOFF_SECONDS", default=300)

# --- Metrics (GET /metrics, apps/admin_ops/metrics.py) ---------------------------------------------
# Clients (IP resolved as for the rate limits) in these CIDRs, or sending `Authorization: Bearer
# <METRICS_TOKEN>`, may scrape; everyone else gets 404. An empty token turns token access off.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
for _cidr in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_cidr.strip(), strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_exc}") from None

# --- E-mail (console by default; SMTP in production) --------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="GuitarOnline <no-reply@guitaronline.local>")

# --- Logging ----------------------------------------------------------------------------------
# Every record carries `request_id` (apps/common/request_ids.py; "-" outside a request).
# LOG_FORMAT=json: one JSON object per line (python-json-logger) for the API, the worker and commands.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "logging.Formatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            "defaults": {"request_id": "-"},
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "message", "request_id"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            "defaults": {"request_id": "-"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives `django` its own DEBUG-only handler; everything goes through root instead.
        "django": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # 4xx answers are part of the contract, not operator news.
        "django.request": {"level": "ERROR"},
        # runserver's own request line; the access line above replaces it.
        "django.server": {"level": "WARNING"},
    },
}
