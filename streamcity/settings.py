"""StreamCity settings: one module, every integration switched on by its environment variable.

With no environment at all StreamCity runs embedded: SQLite, the in-process bus and the
in-memory channel layer. KAFKA_BOOTSTRAP_SERVERS, REDIS_URL and DATABASE_URL switch to the
real services. See .env.example for every variable.
"""

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# Runtime files (SQLite database, the generated demo secret key, collected static files): private to
# the account that runs StreamCity (0700; its files 0600: the database holds password hashes and sessions).
VAR_DIR = Path(env.str("STREAMCITY_VAR_DIR", default=str(BASE_DIR / "var")))

# Secure by default: DEBUG only when asked for in so many words.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The local demo (`make demo`): plain http on 127.0.0.1, a secret key generated in var/. Everything
# else (no STREAMCITY_DEMO) is production: DJANGO_SECRET_KEY required, https only, secure cookies.
STREAMCITY_DEMO = env.bool("STREAMCITY_DEMO", default=False)
LOCAL = DEBUG or STREAMCITY_DEMO


def _secret_key() -> str:
    """SECRET_KEY from the environment; for the demo (or DEBUG) a random key kept in var/ (never in the repo)."""
    key = env.str("DJANGO_SECRET_KEY", default="")
    if key:
        return key
    if not LOCAL:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set in production; for the local demo set STREAMCITY_DEMO=true "
            "(`make demo` does)"
        )
    from streamcity.kernel.files import private_dir, private_file, private_file_create

    private_dir(VAR_DIR)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        private_file_create(path, secrets.token_urlsafe(50))  # another process may win: its key is kept
    return private_file(path).read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "streamcity.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "leaflet",
    "axes",
    "streamcity",
    "transit",
    "alerts",
    "simulators",
    "benchmarks",  # the benchmark commands (benchmarks/: no product module imports it)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "streamcity.kernel.security.RequestValidationMiddleware",  # NUL, control characters, over-long values: 400
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]

ROOT_URLCONF = "streamcity.urls"
ASGI_APPLICATION = "streamcity.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# -- database: SQLite file by default, PostgreSQL with DATABASE_URL ---------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'streamcity.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        from streamcity.kernel.files import private_sqlite

        private_sqlite(Path(DATABASES["default"]["NAME"]), VAR_DIR)
    # WAL lets the web server read while the bridge writes; IMMEDIATE avoids lock upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    # Keep connections too: reopening one per bridge batch (WAL pragmas, functions) was a large part of the bridge.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- channel layer: in-memory by default, Redis with REDIS_URL --------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's PubSub layer that tells which groups are watched (streamcity.kernel.layers)
            "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="streamcity.kernel.layers.RedisPubSubLayer"),
            # the prefix of its Redis channels: several StreamCity instances (or benchmark runs) can share a Redis
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi")},
        }
    }
else:
    # A server process takes the live map's frames on one channel (streamcity.kernel.fanout.LocalGroups):
    # room for a tick's frame of every group it watches; the default capacity is 100 a channel (and
    # channels 4.3's in-memory layer does not compile a per-channel `channel_capacity`).
    CHANNEL_LAYERS = {"default": {"BACKEND": "streamcity.kernel.layers.InMemoryLayer", "CONFIG": {"capacity": 10_000}}}

# -- event bus: in-process by default, Kafka with KAFKA_BOOTSTRAP_SERVERS ----------------------
KAFKA_BOOTSTRAP_SERVERS = env.str("KAFKA_BOOTSTRAP_SERVERS", default="")
KAFKA_TOPIC_PREFIX = env.str("KAFKA_TOPIC_PREFIX", default="")
KAFKA_CONFIG = {"bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS, "client.id": env.str("KAFKA_CLIENT_ID", default="streamcity")}
if env.str("KAFKA_SECURITY_PROTOCOL", default=""):
    # Confluent Cloud: SASL_SSL with PLAIN, the API key as username and the secret as password.
    KAFKA_CONFIG.update(
        {
            "security.protocol": env.str("KAFKA_SECURITY_PROTOCOL"),
            "sasl.mechanisms": env.str("KAFKA_SASL_MECHANISM", default="PLAIN"),
            "sasl.username": env.str("KAFKA_SASL_USERNAME", default=""),
            "sasl.password": env.str("KAFKA_SASL_PASSWORD", default=""),
        }
    )
# A consumer that dies without leaving its group holds its partitions until this timeout:
# 10 s instead of librdkafka's 45 s, so a crashed worker's replacement takes over quickly.
# A consumer whose pre-fetch queue has filled up waits fetch.queue.backoff.ms before it fetches
# again: librdkafka's default of a second left a consumer catching up on a backlog stalled for
# most of each second (librdkafka issue #2879); 10 ms keeps the queue fed.
KAFKA_CONSUMER_CONFIG = {
    "session.timeout.ms": env.int("KAFKA_SESSION_TIMEOUT_MS", default=10_000),
    "heartbeat.interval.ms": env.int("KAFKA_HEARTBEAT_INTERVAL_MS", default=2_000),
    "fetch.queue.backoff.ms": env.int("KAFKA_FETCH_QUEUE_BACKOFF_MS", default=10),
}
STREAMCITY_PARTITIONS = env.int("STREAMCITY_PARTITIONS", default=6)
KSQLDB_URL = env.str("KSQLDB_URL", default="")
# ksqlDB on Confluent Cloud: basic auth with the ksqlDB cluster's API key and secret.
KSQLDB_USERNAME = env.str("KSQLDB_USERNAME", default="")
KSQLDB_PASSWORD = env.str("KSQLDB_PASSWORD", default="")

# -- anomaly detection (built-in processors; the ksqlDB scripts get the same values) ---------------
# Event time: an event may arrive this many seconds out of order and still count; older is dropped.
STREAMCITY_DETECTION_GRACE_SECONDS = env.float("STREAMCITY_DETECTION_GRACE_SECONDS", default=30.0)
# Wall seconds after which a partition that delivers nothing stops holding event time back.
STREAMCITY_IDLE_PARTITION_SECONDS = env.float("STREAMCITY_IDLE_PARTITION_SECONDS", default=5.0)
# Event time a restarted processor reads again to rebuild windows, episodes and silences.
STREAMCITY_DETECTION_REPLAY_SECONDS = env.float("STREAMCITY_DETECTION_REPLAY_SECONDS", default=1800.0)
# Surges: tap-ons per station (a parent station and its platforms) per tumbling window, against
# what is usual there then (alerts.detection.surge): a surge is at least MULTIPLE x the usual count
# plus SIGMAS Poisson standard deviations, and at least FLOOR taps. The usual count comes from the
# simulator's demand model, else is learned per station and hour; until then THRESHOLD is used
# (the ksqlDB script keeps THRESHOLD only).
STREAMCITY_SURGE_WINDOW_SECONDS = env.int("STREAMCITY_SURGE_WINDOW_SECONDS", default=300)
STREAMCITY_SURGE_THRESHOLD = env.int("STREAMCITY_SURGE_THRESHOLD", default=60)
STREAMCITY_SURGE_MULTIPLE = env.float("STREAMCITY_SURGE_MULTIPLE", default=1.5)
STREAMCITY_SURGE_SIGMAS = env.float("STREAMCITY_SURGE_SIGMAS", default=3.0)
STREAMCITY_SURGE_FLOOR = env.int("STREAMCITY_SURGE_FLOOR", default=15)
# Punctuality: on time is from EARLY seconds early to LATE seconds late; later opens a delay alert.
STREAMCITY_EARLY_SECONDS = env.int("STREAMCITY_EARLY_SECONDS", default=60)
STREAMCITY_LATE_SECONDS = env.int("STREAMCITY_LATE_SECONDS", default=300)
# Breakdowns: in service but not moving for this long, away from a stop or terminal.
STREAMCITY_STALLED_SECONDS = env.int("STREAMCITY_STALLED_SECONDS", default=300)
# Silent vehicles: in service and no report for this long (event time).
STREAMCITY_SILENT_SECONDS = env.int("STREAMCITY_SILENT_SECONDS", default=120)
# Bunching below LOW x the scheduled headway, a gap above HIGH x (the 75 % / 125 % convention).
STREAMCITY_BUNCHING_LOW = env.float("STREAMCITY_BUNCHING_LOW", default=0.75)
STREAMCITY_BUNCHING_HIGH = env.float("STREAMCITY_BUNCHING_HIGH", default=1.25)

# -- simulator --------------------------------------------------------------------------------
# A GTFS feed (folder, .zip or URL) to simulate instead of the built-in city (as --gtfs does).
STREAMCITY_GTFS = env.str("STREAMCITY_GTFS", default="")
# HH:MM the simulated clock starts at when --start is not given (default: now in the feed's time zone).
STREAMCITY_SIM_START = env.str("STREAMCITY_SIM_START", default="")

# GTFS imports (transit.gtfs.reader), refused with an error naming the file beyond these bounds:
# uncompressed bytes of one file and of the whole feed, the compression ratio of a zip member (text
# compresses 5-15x; a zip bomb ~1000x), and for a URL the bytes and the seconds of the whole download.
# Downloads never go to loopback, private or link-local addresses (nor redirect there) unless
# `importgtfs --allow-private-network` is given.
STREAMCITY_GTFS_MAX_FILE_BYTES = env.int("STREAMCITY_GTFS_MAX_FILE_BYTES", default=1 << 30)
STREAMCITY_GTFS_MAX_TOTAL_BYTES = env.int("STREAMCITY_GTFS_MAX_TOTAL_BYTES", default=2 << 30)
STREAMCITY_GTFS_MAX_RATIO = env.float("STREAMCITY_GTFS_MAX_RATIO", default=100.0)
STREAMCITY_GTFS_MAX_DOWNLOAD_BYTES = env.int("STREAMCITY_GTFS_MAX_DOWNLOAD_BYTES", default=512 << 20)
STREAMCITY_GTFS_DOWNLOAD_SECONDS = env.float("STREAMCITY_GTFS_DOWNLOAD_SECONDS", default=300.0)

# -- live map ---------------------------------------------------------------------------------
# Seconds between two frames sent to the browsers; every change in between rides in one frame.
STREAMCITY_FRAME_INTERVAL = env.float("STREAMCITY_FRAME_INTERVAL", default=0.25)
# WebSocket keep-alive of runstreamcity's Daphne (the daphne CLI has --ping-interval/--ping-timeout):
# a client that stops reading never answers a ping and is dropped, which bounds what the server
# buffers for it.
STREAMCITY_WS_PING_INTERVAL = env.float("STREAMCITY_WS_PING_INTERVAL", default=20)
STREAMCITY_WS_PING_TIMEOUT = env.float("STREAMCITY_WS_PING_TIMEOUT", default=30)
# How often an open /ws/ops/ socket re-checks that its session and operator are still valid.
STREAMCITY_WS_SESSION_CHECK_SECONDS = env.float("STREAMCITY_WS_SESSION_CHECK_SECONDS", default=30)
# The bridge writes the vehicles changed since its last write at most this often (seconds): one
# row per vehicle per write, however many reports it had meanwhile (transit.streams.VehicleBridge).
STREAMCITY_BRIDGE_WRITE_INTERVAL = env.float("STREAMCITY_BRIDGE_WRITE_INTERVAL", default=0.5)
# A vehicle not heard of for this long (wall clock) is left out of snapshots.
STREAMCITY_VEHICLE_STALE_SECONDS = env.int("STREAMCITY_VEHICLE_STALE_SECONDS", default=300)

# The live map opens on the running feed's extent unless MAP_CENTER_LAT/LON are set (then there).
MAP_CENTER_FIXED = bool(env.str("MAP_CENTER_LAT", default="") or env.str("MAP_CENTER_LON", default=""))

# History (docs/history.md): one position per vehicle at most this often (seconds), or on a change of
# course of this many degrees; rows older than the retention (days, the SQLite demo keeps 2) are
# pruned by the history consumer every STREAMCITY_HISTORY_PRUNE_SECONDS and by `manage.py prunehistory`.
STREAMCITY_HISTORY_POSITION_SECONDS = env.float("STREAMCITY_HISTORY_POSITION_SECONDS", default=15.0)
STREAMCITY_HISTORY_COURSE_DEGREES = env.float("STREAMCITY_HISTORY_COURSE_DEGREES", default=30.0)
STREAMCITY_HISTORY_RETENTION_DAYS = env.float(
    "STREAMCITY_HISTORY_RETENTION_DAYS",
    default=2 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 30,
)
STREAMCITY_HISTORY_PRUNE_SECONDS = env.float("STREAMCITY_HISTORY_PRUNE_SECONDS", default=3600.0)
# the operations map draws route numbers on the vehicles from this zoom on (alerts.ghostmap)
STREAMCITY_LABELS_MIN_ZOOM = env.int("STREAMCITY_LABELS_MIN_ZOOM", default=15)

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (env.float("MAP_CENTER_LAT", default=52.37), env.float("MAP_CENTER_LON", default=4.90)),
    "DEFAULT_ZOOM": env.int("MAP_ZOOM", default=13),
    "MIN_ZOOM": 3,
    "MAX_ZOOM": 19,
    "TILES": (
        [(env.str("MAP_TILES_NAME", default="OpenStreetMap"), env.str("MAP_TILES_URL"), {"attribution": env.str("MAP_TILES_ATTRIBUTION", default=""), "maxZoom": 19})]
        if env.str("MAP_TILES_URL", default="")
        else [
            (
                "OpenStreetMap",
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                {"attribution": "&copy; OpenStreetMap contributors", "maxZoom": 19},
            )
        ]
    ),
    "RESET_VIEW": False,
    "NO_GLOBALS": False,
}

# -- static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
# Production collects them into STATIC_ROOT (`manage.py collectstatic`), served by WhiteNoise. DEBUG
# and the demo serve them straight from the app folders through WhiteNoise too (no collectstatic step).
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default="" if LOCAL else str(VAR_DIR / "static")) or None
STATICFILES_DIRS = [BASE_DIR / "static"]
try:  # plotly.min.js from the plotly package (the KPI charts; served from here, offline, no CDN)
    import plotly as _plotly

    STATICFILES_DIRS.append(("plotly", Path(_plotly.__file__).resolve().parent / "package_data"))
except ImportError:  # pragma: no cover - plotly is in requirements.txt
    pass
WHITENOISE_USE_FINDERS = LOCAL

# -- auth and security --------------------------------------------------------------------------
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/ops/"
LOGOUT_REDIRECT_URL = "/"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins before checking passwords
    "django.contrib.auth.backends.ModelBackend",
]
# Brute-force protection (django-axes): a username is locked after AXES_FAILURE_LIMIT failures from
# any address, and an address after AXES_FAILURE_LIMIT failures whatever the usernames, for
# AXES_COOLOFF_TIME hours, with a clear page (429). A supervisor unlocks an operator from the users
# page (action "Unlock the selected accounts").
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind reverse proxies: how many there are in front of Daphne, each appending to X-Forwarded-For
# (nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for). 0: X-Forwarded-For is ignored.
# AXES_PROXY_COUNT is the older name of the same setting.
STREAMCITY_TRUSTED_PROXIES = env.int("STREAMCITY_TRUSTED_PROXIES", default=env.int("AXES_PROXY_COUNT", default=0))
AXES_CLIENT_IP_CALLABLE = "streamcity.kernel.security.client_ip"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# https only, unless local (the demo on http://127.0.0.1, DEBUG). Each can still be set on its own.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not LOCAL)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if LOCAL else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=not LOCAL)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=not LOCAL)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=not LOCAL)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=False) else None

# Error pages and mails: every URL that can carry credentials masked (streamcity.kernel.security.SettingsFilter).
DEFAULT_EXCEPTION_REPORTER_FILTER = "streamcity.kernel.security.SettingsFilter"
# Request validation (streamcity.kernel.security.RequestValidationMiddleware): longer is refused with a 400.
STREAMCITY_MAX_PATH_LENGTH = env.int("STREAMCITY_MAX_PATH_LENGTH", default=1024)
STREAMCITY_MAX_SEGMENT_LENGTH = env.int("STREAMCITY_MAX_SEGMENT_LENGTH", default=255)
STREAMCITY_MAX_QUERY_LENGTH = env.int("STREAMCITY_MAX_QUERY_LENGTH", default=8192)
STREAMCITY_MAX_QUERY_VALUE_LENGTH = env.int("STREAMCITY_MAX_QUERY_VALUE_LENGTH", default=1024)

# -- notifications of new alerts (off unless configured) ------------------------------------------
# Email recipients per alert kind: "surge=a@x;b@y,breakdown=c@z,*=ops@x" (* = every other kind).
STREAMCITY_NOTIFY_EMAILS = env.dict("STREAMCITY_NOTIFY_EMAILS", default={})
# A Slack-compatible incoming webhook: a JSON POST {"text": ..., "alert": {...}} per new alert.
STREAMCITY_NOTIFY_WEBHOOK_URL = env.str("STREAMCITY_NOTIFY_WEBHOOK_URL", default="")
STREAMCITY_NOTIFY_MAX_ATTEMPTS = env.int("STREAMCITY_NOTIFY_MAX_ATTEMPTS", default=6)
STREAMCITY_NOTIFY_TIMEOUT = env.float("STREAMCITY_NOTIFY_TIMEOUT", default=5.0)
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="streamcity@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# -- Hostile input (issue 17: poison records, bounded sockets; docs/security-input.md) ------------
# A handler that fails on this many records in a row, handling none in between, is a bug: its
# worker stops (and with it the process's roles) instead of dead-lettering the whole stream.
STREAMCITY_WORKER_MAX_CONSECUTIVE_FAILURES = env.int("STREAMCITY_WORKER_MAX_CONSECUTIVE_FAILURES", default=100)
# Client messages on a WebSocket: a token bucket per socket; past it, an error frame and a close.
STREAMCITY_WS_MESSAGE_BURST = env.int("STREAMCITY_WS_MESSAGE_BURST", default=20)
STREAMCITY_WS_MESSAGES_PER_SECOND = env.float("STREAMCITY_WS_MESSAGES_PER_SECOND", default=1.0)
# A client message longer or deeper than this gets an error frame and is not parsed.
STREAMCITY_WS_MAX_MESSAGE_CHARS = env.int("STREAMCITY_WS_MAX_MESSAGE_CHARS", default=64 * 1024)
STREAMCITY_WS_MAX_MESSAGE_DEPTH = env.int("STREAMCITY_WS_MAX_MESSAGE_DEPTH", default=8)
# Outbound: bytes a socket's send buffer may hold before frames are withheld (the client then gets
# the latest state once it has drained), and how long it may stay over that before it is closed.
# 2 MiB is about six ticks of the city-wide frame at 9,000 vehicles (~330 KB each): only a client
# that lags by seconds is affected. Needs the server of streamcity.asgi_server (runstreamcity,
# `python -m streamcity.asgi_server`).
STREAMCITY_WS_SEND_BUFFER_BYTES = env.int("STREAMCITY_WS_SEND_BUFFER_BYTES", default=2 * 1024 * 1024)
# ... and the kernel's send buffer of each WebSocket, fixed (Linux reserves twice this; 0: autotuned,
# up to tcp_wmem's maximum, 4 MiB by default, for every client that does not read). 256 KiB keeps
# ~1.7 MB/s to a client 300 ms away (a socket sends at most its buffer per round trip).
STREAMCITY_WS_SOCKET_SEND_BUFFER_BYTES = env.int("STREAMCITY_WS_SOCKET_SEND_BUFFER_BYTES", default=256 * 1024)
STREAMCITY_WS_STALL_SECONDS = env.float("STREAMCITY_WS_STALL_SECONDS", default=30)
