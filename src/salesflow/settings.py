"""Django settings for salesflow, read from the environment in this one place.

Two profiles, chosen by ``SALESFLOW_ENV``:

* ``development`` (the default): the embedded set-up that ``make run`` starts on a fresh
  machine -- SQLite under ``var/``, a file-system Celery broker that needs no service,
  e-mail printed to the console. Every variable has a safe default.
* ``production``: PostgreSQL and a real broker. It refuses to start without the variables
  that must never have a default (``SECRET_KEY``, ``DATABASE_URL``, ``CELERY_BROKER_URL``,
  ``ALLOWED_HOSTS``).
"""

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Django's generic classes subscriptable at run time (``admin.ModelAdmin[Client]``), as the
# type checker sees them
django_stubs_ext.monkeypatch()

# src/salesflow/settings.py -> the project checkout (where roles/ and var/ live)
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("SALESFLOW_VAR_DIR", default=str(PROJECT_DIR / "var")))

env = environ.Env()
SALESFLOW_ENV = env.str("SALESFLOW_ENV", default="development")
if SALESFLOW_ENV not in ("development", "production"):
    raise ImproperlyConfigured(
        f"SALESFLOW_ENV must be 'development' or 'production', not {SALESFLOW_ENV!r}"
    )
PRODUCTION = SALESFLOW_ENV == "production"
# Unset means the development defaults by omission: then the web server and the worker
# start only on this machine (salesflow.security.development_defaults_refusal).
SALESFLOW_ENV_EXPLICIT = "SALESFLOW_ENV" in env.ENVIRON


def _required_in_production(name: str, default: str) -> str:
    """The variable's value; in production a missing variable stops the start-up."""
    if PRODUCTION and name not in env.ENVIRON:
        raise ImproperlyConfigured(
            f"{name} must be set in the environment when SALESFLOW_ENV=production"
        )
    value: str = env.str(name, default=default)
    return value


DEBUG = env.bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = _required_in_production(
    "SECRET_KEY", "development-only-secret-key-never-use-in-production"
)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when SALESFLOW_ENV=production")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "salesflow.static_files.StaticFilesConfig",  # django.contrib.staticfiles, minus node_modules/
    "django.contrib.humanize",
    "django.contrib.postgres",  # trigram similarity of client names (unused on SQLite)
    "axes",
    "django_filters",
    "django_celery_beat",
    "rest_framework",
    "knox",  # API tokens: stored as digests, with an expiry (django-rest-knox)
    "drf_spectacular",
    "viewflow",
    "viewflow.workflow",
    # the engine
    "salesflow",
    "salesflow.clients",
    "salesflow.watch",
    "salesflow.intake",
    "salesflow.audit",
    "salesflow.handoff",
    "salesflow.conveyor",
    "salesflow.queues",
    "salesflow.api",
    "salesflow.reports",
    "salesflow.activities",
    "salesflow.pay",
    "salesflow.targets",
    # the company's conveyors
    "flows",
]
if not PRODUCTION:
    INSTALLED_APPS.append("bench")  # `salesflow bench ...` (no models); not for production

MIDDLEWARE = [
    "salesflow.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # static files straight from the app server, compressed and cached (WhiteNoise)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # no page or API answer is kept in a cache (contacts, notes, exports)
    "salesflow.security.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # every page needs a signed-in user unless its view is marked @login_not_required
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # viewflow's frontend (it would add them itself; listed here to be seen)
    "viewflow.middleware.SiteMiddleware",
    "viewflow.middleware.HotwireTurboMiddleware",
    # login throttling (django-axes): last, to see the authentication's outcome
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five wrong passwords for one username -- from any addresses -- lock that username out
# for 15 minutes, and five from one address -- for any usernames -- lock that address
# out: spraying one password over many usernames, or one username from many addresses,
# is stopped as surely as guessing one pair.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Password reset e-mails asked for, per client address and per address typed in.
SALESFLOW_PASSWORD_RESET_RATE = env.str("SALESFLOW_PASSWORD_RESET_RATE", default="5/h")
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "salesflow/locked_out.html"
# The client's address, for the lockout and the web form's limit alike: REMOTE_ADDR, or
# behind PROXY_COUNT proxies the address the outermost one saw (salesflow.security).
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "salesflow.security.client_address"

ROOT_URLCONF = "salesflow.urls"
WSGI_APPLICATION = "salesflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # the engine's overrides of viewflow's templates (searched before the apps')
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default=_required_in_production(
            "DATABASE_URL", f"sqlite:///{VAR_DIR / 'salesflow.sqlite3'}"
        ),
    )
}
# Reuse connections and check them before use, so a restarted PostgreSQL is survived.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The embedded default runs web, worker and beat on one file: wait for the writer
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles a plan's expressions once its estimated cost is high,
    # which the reports' and pay's statements reach over a large history: ~70 ms of
    # compiling per statement, to save less than that on statements of a second or less
    # (the funnel at 1,000,000 tasks: 1.08 s with it, 0.90-0.98 s without). Off unless
    # DATABASE_URL says otherwise (?options=...).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A few indexes carry extra columns for PostgreSQL's index-only scans (Index.include:
# order_delivered, audit_process_carried, audit_qualified); SQLite, the embedded default,
# builds them without those columns, which is all it needs -- not worth a warning on every
# command there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks there at start-up
WHITENOISE_USE_FINDERS = not PRODUCTION  # development serves the apps' files unhashed
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # hashed, compressed files in production (run `salesflow collectstatic` first)
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- security --------------------------------------------------------------------------
# A working day's session; cookies only over HTTPS in production; HSTS for a year.
# SALESFLOW_PLAIN_HTTP=1 tries the production profile over plain HTTP (a laptop, no TLS
# in front): cookies without Secure, no redirect to HTTPS, no HSTS. Never for real use --
# the session would cross the network in clear text. Each setting can still be set alone.
PLAIN_HTTP = env.bool("SALESFLOW_PLAIN_HTTP", default=False)
_HTTPS = PRODUCTION and not PLAIN_HTTP
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (nginx, a load balancer).
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health endpoint is polled over plain HTTP by supervisors inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# E-mail: printed to the console in development, SMTP (EMAIL_URL) in production.


def email_settings(url: str, *, var_dir: Path) -> dict[str, Any]:
    """Django's e-mail settings for an ``EMAIL_URL`` -- every scheme django-environ
    accepts works (README, "E-mail"):

    * ``smtp://[user:password@]host[:port]`` (port 25), ``smtp+tls://`` and ``smtps://``
      (STARTTLS, port 587), ``smtp+ssl://`` (TLS from the first byte, port 465); user
      and password percent-encoded; no host: localhost;
    * ``filemail:///absolute/dir`` (or ``filemail://dir`` under ``SALESFLOW_VAR_DIR``,
      ``filemail://`` is ``var/mail``): one file per message -- django-environ drops the
      path's leading slash and leaves ``EMAIL_FILE_PATH`` unset for Django's backend;
    * ``consolemail://`` (printed), ``memorymail://`` (kept in memory, tests),
      ``dummymail://`` (dropped)."""
    config = environ.Env.email_url_config(url)
    scheme = url.partition(":")[0].lower()
    result: dict[str, Any] = {"EMAIL_BACKEND": config["EMAIL_BACKEND"]}
    if scheme == "filemail":
        path = Path(unquote(url.partition("://")[2]) or "mail")
        result["EMAIL_FILE_PATH"] = str(path if path.is_absolute() else var_dir / path)
    elif scheme.startswith("smtp"):
        ssl = bool(config.get("EMAIL_USE_SSL"))
        tls = bool(config.get("EMAIL_USE_TLS"))
        result.update(
            EMAIL_HOST=config["EMAIL_HOST"] or "localhost",
            EMAIL_PORT=config["EMAIL_PORT"] or (465 if ssl else 587 if tls else 25),
            EMAIL_HOST_USER=config["EMAIL_HOST_USER"] or "",
            EMAIL_HOST_PASSWORD=config["EMAIL_HOST_PASSWORD"] or "",
            EMAIL_USE_TLS=tls,
            EMAIL_USE_SSL=ssl,
        )
    return result


_email = email_settings(
    env.str("EMAIL_URL", default="smtp://localhost:25" if PRODUCTION else "consolemail://"),
    var_dir=VAR_DIR,
)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="salesflow@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: a broker directory on disk by default (no service to install), Redis in production.
BROKER_DIR = VAR_DIR / "broker"
# (a host named, though the directory broker ignores it: kombu warns about a missing one)
CELERY_BROKER_URL = _required_in_production("CELERY_BROKER_URL", "filesystem://localhost//")
# e.g. {"visibility_timeout": 7200} for Redis: a task unacknowledged that long (its worker
# died) is handed to another worker; it must exceed the longest task (docs/deploy.md).
CELERY_BROKER_TRANSPORT_OPTIONS = env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={})
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # any process may enqueue (a command, the web app) before a worker has ever run
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# ... but not forever: a job delivered this often without finishing (its worker killed each
# time, e.g. out of memory) is parked for an admin (salesflow.celery.count_delivery)
SALESFLOW_JOB_MAX_DELIVERIES = env.int("SALESFLOW_JOB_MAX_DELIVERIES", default=3)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = False
# Django's logging (with request and task ids) applies in the worker too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic jobs live in the database (django-celery-beat), editable in the admin; their
# defaults are in salesflow/schedules.py.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# One line per event with the request's or the Celery task's id; JSON in production.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "salesflow.logs.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s task=%(task_id)s]"
            " %(message)s"
        },
        "json": {"()": "salesflow.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain"),
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes announces itself at every start of every process: worth a line in a
    # production log, noise in a newcomer's terminal
    "loggers": {"axes.apps": {"level": "INFO" if PRODUCTION else "WARNING"}},
}

# --- salesflow -------------------------------------------------------------------------
# The engine finds the company's conveyors and roles here; it never imports flows/ itself.
SALESFLOW_FLOWS = env.list(
    "SALESFLOW_FLOWS",
    default=[
        "flows.conveyor.ConveyorFlow",
        "flows.reminders.RemindersFlow",
        "flows.sidetasks.SideTasksFlow",
        "flows.dataquality.DataQualityFlow",
        "flows.disputes.DisputesFlow",
    ],
)
# Start nodes the engine's intake uses: new leads, and repeat orders of known clients.
# What a stage page shows besides its own work: callables ``(request, task, work) -> HTML``
# the flows provide (the side tasks a stage handed over), found by name like the flows.
SALESFLOW_STAGE_PANELS = env.list(
    "SALESFLOW_STAGE_PANELS",
    default=["flows.sidetasks_views.stage_panel", "flows.disputes.stage_panel"],
)
# The start node of the pay disputes flow (a salesflow.pay.nodes.DisputeStart): a person
# disputes a line of their statement, a team lead decides (salesflow.pay.disputes).
SALESFLOW_PAY_DISPUTE_NODE = env.str(
    "SALESFLOW_PAY_DISPUTE_NODE", default="flows.disputes.DisputesFlow.start"
)
SALESFLOW_INTAKE_NODE = env.str(
    "SALESFLOW_INTAKE_NODE", default="flows.conveyor.ConveyorFlow.intake"
)
SALESFLOW_REPEAT_ORDER_NODE = env.str(
    "SALESFLOW_REPEAT_ORDER_NODE", default="flows.conveyor.ConveyorFlow.repeat_order"
)
SALESFLOW_ROLES_DIR = Path(env.str("SALESFLOW_ROLES_DIR", default=str(PROJECT_DIR / "roles")))
# the pay plans (salesflow.pay.plans): one TOML file per plan, checked at start-up
SALESFLOW_PAY_PLANS_DIR = Path(
    env.str("SALESFLOW_PAY_PLANS_DIR", default=str(SALESFLOW_ROLES_DIR / "pay"))
)

# --- clients: intake, de-duplication, the public web form, reactivation ----------------
# National phone numbers ("8 900 ...") are read as numbers of this country (ISO code).
SALESFLOW_PHONE_REGION = env.str("SALESFLOW_PHONE_REGION", default="RU")
# Names at least this similar (PostgreSQL trigram similarity, 0..1) make a probable duplicate.
SALESFLOW_DUPLICATE_NAME_SIMILARITY = env.float("SALESFLOW_DUPLICATE_NAME_SIMILARITY", default=0.6)
# Submissions of the public web form per client address (django-ratelimit's "N/s|m|h|d").
SALESFLOW_WEB_FORM_RATE = env.str("SALESFLOW_WEB_FORM_RATE", default="10/h")
# The reorder cycle of a client with a single delivery (others: the median gap between
# their deliveries); at most this many reactivations are opened per run, best buyers first.
SALESFLOW_REORDER_CYCLE_DAYS = env.int("SALESFLOW_REORDER_CYCLE_DAYS", default=90)
SALESFLOW_REACTIVATIONS_PER_RUN = env.int("SALESFLOW_REACTIVATIONS_PER_RUN", default=50)

# Caches: local memory by default (one process); production shares one cache between the
# web workers -- the web form's rate limit counts per address across all of them. Without
# CACHE_URL production uses the broker's Redis when the broker is Redis.
_default_cache = (
    CELERY_BROKER_URL
    if PRODUCTION and CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else "locmemcache://"
)
CACHES = {"default": env.cache_url("CACHE_URL", default=_default_cache)}
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    # The cache holds nothing that must survive (rate-limit counts, viewflow's avatar URLs on
    # every page): while Redis is away a read is a miss and a write is dropped -- logged --
    # instead of every page failing, and a Redis that hangs costs a request at most a second.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
    )
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# ...and the web form's limit lets requests through while it cannot count them.
RATELIMIT_FAIL_OPEN = True
# django-ratelimit: the client's address as the login throttling (django-axes) sees it.
RATELIMIT_IP_META_KEY = "salesflow.security.client_address"

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # integrations: "Authorization: Token <key>" (knox: only a digest is stored, and
        # the token expires); the web UI: its session, with CSRF
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "salesflow.api.pagination.Pages",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "salesflow.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "salesflow API",
    "DESCRIPTION": "Leads in, tasks along the conveyor, the client base (contacts masked).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ClientStatusEnum": "salesflow.clients.models.Client.Status",
        "LeadStatusEnum": "salesflow.clients.models.Lead.Status",
    },
}
# API tokens (django-rest-knox): stored as SHA-512 digests, valid this many days
# (`salesflow api-token USERNAME` makes one; docs/deploy.md says how to rotate them).
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("SALESFLOW_API_TOKEN_DAYS", default=90)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# A repeated Idempotency-Key answers with the first response for this long.
SALESFLOW_IDEMPOTENCY_KEY_DAYS = env.int("SALESFLOW_IDEMPOTENCY_KEY_DAYS", default=7)
# The stage whose completion delivers an order: the daily report's contribution ledger
# credits each delivered order to the people who carried it through its stages.
SALESFLOW_DELIVERY_NODE = env.str("SALESFLOW_DELIVERY_NODE", default="conveyor.delivery")
# Days the morning job missed (the broker or the worker was down) are built by its next run
# and at every worker's start -- looking at most this many days back.
SALESFLOW_REPORT_CATCH_UP_DAYS = env.int("SALESFLOW_REPORT_CATCH_UP_DAYS", default=31)

# --- activities: calls, meetings, e-mail and next steps on the client's timeline -----------
# The start node of the reminder flow (a salesflow.conveyor.stage.Begin node): a next step's
# date starts it, for whoever holds the client's deal then.
SALESFLOW_REMINDER_NODE = env.str(
    "SALESFLOW_REMINDER_NODE", default="flows.reminders.RemindersFlow.start"
)
# The company mailbox read on a schedule: imap://user:password@host:143/INBOX (imaps:// for
# TLS, the password URL-encoded); empty: no mailbox is read.
SALESFLOW_IMAP_URL = env.str("SALESFLOW_IMAP_URL", default="")
SALESFLOW_IMAP_TIMEOUT = env.int("SALESFLOW_IMAP_TIMEOUT", default=30)
# messages taken per run (the rest wait for the next one)
SALESFLOW_IMAP_BATCH = env.int("SALESFLOW_IMAP_BATCH", default=500)
# Mail from these domains is the company's own (outgoing); anything else is a client's.
SALESFLOW_MAIL_COMPANY_DOMAINS = env.list(
    "SALESFLOW_MAIL_COMPANY_DOMAINS", default=[DEFAULT_FROM_EMAIL.rpartition("@")[2].lower()]
)
# Attachments larger than this are listed, not kept.
SALESFLOW_MAIL_ATTACHMENT_MAX_BYTES = env.int(
    "SALESFLOW_MAIL_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024
)
# A telephone exchange's signed request older (or newer) than this is refused: a replay.
SALESFLOW_CALL_MAX_AGE_SECONDS = env.int("SALESFLOW_CALL_MAX_AGE_SECONDS", default=300)
