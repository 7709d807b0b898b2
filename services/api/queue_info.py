"""Where a job stands: its place in the queue and an estimate of when it will be done.

A job's expected length is its size times its kind's real-time factor: the seconds of work per
unit of size (a second of audio or video, a word, an image) measured over the kind's recent
successful jobs. A queued job waits for what is left of the running jobs and for the expected
lengths of the jobs ahead of it, shared among the kind's live workers, then runs for its own.
A running job's estimate comes from its own progress rate (elapsed / fraction done) as of its
last report, or from its expected length before it reports any. Every estimate is taken against
the clock at the poll, so it counts down between polls instead of standing still.

Queries per poll are bounded: the jobs ahead are summed in one aggregate, the running jobs read
with a limit, and the factor cached for a few seconds per kind.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Float, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from services.api.kinds.base import running_workers
from shared.clock import utcnow
from shared.db import db
from shared.models import PRIORITIES, Job
from shared.states import WAITING, JobStatus, is_waiting, values

RECENT_JOBS = 50
CACHE_SECONDS = 10.0
# More running jobs than this of one kind means stuck rows, not workers; they are not all read.
MAX_RUNNING_READ = 100
# The parameter that measures a job's size, per kind (set at submit by the kind's check); a kind
# without one counts one unit per job (vision: one image).
SIZE_PARAMS = {"asr": "duration", "convert": "duration", "translate": "word_count"}
# A job never counts as less than one unit: a still image converts in no media seconds, but
# still costs a run.
MIN_SIZE = 1.0
_factors: dict[str, tuple[float, Optional[float]]] = {}


def job_size(kind: str, params: Optional[dict[str, Any]]) -> float:
    """A job's size in its kind's units (seconds of media, words, images), at least one."""
    key = SIZE_PARAMS.get(kind)
    value = (params or {}).get(key) if key else None
    try:
        return max(float(value), MIN_SIZE) if value is not None else MIN_SIZE
    except (TypeError, ValueError):
        return MIN_SIZE


def _size_column(kind: str) -> ColumnElement:
    """``job_size`` in SQL, so sizes are summed in the database rather than rows fetched."""
    key = SIZE_PARAMS.get(kind)
    if key is None:
        return literal(MIN_SIZE, Float)
    # Only a JSON number is cast: a job made elsewhere with a string there must not fail the poll.
    number = case((func.jsonb_typeof(Job.params[key]) == "number", Job.params[key].as_float()),
                  else_=MIN_SIZE)
    return func.greatest(number, MIN_SIZE)


def seconds_per_unit(kind: str) -> Optional[float]:
    """The kind's real-time factor: run seconds per unit of size over its last successful jobs."""
    read_at, value = _factors.get(kind, (0.0, None))
    # "No history yet" is not kept: the first job to finish should count at once.
    if value is not None and time.monotonic() - read_at < CACHE_SECONDS:
        return value
    run = func.extract("epoch", Job.finished_at) - func.extract("epoch", Job.started_at)
    recent = (select(run.label("seconds"), _size_column(kind).label("size"))
              .where(Job.kind == kind, Job.status == JobStatus.SUCCEEDED.value,
                     Job.started_at.is_not(None), Job.finished_at.is_not(None))
              .order_by(Job.finished_at.desc()).limit(RECENT_JOBS).subquery())
    seconds, size = db.session.execute(
        select(func.sum(recent.c.seconds), func.sum(recent.c.size))).one()
    value = float(seconds) / float(size) if seconds is not None and size else None
    _factors[kind] = (time.monotonic(), value)
    return value


def forget_factors() -> None:
    """Drop the cached real-time factors (tests that write job history, an operator's reset)."""
    _factors.clear()


def _ahead_condition(job: Job) -> ColumnElement:
    rank = PRIORITIES.get(job.priority, 5)
    higher = [name for name, value in PRIORITIES.items() if value > rank]
    return (Job.kind == job.kind) & Job.status.in_(values(WAITING)) & or_(
        Job.priority.in_(higher), (Job.priority == job.priority) & (Job.number < job.number))


def queue_position(job: Job) -> Optional[int]:
    """1 for the next job of its kind to run, counting priority as the broker does."""
    if not is_waiting(job.status):
        return None
    ahead = db.session.scalar(select(func.count()).select_from(Job).where(_ahead_condition(job)))
    return (ahead or 0) + 1


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"~{round(seconds)} s"
    return f"~{round(seconds / 60)} min"


def _seconds_between(earlier: datetime, later: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def running_left(started_at: Optional[datetime], reported_at: Optional[datetime],
                 current: Optional[float], total: Optional[float], expected: Optional[float],
                 now: datetime) -> Optional[float]:
    """Seconds a running job still needs, as of ``now``; None when nothing is known.

    With progress, the rate as of the last report (``reported_at``) gives the whole run's length;
    without, the expected length does. Either way the time since is subtracted, so the answer
    falls between reports. An overdue job has 0 left: it is still expected at any moment.
    """
    if started_at is None:
        return expected
    elapsed = _seconds_between(started_at, now)
    if total and current and current > 0:
        fraction = min(current / total, 1.0)
        basis = min(max(reported_at or now, started_at), now)
        whole = _seconds_between(started_at, basis) / fraction
        if whole > 0:
            return max(0.0, whole - elapsed)
    if expected is None:
        return None
    return max(0.0, expected - elapsed)


def _wait_for_running(kind: str, factor: Optional[float], now: datetime) -> Optional[float]:
    """Seconds of work left in the kind's running jobs, summed; None if any is unknown."""
    rows = db.session.execute(
        select(Job.started_at, Job.updated_at, Job.progress_current, Job.progress_total,
               _size_column(kind))
        .where(Job.kind == kind, Job.status == JobStatus.RUNNING.value)
        .limit(MAX_RUNNING_READ)).all()
    left = 0.0
    for started_at, updated_at, current, total, size in rows:
        remaining = running_left(started_at, updated_at, current, total,
                                 None if factor is None else factor * float(size), now)
        if remaining is None:
            return None
        left += remaining
    return left


def estimate(job: Job, position: Optional[int]) -> tuple[Optional[float], Optional[str]]:
    """Seconds until the job is likely done, and a sentence saying so ("3rd in line, ~40 s")."""
    now = utcnow()
    if position is not None:
        where = f"{_ordinal(position)} in line"
        factor = seconds_per_unit(job.kind)
        if factor is None:
            return None, where  # no finished job of the kind yet: nothing to measure by
        running = _wait_for_running(job.kind, factor, now)
        queued_units = db.session.scalar(
            select(func.coalesce(func.sum(_size_column(job.kind)), 0.0)).where(_ahead_condition(job)))
        if running is None:
            return None, where
        workers = max(1, running_workers(job.kind))
        eta = (running + factor * float(queued_units or 0.0)) / workers \
            + factor * job_size(job.kind, job.params)
        return eta, f"{where}, {_duration_text(eta)}"
    if job.status == JobStatus.RUNNING.value:
        has_progress = bool(job.progress_total and job.progress_current)
        factor = None if has_progress else seconds_per_unit(job.kind)
        expected = None if factor is None else factor * job_size(job.kind, job.params)
        left = running_left(job.started_at, job.updated_at, job.progress_current,
                            job.progress_total, expected, now)
        if left is None:
            return None, None
        return left, ("running, almost done" if left < 1 else f"running, {_duration_text(left)} left")
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
