"""Where a job stands: its place in the queue and an estimate of when it will be done.

Estimates come from measured durations of the kind's recent successful jobs, shared by the
kind's live workers; a running job's estimate comes from its own progress rate.
"""
from __future__ import annotations

import math
import time
from typing import Any, Optional

from sqlalchemy import func, or_, select

from services.api.kinds.base import running_workers
from shared.clock import utcnow
from shared.db import db
from shared.models import PRIORITIES, Job
from shared.states import WAITING, JobStatus, is_waiting, values

RECENT_JOBS = 50
CACHE_SECONDS = 10.0
_durations: dict[str, tuple[float, Optional[float]]] = {}


def queue_position(job: Job) -> Optional[int]:
    """1 for the next job of its kind to run, counting priority as the broker does."""
    if not is_waiting(job.status):
        return None
    rank = PRIORITIES.get(job.priority, 5)
    higher = [name for name, value in PRIORITIES.items() if value > rank]
    ahead = db.session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == job.kind, Job.status.in_(values(WAITING)),
        or_(Job.priority.in_(higher), (Job.priority == job.priority) & (Job.number < job.number))))
    return (ahead or 0) + 1


def typical_duration(kind: str) -> Optional[float]:
    """Mean run time in seconds of the kind's last successful jobs (None before the first one)."""
    read_at, value = _durations.get(kind, (0.0, None))
    if value is not None and time.monotonic() - read_at < CACHE_SECONDS:
        return value
    recent = (select((func.extract("epoch", Job.finished_at) - func.extract("epoch", Job.started_at))
                     .label("seconds"))
              .where(Job.kind == kind, Job.status == JobStatus.SUCCEEDED.value, Job.started_at.is_not(None))
              .order_by(Job.finished_at.desc()).limit(RECENT_JOBS).subquery())
    value = db.session.scalar(select(func.avg(recent.c.seconds)))
    value = float(value) if value is not None else None
    _durations[kind] = (time.monotonic(), value)
    return value


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def estimate(job: Job, position: Optional[int]) -> tuple[Optional[float], Optional[str]]:
    """Seconds until the job is likely done, and a sentence saying so ("3rd in line, ~40 s")."""
    if position is not None:
        each = typical_duration(job.kind)
        workers = max(1, running_workers(job.kind))
        eta = None if each is None else each * (math.ceil(position / workers) + 1)
        where = f"{_ordinal(position)} in line"
        return eta, where + (f", ~{round(eta)} s" if eta is not None else "")
    if job.status == JobStatus.RUNNING.value and job.started_at and job.progress_total and job.progress_current:
        elapsed = (utcnow() - job.started_at).total_seconds()
        left = elapsed * (job.progress_total - job.progress_current) / job.progress_current
        return left, f"running, ~{round(left)} s left"
    return None, None


def progress_view(job: Job, with_position: bool) -> dict[str, Any]:
    """The ``progress`` object of a job view; position and estimate cost queries, so only on request."""
    percent = 100.0 if job.status == JobStatus.SUCCEEDED.value else job.progress_percent
    view = {"current": job.progress_current, "total": job.progress_total, "percent": percent,
            "unit": job.progress_unit, "queue_position": None, "eta_seconds": None, "message": None}
    if with_position:
        position = queue_position(job)
        eta, message = estimate(job, position)
        view.update(queue_position=position, eta_seconds=None if eta is None else round(eta, 1), message=message)
    return view
