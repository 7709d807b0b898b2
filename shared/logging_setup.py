"""Log format shared by every Conveyor process: one JSON object per line, with the job id when known.

``CONVEYOR_LOG_FORMAT=text`` gives plain lines for a terminal. Code working on a job wraps that work
in ``job_context(job_id)``; every line logged inside it (by any module) carries ``job_id``.

Secrets never reach a log line: ``redact_secrets`` masks the values of secret-looking parameters
(``api_key=…``, ``secret_admin_token=…``, ``"password": "…"``) in every message, its arguments and
its traceback; gunicorn's access and error logs use the same function (deploy/gunicorn.conf.py).
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
from datetime import datetime, timezone
from typing import Iterator, Optional

from shared.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"

REDACTED = "[REDACTED]"
# Any parameter whose name ends like a secret's: secret_admin_token, secret_worker_token, api_key, key,
# token, access_token, refresh_token, password, client_secret, X-API-Key, ... (percent-encoded names too).
_SECRET_NAME = r"[\w.%-]*(?:token|key|secret|password|passwd|pwd|signature)"
_SECRET_PARAMETER = re.compile(r"(?i)((?<![\w.%-])" + _SECRET_NAME + r"=)[^&\s\"'#;,]*")
_SECRET_JSON_FIELD = re.compile(r"(?i)(\"" + _SECRET_NAME + r"\"\s*:\s*\")(?:[^\"\\]|\\.)*(\")")
_SECRET_REPR_FIELD = re.compile(r"(?i)('" + _SECRET_NAME + r"'\s*:\s*')(?:[^'\\]|\\.)*(')")
_BEARER = re.compile(r"(?i)\b(Bearer\s+)[\w.~+/=-]+")


def redact_secrets(text: str) -> str:
    """``text`` with the values of secret-looking query parameters and JSON/dict fields masked."""
    if "=" in text:
        text = _SECRET_PARAMETER.sub(r"\1" + REDACTED, text)
    if ":" in text:
        text = _SECRET_JSON_FIELD.sub(r"\1" + REDACTED + r"\2", text)
        text = _SECRET_REPR_FIELD.sub(r"\1" + REDACTED + r"\2", text)
    return _BEARER.sub(r"\1" + REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    """Mask secrets in a record's message and arguments (and its traceback) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a message whose arguments do not fit: leave it to the handler
            return True
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True


_job_id: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("conveyor_job_id", default=None)


@contextlib.contextmanager
def job_context(job_id: object) -> Iterator[None]:
    """Tag every log line emitted inside the block with ``job_id``."""
    token = _job_id.set(str(job_id))
    try:
        yield
    finally:
        _job_id.reset(token)


def set_job_context(job_id: object) -> None:
    """Tag the rest of the current context (a request, a job's thread) with ``job_id`` (None: untag)."""
    _job_id.set(None if job_id is None else str(job_id))


class JobIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = _job_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, job_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if getattr(record, "job_id", None):
            entry["job_id"] = record.job_id
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(config: Config | None = None) -> None:
    """Log to stderr at Config.LOG_LEVEL in Config.LOG_FORMAT (default: a fresh Config), once per process."""
    root = logging.getLogger()
    if any(getattr(handler, "_conveyor", False) for handler in root.handlers):
        return
    config = config or Config()
    handler = logging.StreamHandler()
    json_lines = config.LOG_FORMAT == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(JobIdFilter())
    handler.addFilter(RedactSecretsFilter())
    handler._conveyor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(config.LOG_LEVEL)
    logging.getLogger("pika").setLevel(logging.WARNING)
