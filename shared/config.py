"""Settings read from the environment, shared by every service and worker.

This is the one place that reads Conveyor's environment variables: modules take their values from a
``Config`` instance (or ``app.config``), and ``.env.example`` documents every name read here
(tests/unit/test_settings_documented.py checks both). Every setting has a development default so
``make up`` works on a fresh machine; :meth:`Config.check_production` refuses those defaults when
``CONVEYOR_ENV=production``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent

DEV_WORKER_TOKEN = "dev-worker-token-change-me"
DEV_ADMIN_TOKEN = "dev-admin-token-change-me"
DEV_SECRET_KEY = "dev-secret-key-change-me"
DEV_DATABASE_URL = "postgresql+psycopg://conveyor:conveyor@127.0.0.1:5432/conveyor"
DEV_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
# The identity `make up`'s own SeaweedFS accepts; a real store's keys come from its operator.
DEV_S3_ACCESS_KEY = "conveyor-dev"
DEV_S3_SECRET_KEY = "conveyor-dev-secret-change-me"
# Same values as shared.image_check's defaults for direct calls (a test keeps them equal); not
# imported from there, so that this module stays the bottom of the import graph.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_optional_int(name: str, default: int) -> int:
    """A number where an empty value means 0 (no limit), like leaving the line as ``NAME=``."""
    value = os.environ.get(name)
    if value is None:
        return default
    return int(value) if value.strip() else 0


def _env_optional_float(name: str, default: float) -> float:
    """As :func:`_env_optional_int`, for a decimal number."""
    value = os.environ.get(name)
    if value is None:
        return default
    return float(value) if value.strip() else 0.0


def _cores() -> int:
    """CPU cores this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _env_flag(name: str, default: bool) -> bool:
    """A yes/no setting: 1, true, yes or on (any case) mean yes; unset means the default."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def settings_of(config: "Config | Mapping[str, Any]") -> Mapping[str, Any]:
    """The settings of a Config, or of a Flask app's ``config`` (which was loaded from one), by name."""
    return config if isinstance(config, Mapping) else vars(config)


class InsecureConfigError(RuntimeError):
    """Production was asked to start with a development default secret."""


class Config:
    """All of Conveyor's settings; an instance reads the environment when created."""

    def __init__(self) -> None:
        self.ENV = _env("CONVEYOR_ENV", "development")
        self.TESTING = self.ENV == "testing"
        self.SECRET_KEY = _env("CONVEYOR_SECRET_KEY", DEV_SECRET_KEY)
        self.DATA_DIR = Path(_env("CONVEYOR_DATA_DIR", str(REPO_ROOT / "var")))
        self.STORAGE_DIR = Path(_env("CONVEYOR_STORAGE_DIR", str(self.DATA_DIR / "files")))
        # Where inputs and artifacts live: "local" (STORAGE_DIR) or "s3" (any S3-compatible store).
        self.STORAGE = _env("CONVEYOR_STORAGE", "local").strip().lower()
        # Empty with "s3": `make up` starts SeaweedFS on S3_PORT and points S3_ENDPOINT at it.
        self.S3_ENDPOINT = _env("CONVEYOR_S3_ENDPOINT", "")
        self.S3_BUCKET = _env("CONVEYOR_S3_BUCKET", "conveyor")
        self.S3_REGION = _env("CONVEYOR_S3_REGION", "us-east-1")
        self.S3_ACCESS_KEY = _env("CONVEYOR_S3_ACCESS_KEY", DEV_S3_ACCESS_KEY)
        self.S3_SECRET_KEY = _env("CONVEYOR_S3_SECRET_KEY", DEV_S3_SECRET_KEY)
        self.S3_PORT = _env_int("CONVEYOR_S3_PORT", 8333)

        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", DEV_DATABASE_URL)
        # Pooled connections are pinged after being idle (shared/db.py), not on every checkout.
        # A pooled connection per request thread (GUNICORN_THREADS, 8): with SQLAlchemy's default of 5,
        # requests past the fifth opened a connection and closed it at the end (a PostgreSQL backend
        # started per request; 8% of submit throughput). At most 15 per process, as before.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": _env_int("CONVEYOR_DB_POOL_SIZE", 10), "max_overflow": 5}
        self.AMQP_URL = _env("AMQP_URL", DEV_AMQP_URL)
        # Exchange and queue names start with this, so a test run never touches `make up`'s queues.
        self.AMQP_PREFIX = _env("CONVEYOR_AMQP_PREFIX", "conveyor")
        # A worker's AMQP heartbeat (seconds): a connection that went silent (a NAT or firewall dropped
        # it without a reset) is noticed within about two of these, and the worker reconnects.
        self.AMQP_HEARTBEAT_SECONDS = _env_int("CONVEYOR_AMQP_HEARTBEAT_SECONDS", 30)

        self.JWT_PRIVATE_KEY_FILE = Path(_env("CONVEYOR_JWT_PRIVATE_KEY_FILE",
                                              str(self.DATA_DIR / "keys" / "jwt_private.pem")))
        self.JWT_PUBLIC_KEY_FILE = Path(_env("CONVEYOR_JWT_PUBLIC_KEY_FILE",
                                             str(self.DATA_DIR / "keys" / "jwt_public.pem")))
        self.JWT_ALGORITHM = "RS256"
        self.ACCESS_TOKEN_MINUTES = _env_int("CONVEYOR_ACCESS_TOKEN_MINUTES", 15)
        self.REFRESH_TOKEN_DAYS = _env_int("CONVEYOR_REFRESH_TOKEN_DAYS", 7)
        # Credential guessing (shared.credential_throttle): failures free of delay per account from one
        # address (also per seed secret from one address), per account from anywhere, and per address
        # (passwords, API keys and secrets together); past them each failure doubles the wait, from
        # LOGIN_DELAY_SECONDS up to LOGIN_DELAY_MAX_SECONDS.
        self.LOGIN_FREE_FAILURES = _env_int("CONVEYOR_LOGIN_FREE_FAILURES", 5)
        self.LOGIN_FREE_FAILURES_ACCOUNT = _env_int("CONVEYOR_LOGIN_FREE_FAILURES_ACCOUNT", 20)
        self.LOGIN_FREE_FAILURES_IP = _env_int("CONVEYOR_LOGIN_FREE_FAILURES_IP", 50)
        self.LOGIN_DELAY_SECONDS = _env_float("CONVEYOR_LOGIN_DELAY_SECONDS", 1.0)
        self.LOGIN_DELAY_MAX_SECONDS = _env_float("CONVEYOR_LOGIN_DELAY_MAX_SECONDS", 900.0)

        # argon2id cost; argon2-cffi's defaults are RFC 9106's low-memory profile.
        self.ARGON2_TIME_COST = _env_int("CONVEYOR_ARGON2_TIME_COST", 3)
        self.ARGON2_MEMORY_KIB = _env_int("CONVEYOR_ARGON2_MEMORY_KIB", 65536)

        self.WORKER_TOKEN = _env("CONVEYOR_WORKER_TOKEN", DEV_WORKER_TOKEN)
        self.ADMIN_TOKEN = _env("CONVEYOR_ADMIN_TOKEN", DEV_ADMIN_TOKEN)
        self.ADMIN_USERNAME = os.environ.get("CONVEYOR_ADMIN_USERNAME")
        self.ADMIN_PASSWORD = os.environ.get("CONVEYOR_ADMIN_PASSWORD")
        self.ADMIN_EMAIL = _env("CONVEYOR_ADMIN_EMAIL", "")

        self.MAX_UPLOAD_BYTES = _env_int("CONVEYOR_MAX_UPLOAD_MB", 200) * 1024 * 1024
        self.MAX_CONTENT_LENGTH = self.MAX_UPLOAD_BYTES
        self.MAX_ACTIVE_JOBS = _env_int("CONVEYOR_MAX_ACTIVE_JOBS", 10)
        # Bytes of stored files (inputs and artifacts) each user may hold; 0: no quota.
        self.USER_QUOTA_BYTES = _env_optional_int("CONVEYOR_USER_QUOTA_MB", 2048) * 1024 * 1024
        # A finished job (or pipeline) and its files are deleted this many days after it ended, by the
        # relay's sweeper (services.relay.sweeper); 0 or empty: kept until their owner deletes them.
        self.RETENTION_DAYS = _env_optional_float("CONVEYOR_RETENTION_DAYS", 30.0)
        # How often the sweeper looks for expired jobs (seconds).
        self.SWEEP_SECONDS = _env_float("CONVEYOR_SWEEP_SECONDS", 300)
        self.MAX_TEXT_CHARS = _env_int("CONVEYOR_MAX_TEXT_CHARS", 100_000)
        # Speech-to-text uploads shorter or longer than this are refused at submit (seconds).
        self.MIN_AUDIO_SECONDS = _env_float("CONVEYOR_MIN_AUDIO_SECONDS", 1.0)
        self.MAX_AUDIO_SECONDS = _env_float("CONVEYOR_MAX_AUDIO_SECONDS", 4 * 3600.0)
        # Input images: checked by the API at submit and by the vision worker before decoding, so both
        # refuse alike (shared.image_check reads only the header to know the pixel count).
        self.MAX_IMAGE_PIXELS = _env_int("CONVEYOR_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)
        self.MAX_IMAGE_BYTES = _env_int("CONVEYOR_MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES)
        # Conversions (shared.kinds.convert.limits.ConvertLimits): input duration (seconds) and
        # frame area (pixels), output size (bytes), and the wall clock allowed per job, which is
        # base + factor * seconds of media produced.
        self.MAX_MEDIA_SECONDS = _env_float("CONVEYOR_MAX_MEDIA_SECONDS", 4 * 3600.0)
        self.MAX_MEDIA_PIXELS = _env_int("CONVEYOR_MAX_MEDIA_PIXELS", 3840 * 2160)
        self.CONVERT_MAX_OUTPUT_BYTES = _env_int("CONVEYOR_CONVERT_MAX_OUTPUT_BYTES", 2 * 1024 ** 3)
        self.CONVERT_TIMEOUT_BASE_SECONDS = _env_float("CONVEYOR_CONVERT_TIMEOUT_BASE", 120.0)
        self.CONVERT_TIMEOUT_FACTOR = _env_float("CONVEYOR_CONVERT_TIMEOUT_FACTOR", 10.0)

        # ffmpeg binary for probing and converting; empty: the one bundled with imageio-ffmpeg.
        self.FFMPEG = _env("CONVEYOR_FFMPEG", "")
        # YOLO ONNX files beyond the built-in vision models (see services.vision_worker.catalog); None: none.
        vision_models = _env("CONVEYOR_VISION_MODELS_DIR", "").strip()
        self.VISION_MODELS_DIR = Path(vision_models) if vision_models else None

        # Speech models beyond the packaged ones (scripts/install_whisper_base.py puts Whisper base here).
        self.ASR_MODELS_DIR = Path(_env("CONVEYOR_ASR_MODELS_DIR", str(self.DATA_DIR / "models" / "asr")))
        # ASR worker processes sharing this host's cores, and CPU threads per speech model: by
        # default the cores split between them, so that two workers do not each start a thread per
        # core and fight over them (audio-seconds per second then grow with the workers).
        self.ASR_WORKERS = max(1, _env_int("CONVEYOR_ASR_WORKERS", 1))
        self.ASR_THREADS = _env_int("CONVEYOR_ASR_THREADS", max(1, _cores() // self.ASR_WORKERS))
        # Speech models an ASR worker loads at start besides the default (comma-separated ids, or
        # "all"); the others load on their first job.
        self.ASR_PRELOAD = tuple(
            name.strip() for name in _env("CONVEYOR_ASR_PRELOAD", "").split(",") if name.strip())

        # Argos Translate packages (.argosmodel, unpacked), installed and removed by administrators
        # through /api/v1/admin/translate/packages; the API writes here, translate workers read it.
        self.ARGOS_PACKAGES_DIR = Path(_env("CONVEYOR_ARGOS_PACKAGES_DIR",
                                            str(self.DATA_DIR / "models" / "argos")))
        # CPU threads per Argos model; 0 lets CTranslate2 choose (all cores).
        self.ARGOS_THREADS = _env_int("CONVEYOR_ARGOS_THREADS", 1)

        self.MAX_ATTEMPTS = _env_int("CONVEYOR_MAX_ATTEMPTS", 3)
        self.LEASE_SECONDS = _env_float("CONVEYOR_LEASE_SECONDS", 60)
        self.RETRY_BACKOFF_SECONDS = _env_float("CONVEYOR_RETRY_BACKOFF_SECONDS", 5)
        # Longest wait before a supervisor restarts a process that keeps crashing at start-up
        # (shared.worker.supervisor); a process killed from outside comes back at once.
        self.RESTART_MAX_DELAY_SECONDS = _env_float("CONVEYOR_RESTART_MAX_DELAY_SECONDS", 30)
        # A worker registration counts for the capability catalog for this long after its last heartbeat.
        self.WORKER_SEEN_SECONDS = _env_int("CONVEYOR_WORKER_SEEN_SECONDS", 24 * 3600)

        # Hosts, IPs or networks (comma-separated) that callback URLs may point at although not public.
        self.WEBHOOK_ALLOWED_HOSTS = [h for h in _env("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()]
        self.WEBHOOK_MAX_ATTEMPTS = _env_int("CONVEYOR_WEBHOOK_MAX_ATTEMPTS", 6)
        # One seed surface also mounted at the root, for clients with hard-coded paths (e.g. "primitives").
        self.COMPAT_AT_ROOT = _env("CONVEYOR_COMPAT_AT_ROOT", "")
        # Nevisa's GET /celery-progress/<task_id>/ takes no header in its seed: the random task id is
        # the capability. When set, it also needs the owner's Authorization header.
        self.NEVISA_PROGRESS_NEEDS_AUTH = _env_flag("CONVEYOR_NEVISA_PROGRESS_NEEDS_AUTH", False)
        # How long the synchronous faces (LibreTranslate, OpenAI audio) wait for their job.
        self.LIBRETRANSLATE_WAIT_SECONDS = _env_float("CONVEYOR_LIBRETRANSLATE_WAIT_SECONDS", 60)
        self.OPENAI_AUDIO_WAIT_SECONDS = _env_float("CONVEYOR_OPENAI_AUDIO_WAIT_SECONDS", 600)
        # When set, GET /metrics needs "Authorization: Bearer <token>"; production refuses to start without it.
        self.METRICS_TOKEN = _env("CONVEYOR_METRICS_TOKEN", "")
        # prometheus-client's own variable: when set, /metrics sums the counters every process wrote
        # there. Read here so the API decides from its config, like every other setting.
        self.PROMETHEUS_MULTIPROC_DIR = _env("PROMETHEUS_MULTIPROC_DIR", "")
        # A server-sent event stream ends after this long (seconds); clients reconnect with Last-Event-ID.
        self.SSE_MAX_SECONDS = _env_float("CONVEYOR_SSE_MAX_SECONDS", 3600)

        # --- logging
        # "json" (one object per line, with job_id) or anything else for plain text.
        self.LOG_FORMAT = _env("CONVEYOR_LOG_FORMAT", "json").lower()
        self.LOG_LEVEL = _env("CONVEYOR_LOG_LEVEL", "INFO").upper()

        self.API_URL = _env("CONVEYOR_API_URL", "http://127.0.0.1:8000")
        self.PUBLIC_URL = _env("CONVEYOR_PUBLIC_URL", "http://127.0.0.1:8000")

        self.PROPAGATE_EXCEPTIONS = False

    def check_production(self, role: str = "service") -> None:
        """Refuse to run in production with any development default secret.

        ``role="worker"`` checks only what a worker holds (the worker secret and the broker URL):
        workers run untrusted media and get neither database credentials nor the other secrets.
        """
        if self.ENV != "production":
            return
        problems = []
        defaults = {"CONVEYOR_WORKER_TOKEN": (self.WORKER_TOKEN, DEV_WORKER_TOKEN)}
        if role != "worker":
            defaults.update({"CONVEYOR_SECRET_KEY": (self.SECRET_KEY, DEV_SECRET_KEY),
                             "CONVEYOR_ADMIN_TOKEN": (self.ADMIN_TOKEN, DEV_ADMIN_TOKEN)})
        for name, (value, default) in defaults.items():
            if value == default or len(value) < 24 or "change-me" in value:
                problems.append(f"{name} must be set to a random secret of 24+ characters")
        if self.AMQP_URL == DEV_AMQP_URL:
            problems.append("AMQP_URL must be set (guest/guest is the development default)")
        if role != "worker":
            problems += self._service_problems()
        if problems:
            raise InsecureConfigError("refusing to start in production: " + "; ".join(problems))

    def _service_problems(self) -> list[str]:
        problems = []
        if self.SQLALCHEMY_DATABASE_URI == DEV_DATABASE_URL:
            problems.append("DATABASE_URL must be set (the development default has a known password)")
        if self.ARGON2_TIME_COST < 2 or self.ARGON2_MEMORY_KIB < 19456:
            problems.append("the argon2 cost is below OWASP's minimum (CONVEYOR_ARGON2_*: t=2, m=19456 KiB)")
        if len(self.METRICS_TOKEN) < 24:
            problems.append("CONVEYOR_METRICS_TOKEN must be set to a random secret of 24+ characters "
                            "(GET /metrics shows job counts and queue names)")
        if self.ADMIN_PASSWORD and len(self.ADMIN_PASSWORD) < 12:
            problems.append("CONVEYOR_ADMIN_PASSWORD must have 12+ characters")
        if self.STORAGE == "s3" and self.S3_SECRET_KEY == DEV_S3_SECRET_KEY:
            problems.append("CONVEYOR_S3_SECRET_KEY must be set (the development default is public)")
        return problems
