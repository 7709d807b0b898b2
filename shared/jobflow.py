"""The job lifecycle: every state change of a job goes through these functions.

They work on the Flask-SQLAlchemy session and leave committing to the caller,
so a state change and the outbox row announcing it land in one transaction.

Reactions to a change are not wired in here: whoever reacts subscribes a listener.
``subscribe(listener)`` hears every transition as ``listener(job, old_status, new_status)``;
``subscribe_progress(listener)`` hears every forward move of progress as
``listener(job, percent_before)``; ``subscribe_settled(listener)`` hears ``listener(job)`` once
a job has ended for good (succeeded, failed or cancelled), with its result or error already set,
which the transition listeners do not see (shared.pipelineflow starts the next steps there).
Listeners run synchronously inside the caller's transaction, so the webhook delivery row
commits (or rolls back) with the change it announces. Subscribing is idempotent (a listener
is known by its module and name).

The reacting modules subscribe at their own import (shared.webhooks: deliveries;
shared.metrics: Prometheus), not through an ``install()`` that each process must call:
an install call is forgotten silently by the next process or factory that changes jobs
(the relay's reaper fails jobs, the compat surfaces claim them), while an import rides
along with the module that defines the reaction, and every process that changes jobs
already imports both (the API through its job views, the relay through its webhook
dispatcher). Forgetting is still possible if those imports move, so it is made loud:
tests/unit/test_job_listeners.py loads each such process in a fresh interpreter and
fails unless both reactions are subscribed, and a transition that no listener hears
logs an error.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Optional

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from shared.clock import utcnow
from shared.db import db, execute_atomic
from shared.messaging import encode_message
from shared.models import PRIORITIES, Job, JobChunk, JobLog, OutboxMessage, Pipeline, User
from shared.states import ACTIVE, JobStatus, check_transition, is_terminal, stopped_status, values

LOGGER = logging.getLogger(__name__)

OUTBOX_CHANNEL = "conveyor_outbox"  # NOTIFYed by the outbox trigger (migration 0002)
MAX_LOG_CHARS = 2000

TransitionListener = Callable[[Job, JobStatus, JobStatus], None]
ProgressListener = Callable[[Job, float], None]
SettledListener = Callable[[Job], None]

# Called in order of subscription; see the module docstring for who subscribes and why.
TRANSITION_LISTENERS: list[TransitionListener] = []
PROGRESS_LISTENERS: list[ProgressListener] = []
SETTLED_LISTENERS: list[SettledListener] = []
_unheard_reported = False


class Conflict(Exception):
    """The request does not fit the job's current state (e.g. a callback for a finished job)."""


def _add_listener(listeners: list, listener: Callable) -> Callable:
    # Known by module and name, not identity: a module imported (or reloaded) twice must not count twice.
    key = (listener.__module__, listener.__qualname__)
    for index, known in enumerate(listeners):
        if (known.__module__, known.__qualname__) == key:
            listeners[index] = listener
            return listener
    listeners.append(listener)
    return listener


def subscribe(listener: TransitionListener) -> TransitionListener:
    """Call ``listener(job, old_status, new_status)`` on every transition (idempotent; a decorator too)."""
    return _add_listener(TRANSITION_LISTENERS, listener)


def subscribe_progress(listener: ProgressListener) -> ProgressListener:
    """Call ``listener(job, percent_before)`` whenever a job's progress moves forward (idempotent)."""
    return _add_listener(PROGRESS_LISTENERS, listener)


def subscribe_settled(listener: SettledListener) -> SettledListener:
    """Call ``listener(job)`` when a job has ended for good, its result or error set (idempotent)."""
    return _add_listener(SETTLED_LISTENERS, listener)


def _settled(job: Job) -> None:
    for listener in SETTLED_LISTENERS:
        listener(job)


def _announce(job: Job, old: JobStatus, new: JobStatus) -> None:
    global _unheard_reported
    if not TRANSITION_LISTENERS and not _unheard_reported:
        # No webhook or metric follows; the process never imported shared.webhooks / shared.metrics.
        _unheard_reported = True
        LOGGER.error("job %s: %s -> %s and nothing listens to job transitions in this process",
                     job.id, old, new)
    for listener in TRANSITION_LISTENERS:
        listener(job, old, new)


def enqueue(job: Job, delay_seconds: float = 0.0, dead_letter: bool = False) -> OutboxMessage:
    """Add an outbox row announcing ``job`` to its kind's queue (or to its dead-letter queue)."""
    payload = encode_message(str(job.id), job.kind, job.attempts + 1)
    if dead_letter:
        payload["dead_letter"] = True
        payload["error"] = job.error
    message = OutboxMessage(job_id=job.id, kind=job.kind, payload=payload,
                            priority=PRIORITIES.get(job.priority, PRIORITIES["normal"]),
                            available_at=utcnow() + timedelta(seconds=delay_seconds))
    # A trigger on the table NOTIFYs the relay at commit (migration 0002), so it wakes at once.
    db.session.add(message)
    return message


def create_job(user_id: int, kind: str, params: dict[str, Any], priority: str = "normal",
               job_id: Optional[uuid.UUID] = None, **columns: Any) -> Job:
    """Add a queued job and its outbox row to the session (the caller commits both at once).

    ``columns`` are further Job columns set before the row is written (a pipeline step's).
    """
    job = Job(id=job_id or uuid.uuid4(), user_id=user_id, kind=kind, params=params, priority=priority,
              status=JobStatus.QUEUED.value, progress_current=0.0, attempts=0, artifacts=[], **columns)
    db.session.add(job)
    db.session.flush()
    enqueue(job)
    return job


# Migrations 0008 and 0009: lock the user's row, check the active-job limit (the user's counter plus
# the steps running pipelines reserved, as lock_user_and_count_active_jobs does) and the storage
# quota, insert the job, its outbox row and its Idempotency-Key; no row when the user is at the limit.
_SUBMIT_JOB = text(
    "SELECT * FROM conveyor_submit_job(:owner, :active_limit, :job, :message, "
    "CAST(:message_priority AS smallint), :idempotency_key, :request_hash, :quota_bytes)"
).bindparams(bindparam("job", type_=JSONB), bindparam("message", type_=JSONB)).columns(*Job.__table__.columns)


class QuotaExceeded(Exception):
    """The job's input does not fit beside the ``used`` bytes the user already stores."""

    def __init__(self, used: int):
        super().__init__(f"{used} bytes stored")
        self.used = used


# The SQLSTATE conveyor_submit_job raises with when the input passes the quota (its DETAIL: bytes used).
QUOTA_SQLSTATE = "CQ429"


def submit_job(user_id: int, kind: str, params: dict[str, Any], priority: str, active_limit: int,
               job_id: uuid.UUID, idempotency: Optional[tuple[str, str]] = None,
               quota_bytes: Optional[int] = None, **columns: Any) -> Optional[Job]:
    """Queue a job unless the user has ``active_limit`` active jobs (then None), in one round trip.

    With ``quota_bytes``, the job's ``input_size`` must also fit beside what the user stores, or
    QuotaExceeded is raised.

    What ``create_job`` and ``lock_user_and_count_active_jobs`` do in several, with the same
    guarantees: the job, its outbox row and the ``(key, request digest)`` of ``idempotency`` commit
    together, and the user's row lock makes the limit exact under concurrency. ``columns`` are
    further Job columns (the input file's, the callback's). The job comes back in the session as
    if loaded, without another query.
    """
    try:
        row = execute_atomic(_SUBMIT_JOB, {
            "owner": user_id, "active_limit": active_limit,
            "job": {"id": str(job_id), "kind": kind, "status": JobStatus.QUEUED.value, "priority": priority,
                    "params": params, **columns},
            "message": encode_message(str(job_id), kind, 1),
            "message_priority": PRIORITIES.get(priority, PRIORITIES["normal"]),
            "idempotency_key": idempotency[0] if idempotency else None,
            "request_hash": idempotency[1] if idempotency else None,
            "quota_bytes": quota_bytes,
        })
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == QUOTA_SQLSTATE:
            raise QuotaExceeded(int(exc.orig.diag.message_detail)) from None
        raise
    if not row:
        return None
    job = Job(**row[0]._mapping)
    make_transient_to_detached(job)
    set_committed_value(job, "artifacts", [])  # a new job has none: no query to find out
    db.session.add(job)
    return job


def lock_user_and_count_active_jobs(user_id: int) -> int:
    """Lock the user's row, then count what the active-job limit (CONVEYOR_MAX_ACTIVE_JOBS) counts.

    That is the user's active jobs (queued, running, retrying) plus the steps their running
    pipelines have yet to start: a pipeline reserves its whole remaining DAG when it is submitted
    (or retried), so a step that starts later never passes the limit and never has to wait for a
    slot, and a job submitted meanwhile cannot take the slot a pipeline's next step will need.

    The lock (held until commit) serializes one user's submissions. The active jobs are the user's
    ``active_jobs`` counter (a trigger keeps it, migration 0009), read by the locking statement: a
    locked row comes back in its latest committed version. The pipelines are counted by a second
    statement on purpose: under READ COMMITTED each statement sees what was committed before it
    began, so counting after the lock was granted sees the pipelines of the submission that held
    it; a count inside the locking statement would use the snapshot taken before the wait, and two
    submissions at once could both pass.
    """
    active = db.session.scalar(select(User.active_jobs).where(User.id == user_id).with_for_update()) or 0
    return active + _reserved_pipeline_steps(user_id)


def _reserved_pipeline_steps(user_id: int) -> int:
    """Steps of the user's running pipelines that have no active or succeeded job yet (they will start)."""
    # "running" is shared.pipelineflow.RUNNING (that module imports this one).
    running = db.session.execute(select(Pipeline.id, Pipeline.steps)
                                 .where(Pipeline.user_id == user_id, Pipeline.status == "running")).all()
    if not running:
        return 0
    started = dict(db.session.execute(
        select(Job.pipeline_id, func.count(func.distinct(Job.pipeline_step)))
        .where(Job.pipeline_id.in_([row.id for row in running]),
               Job.status.in_([*values(ACTIVE), JobStatus.SUCCEEDED.value]))
        .group_by(Job.pipeline_id)).all())
    return sum(max(0, len(row.steps) - started.get(row.id, 0)) for row in running)


def lock_job(job_id: uuid.UUID) -> Optional[Job]:
    """Load a job with a row lock, so concurrent callbacks on it apply one after the other."""
    return db.session.scalars(select(Job).where(Job.id == job_id).with_for_update()
                              .execution_options(populate_existing=True)).first()


def _set_status(job: Job, new: JobStatus) -> None:
    old = job.status
    job.status = check_transition(old, new).value
    if is_terminal(new):
        job.finished_at = utcnow()
        job.lease_expires_at = None
    # Listeners see the job as the transition left it: before claim sets started_at, before
    # succeed/fail set result/error (the webhook payloads always were taken at this point).
    _announce(job, JobStatus(old), JobStatus(job.status))


def chunk_count(job: Job) -> int:
    return db.session.scalar(select(func.count()).select_from(JobChunk).where(JobChunk.job_id == job.id)) or 0


@dataclass
class ClaimResult:
    claimed: bool
    reason: str = ""
    claim_id: Optional[uuid.UUID] = None


def claim(job: Job, worker_id: str, lease_seconds: float, max_attempts: int) -> ClaimResult:
    """Give ``job`` to ``worker_id``; a job already running under a live lease or finished is a no-op."""
    now = utcnow()
    if is_terminal(job.status):
        return ClaimResult(False, f"job is already {job.status}")
    if job.status == JobStatus.RUNNING.value and job.lease_expires_at and job.lease_expires_at > now:
        return ClaimResult(False, "job is running on another worker")
    if job.attempts >= max_attempts:
        fail_for_good(job, f"gave up after {job.attempts} attempts: the worker was lost each time")
        return ClaimResult(False, "job has used all its attempts")
    _set_status(job, JobStatus.RUNNING)
    job.attempts += 1
    job.claim_id = uuid.uuid4()
    job.worker_id = worker_id
    job.lease_expires_at = now + timedelta(seconds=lease_seconds)
    if job.started_at is None:
        job.started_at = now  # the RUNNING listeners saw None: shared.metrics times the queue wait there
    job.error = None
    return ClaimResult(True, claim_id=job.claim_id)


def check_claim(job: Job, claim_id: Optional[str]) -> None:
    """Refuse callbacks from a worker whose claim was superseded or whose job has finished."""
    if is_terminal(job.status):
        raise Conflict(f"job is already {job.status}")
    if claim_id is None or job.claim_id is None or str(job.claim_id) != str(claim_id):
        raise Conflict("this claim is no longer the job's current claim")


def extend_lease(job: Job, lease_seconds: float) -> None:
    job.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)


def record_progress(job: Job, current: float, total: Optional[float], unit: Optional[str]) -> None:
    """Move progress forward; a stale or replayed report never moves it back."""
    if total is not None and total > 0:
        job.progress_total = float(total)
    if unit:
        job.progress_unit = unit[:32]
    if current > (job.progress_current or 0.0):
        before = job.progress_percent or 0.0
        job.progress_current = float(min(current, job.progress_total or current))
        for listener in PROGRESS_LISTENERS:
            listener(job, before)


def upsert_chunk(job: Job, seq: int, data: dict[str, Any]) -> None:
    """Store chunk ``seq`` of ``job``; a replayed chunk replaces itself instead of duplicating."""
    statement = pg_insert(JobChunk).values(job_id=job.id, seq=seq, data=data)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[JobChunk.job_id, JobChunk.seq], set_={"data": statement.excluded.data}))


def add_log(job: Job, message: str) -> None:
    db.session.add(JobLog(job_id=job.id, message=message[:MAX_LOG_CHARS]))


def succeed(job: Job, result: dict[str, Any]) -> None:
    _set_status(job, JobStatus.SUCCEEDED)
    job.result = result
    job.error = None
    if job.progress_total:
        job.progress_current = job.progress_total
    _settled(job)


def fail_for_good(job: Job, error: str) -> None:
    """Fail permanently (partial when chunks were kept) and dead-letter the job for operators."""
    _set_status(job, JobStatus.PARTIAL if chunk_count(job) else JobStatus.FAILED)
    job.error = error
    enqueue(job, dead_letter=True)
    _settled(job)


def fail(job: Job, error: str, transient: bool, max_attempts: int, backoff_seconds: float) -> None:
    """Retry a transient failure with exponential backoff while attempts remain, else fail for good."""
    if transient and job.attempts < max_attempts:
        _set_status(job, JobStatus.RETRYING)
        job.error = error
        job.lease_expires_at = None
        job.claim_id = None
        enqueue(job, delay_seconds=backoff_seconds * 2 ** (job.attempts - 1))
        LOGGER.info("job %s: attempt %d failed (%s); retrying", job.id, job.attempts, error)
        return
    if transient:
        error = f"gave up after {job.attempts} attempts: {error}"
    fail_for_good(job, error)
    LOGGER.info("job %s failed: %s", job.id, error)


def cancel(job: Job) -> None:
    """Stop a job at once: the worker learns it from its next callback and keeps nothing more."""
    if is_terminal(job.status):
        raise Conflict(f"job is already {job.status}")
    _set_status(job, stopped_status(chunk_count(job)))
    job.cancelled_at = utcnow()
    job.claim_id = None
    _settled(job)


def reap_expired_leases(lease_seconds: float, max_attempts: int, backoff_seconds: float,
                        limit: int = 100) -> int:
    """Hand back running jobs whose worker stopped renewing its lease (crash, lost connection)."""
    expired = db.session.scalars(
        select(Job).where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at < utcnow())
        .order_by(Job.lease_expires_at).limit(limit).with_for_update(skip_locked=True)).all()
    for job in expired:
        LOGGER.warning("job %s: worker %s lost its lease (attempt %d)", job.id, job.worker_id, job.attempts)
        _hand_back(job, f"worker {job.worker_id} stopped responding", max_attempts)
    return len(expired)


def release_dead_worker(worker_id: str, reason: str, max_attempts: int) -> int:
    """Hand back at once the running jobs of a worker known to be dead (its supervisor saw it exit).

    Only a supervisor that reaped the process may call this: the worker cannot write any more, so
    taking its jobs over cannot leave two live workers on one job (the lease stays the rule for a
    worker that merely went quiet). Returns how many jobs were handed back.
    """
    held = db.session.scalars(
        select(Job).where(Job.status == JobStatus.RUNNING.value, Job.worker_id == worker_id)
        .with_for_update()).all()
    for job in held:
        LOGGER.warning("job %s: worker %s died (%s) (attempt %d)", job.id, worker_id, reason, job.attempts)
        _hand_back(job, f"worker {worker_id} died ({reason})", max_attempts)
    return len(held)


def _hand_back(job: Job, error: str, max_attempts: int) -> None:
    # A lost worker counts as an attempt, so an input that kills every worker still ends (failed).
    fail(job, error, transient=True, max_attempts=max_attempts, backoff_seconds=0)
