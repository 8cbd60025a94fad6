"""Settings, read from the environment (see ../shared/interfaces/operations.md).

With nothing set, the app runs on a SQLite file in the project folder and runs
background tasks in-process. `DATABASE_URL` switches to PostgreSQL, `REDIS_URL`
to Celery on Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEVELOPMENT_SECRET_KEY = "django-insecure-lemniscus-development-key-do-not-use-in-production"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key while DEBUG is off: set SECRET_KEY "
        "(or DEBUG=on for development)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]
ZIPPER_CORS_ORIGINS = env.list("ZIPPER_CORS_ORIGINS", default=["https://pro.doctolib.de"])
ZIPPER_RATE_LIMIT = env.str("ZIPPER_RATE_LIMIT", default="1200/min")
ZIPPER_MAX_BODY_BYTES = 256 * 1024
# Only for bench/zipper.py: routes the baseline endpoint `bench/insert`; never in production.
BENCH_BASELINE = env.bool("BENCH_BASELINE", default=False)

# CORS only for the Zipper API, only for Doctolib's origins; preflights need no token.
CORS_URLS_REGEX = r"^/api/zipper/.*$"
CORS_ALLOWED_ORIGINS = ZIPPER_CORS_ORIGINS
CORS_ALLOW_HEADERS = ["authorization", "content-type", "idempotency-key", "accept"]
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
CORS_EXPOSE_HEADERS = ["Retry-After", "Idempotency-Replayed"]
CORS_PREFLIGHT_MAX_AGE = 600

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "simple_history",
    "django_celery_beat",
    "localflavor",  # IBAN and BIC fields with German messages
    "organisations",
    "patients",
    "appointments",
    "billing",
    "tokens",
    "doctolib_bridge",
    "documentation",
    "audit",
    "outbox",
    "web",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Here, not among the staff middleware: nothing can take CSRF protection off a
    # page, and for the Zipper API (csrf_exempt, no cookies) it does next to nothing.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Runs STAFF_MIDDLEWARE, in that order, for every request but the Zipper API's.
    "lemniscus.middleware.StaffOnlyMiddleware",
]

STAFF_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "web.sitzung.SessionIdleMiddleware",  # each request moves the session's end
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "web.login_throttle.LoginThrottleMiddleware",  # failed logins per client address
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]
# The admin's and django-axes' checks look for their middleware in MIDDLEWARE; it is
# in STAFF_MIDDLEWARE, run by StaffOnlyMiddleware for the admin and every page
# (tests/layers/test_middleware.py checks that it is there and runs).
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "axes.W002"]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # throttles failed logins first
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins: after 5 for one e-mail address from one IP address the login is
# locked for 15 minutes; a successful login resets the count. Per IP address alone
# (many e-mail addresses tried): web.login_throttle, 30 in 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the login form's field (it holds the e-mail)
AXES_LOCKOUT_TEMPLATE = "web/locked.html"
AXES_VERBOSE = False

ROOT_URLCONF = "lemniscus.urls"

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
                "web.context_processors.undo",
                "web.sitzung.context",
            ],
        },
    },
]

WSGI_APPLICATION = "lemniscus.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # A persistent connection is checked before a request reuses it, so that a
    # restarted PostgreSQL costs a reconnect, not a 500 (tests/faults).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # psycopg prepares nothing without a threshold, not even what asks for it: only
    # lemniscus.db.fetch_prepared asks (Django's cursors bind on the client and never
    # prepare), and nothing reaches this threshold on its own.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "organisations.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "de"
# Our catalog first: it words in "Sie" what other apps' German catalogs say with "du".
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves what collectstatic gathered (the Docker image runs it).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker's task is delivered again
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    # Handing a task over fails fast when Redis is down (one more try, then the
    # outbox keeps it): a request never waits seconds for the broker after its commit.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 1,
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env.str("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:password@mail.example.org:587 (django-environ's format)
    vars().update(env.email_url("EMAIL_URL"))
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="")  # for the file-based backend
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="praxis@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.authentication.PersonalTokenAuthentication",
        "lemniscus.authentication.SessionAuthentication401",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "lemniscus.pagination.StaffPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "lemniscus.schema.ApiAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["lemniscus.parsers.JSONObjectParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "lemniscus.negotiation.AlwaysJSON",
    "EXCEPTION_HANDLER": "lemniscus.api.problem_exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "lemniscus practice API",
    "DESCRIPTION": "Staff REST API (/api/v1/) and Zipper bridge API (/api/zipper/v1/).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "billing.models.InvoiceStatus",
        "AppointmentStatusEnum": "appointments.models.AppointmentStatus",
        "ColumnKindEnum": "appointments.models.ColumnKind",
        "ServiceChainMatchEnum": "appointments.models.ServiceChainMatch",
        "ChangeKindEnum": ["patient.create", "patient.update"],
        # Export jobs and billing runs share the states of a background job.
        "JobStatusEnum": "billing.models.BillingRunStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

LOGIN_URL = "/anmelden/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/anmelden/"

# Idle timeout: a staff session ends this long after its last request (every request
# of the user extends it, web.sitzung.SessionIdleMiddleware; the page announces the
# end and keeps typed input, web/static/web/sitzung.js). 60 minutes: a therapist who
# documents after a treatment of up to an hour is not logged out between patients,
# and an unattended front desk does not stay open past a break.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=60)
if SESSION_IDLE_MINUTES < 1:
    raise ImproperlyConfigured("SESSION_IDLE_MINUTES must be at least 1.")
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60

if not DEBUG:
    SESSION_COOKIE_SECURE = PUBLIC_BASE_URL.startswith("https://")
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS (operations.md style, from the environment; `check --deploy` is clean with
# SECURE_SSL_REDIRECT=on and SECURE_HSTS_SECONDS set). Behind a proxy that ends TLS,
# SECURE_PROXY_SSL_HEADER names the header that says the request came in by https,
# e.g. `X-Forwarded-Proto` (its value must then be "https").
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's plain-http probe
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if _proxy_header := env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts only from our own static files (no
# inline scripts anywhere); inline style attributes stay allowed (the calendar
# places its blocks with them). Responses that must escape it say so (csp_exempt).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}
