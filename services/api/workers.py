"""What workers do to jobs, callable without HTTP: register, claim, report events, store artifacts, finish.

The internal API's views (``services.api.internal``) parse a worker's call, run one of these
functions and dump the reply. Each function is one unit of work (``shared.db``). A call that
names a claim which is no longer the job's current one raises ``Refused(409)``, so a worker whose
lease was taken over cannot write over the new one.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, BinaryIO, Optional

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.api import jobs
from shared import jobflow
from shared.clock import utcnow
from shared.db import db, unit_of_work
from shared.models import Artifact, Job, WorkerRecord
from shared.states import JobStatus
from shared.storage import StorageLimitExceeded

LOGGER = logging.getLogger(__name__)


class Refused(Exception):
    """The worker's call cannot be applied: ``status`` (404, 409, 413, 422) with this message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _locked_job(job_id: str) -> Job:
    try:
        job = jobflow.lock_job(uuid.UUID(job_id))
    except ValueError:
        job = None
    if job is None:
        raise Refused(404, "No such job.")
    return job


def _require_claim(job: Job, claim_id: Optional[str]) -> Job:
    """The job if ``claim_id`` is its live claim; 409 for a superseded claim or a finished job."""
    try:
        jobflow.check_claim(job, claim_id)
    except jobflow.Conflict as exc:
        raise Refused(409, str(exc)) from None
    return job


def _claimed_job(job_id: str, claim_id: Optional[str]) -> Job:
    return _require_claim(_locked_job(job_id), claim_id)


def claimed_job(job: Job) -> dict[str, Any]:
    """What a worker gets of a job it claimed (``schemas.ClaimedJobSchema`` documents it)."""
    return {"id": str(job.id), "number": job.number, "kind": job.kind, "params": job.params,
            "attempt": job.attempts, "lease_seconds": current_app.config["LEASE_SECONDS"],
            "input": job.input_info}


@unit_of_work
def register(worker_id: str, kind: str, capabilities: dict[str, Any]) -> None:
    """Register a worker and what it can do, or refresh its registration."""
    statement = pg_insert(WorkerRecord).values(id=worker_id[:128], kind=kind, capabilities=capabilities)
    db.session.execute(statement.on_conflict_do_update(index_elements=[WorkerRecord.id], set_={
        "kind": statement.excluded.kind, "capabilities": statement.excluded.capabilities,
        "last_seen_at": utcnow()}))


@unit_of_work
def worker_gone(worker_id: str, reason: str) -> int:
    """A supervisor saw ``worker_id`` die: hand its running jobs back now and forget the worker.

    Returns how many jobs were handed back. The record goes too, so the dead worker leaves /metrics
    and the running-worker count at once instead of after three missed heartbeats.
    """
    released = jobflow.release_dead_worker(worker_id[:128], reason[:200], current_app.config["MAX_ATTEMPTS"])
    db.session.execute(delete(WorkerRecord).where(WorkerRecord.id == worker_id[:128]))
    LOGGER.info("worker %s is gone (%s); %d job(s) handed back", worker_id, reason, released)
    return released


@unit_of_work
def claim(job_id: str, worker_id: str) -> dict[str, Any]:
    """Take a job; a second delivery of a running or finished job is a no-op (``claimed: false``)."""
    job = _locked_job(job_id)
    config = current_app.config
    outcome = jobflow.claim(job, worker_id, config["LEASE_SECONDS"], config["MAX_ATTEMPTS"])
    if not outcome.claimed:
        LOGGER.info("job %s: claim by %s is a no-op (%s)", job.id, worker_id, outcome.reason)
        return {"claimed": False, "reason": outcome.reason, "claim_id": None, "job": None}
    LOGGER.info("job %s: claimed by %s (attempt %d)", job.id, worker_id, job.attempts)
    return {"claimed": True, "reason": "", "claim_id": outcome.claim_id, "job": claimed_job(job)}


@unit_of_work
def input_file(job_id: str, claim_id: Optional[str], direct: bool = False) -> tuple[str, str, Optional[str]]:
    """The storage key and content type of the job's input, for the worker holding the claim.

    With ``direct``, also a presigned URL when the store can make one (None otherwise).
    """
    job = _claimed_job(job_id, claim_id)
    if not job.input_key:
        raise Refused(404, "This job has no input file.")
    url = jobs.storage().presigned_get(job.input_key) if direct else None
    return job.input_key, job.input_content_type, url


def _record_progress(job: Job, event: dict[str, Any]) -> None:
    jobflow.record_progress(job, event.get("current", 0.0), event.get("total"), event.get("unit"))


@unit_of_work
def record_events(job_id: str, claim_id: str, events: list[dict[str, Any]]) -> bool:
    """Apply progress, chunks, log lines and heartbeats; True when the job was cancelled meanwhile."""
    job = _locked_job(job_id)
    if job.cancelled_at is not None:
        return True
    _require_claim(job, claim_id)
    for event in events:
        if event["type"] == "progress":
            _record_progress(job, event)
        elif event["type"] == "chunk":
            if "seq" not in event or "data" not in event:
                raise Refused(422, "A chunk event needs seq and data.")
            jobflow.upsert_chunk(job, event["seq"], event["data"])
        elif event["type"] == "log" and event.get("message"):
            jobflow.add_log(job, event["message"])
    jobflow.extend_lease(job, current_app.config["LEASE_SECONDS"])
    return False


@unit_of_work
def store_artifact(job_id: str, claim_id: Optional[str], name: str, stream: BinaryIO,
                   content_type: Optional[str]) -> int:
    """Store an output file of the job, replacing one of the same name; returns its size."""
    job = _claimed_job(job_id, claim_id)
    key = f"jobs/{job.id}/artifacts/{name}"
    try:
        size = jobs.storage().save(key, stream, max_bytes=_artifact_limit())
    except StorageLimitExceeded:
        raise Refused(413, "The artifact is larger than allowed.") from None
    _upsert_artifact(job, name, key, size, content_type)
    return size


def _direct_key(job: Job, name: str) -> str:
    """Where a direct upload of this claim goes: a key of its own, so a worker that lost its claim
    but still holds a presigned URL cannot overwrite what the job's current attempt stored."""
    return f"jobs/{job.id}/artifacts/{job.claim_id}/{name}"


def _artifact_limit() -> int:
    return current_app.config["MAX_UPLOAD_BYTES"] * 4


@unit_of_work
def direct_upload_url(job_id: str, claim_id: Optional[str], name: str, size: int) -> Optional[str]:
    """A presigned PUT URL for the artifact ``name`` (None when the store has none; 413 when too big)."""
    job = _claimed_job(job_id, claim_id)
    if size > _artifact_limit():
        raise Refused(413, "The artifact is larger than allowed.")
    return jobs.storage().presigned_put(_direct_key(job, name))


@unit_of_work
def record_direct_upload(job_id: str, claim_id: Optional[str], name: str, content_type: str) -> int:
    """Record the artifact a worker PUT to its presigned URL; returns its size as the store has it."""
    job = _claimed_job(job_id, claim_id)
    key = _direct_key(job, name)
    store = jobs.storage()
    try:
        size = store.size(key)
    except FileNotFoundError:
        raise Refused(409, "Nothing was uploaded to this artifact's URL.") from None
    if size > _artifact_limit():  # the URL cannot bound the size: checked here, and the object goes
        store.delete(key)
        raise Refused(413, "The artifact is larger than allowed.")
    _upsert_artifact(job, name, key, size, content_type)
    return size


def _upsert_artifact(job: Job, name: str, key: str, size: int, content_type: Optional[str]) -> None:
    """The artifact's row, replacing one of the same name; the worker's lease is extended."""
    statement = pg_insert(Artifact).values(job_id=job.id, name=name, storage_key=key, size=size,
                                           content_type=content_type or "application/octet-stream")
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[Artifact.job_id, Artifact.name],
        set_={"size": statement.excluded.size, "content_type": statement.excluded.content_type,
              "storage_key": statement.excluded.storage_key}))
    jobflow.extend_lease(job, current_app.config["LEASE_SECONDS"])


@unit_of_work
def succeed(job_id: str, claim_id: str, result: dict[str, Any],
            progress: Optional[dict[str, Any]] = None) -> str:
    """Finish the job with its result, after its last ``progress`` event if one is given (repeating
    the same call is harmless); returns its status."""
    job = _locked_job(job_id)
    if job.status == JobStatus.SUCCEEDED.value and str(job.claim_id) == claim_id:
        return job.status
    _require_claim(job, claim_id)
    if progress is not None:
        _record_progress(job, progress)
    jobflow.succeed(job, result)
    LOGGER.info("job %s: succeeded on %s", job.id, job.worker_id)
    return job.status


@unit_of_work
def fail(job_id: str, claim_id: str, error: str, transient: bool) -> str:
    """Report a failure: transient ones are retried while attempts remain; returns the job's status."""
    job = _claimed_job(job_id, claim_id)
    config = current_app.config
    jobflow.fail(job, error, transient, config["MAX_ATTEMPTS"], config["RETRY_BACKOFF_SECONDS"])
    return job.status
