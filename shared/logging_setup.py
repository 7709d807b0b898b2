"""Log format shared by every Conveyor process: one JSON object per line, with the job id when known.

``CONVEYOR_LOG_FORMAT=text`` gives plain lines for a terminal. Code working on a job wraps that work
in ``job_context(job_id)``; every line logged inside it (by any module) carries ``job_id``.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from datetime import datetime, timezone
from typing import Iterator, Optional

from shared.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"

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
        if record.exc_info:
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
    handler._conveyor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(config.LOG_LEVEL)
    logging.getLogger("pika").setLevel(logging.WARNING)
