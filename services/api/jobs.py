"""Job logic of the API service, callable without HTTP: submit, look up, list, cancel, delete."""
from __future__ import annotations

import logging
import mimetypes
import re
import uuid
from contextlib import nullcontext
from typing import Any, BinaryIO, Optional, TypeVar

from flask import current_app, url_for
from sqlalchemy import func, select

from services.api import quota
from services.api.kinds import SPECS, KindSpec, SubmitRefused
from services.api.queue_info import progress_view
from shared import jobflow, metrics, pipelineflow, webhooks
from shared.db import db, transaction, unit_of_work
from shared.models import Job, JobChunk, Pipeline, User
from shared.retention import expiry
from shared.states import JobStatus, is_active, is_terminal
from shared.storage import Storage, StorageLimitExceeded, storage_from_config

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class NotFound(Exception):
    """No such job for this caller (missing, or someone else's: the two are not told apart)."""


def storage() -> Storage:
    """The configured file store (a local directory or an S3 bucket); callers need not know which."""
    return storage_from_config(current_app.config)


def safe_filename(name: Optional[str], default: str = "input") -> str:
    cleaned = SAFE_NAME.sub("_", (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._")
    return (cleaned or default)[:120]


def kind_spec(kind: str) -> KindSpec:
    """The API's spec of ``kind``, one of shared.kinds.KINDS (the routes refuse other names)."""
    return SPECS[kind]


def owned(model: type[T], user: User, object_id: Any, lock: bool = False) -> T:
    """The caller's row of ``model`` (a job, a pipeline) with this id, else NotFound (also for
    other users' rows, so that nobody learns which ids exist)."""
    try:
        key = uuid.UUID(str(object_id))
    except ValueError:
        raise NotFound() from None
    query = select(model).where(model.id == key, model.user_id == user.id)
    found = db.session.scalars(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFound()
    return found


def get_job_for(user: User, job_id: Any, lock: bool = False) -> Job:
    """The caller's job with this id, else NotFound (also for other users' jobs)."""
    return owned(Job, user, job_id, lock)


def submit(user: User, kind: str, params: dict[str, Any], upload: Optional[BinaryIO] = None,
           filename: Optional[str] = None, content_type: Optional[str] = None,
           idempotency: Optional[tuple[str, str]] = None) -> Job:
    """Check, store and queue a job; the job row and its outbox row are committed together.

    ``idempotency`` is ``(key, request digest)``: the key is recorded in the same transaction.
    """
    if not user.may_submit:
        raise SubmitRefused("This account may not submit jobs; ask an administrator.", 403)
    spec = kind_spec(kind)
    if spec.needs_file and upload is None:
        raise SubmitRefused("This kind of job needs a file: send multipart/form-data with a 'file' part.")
    priority = params.pop("priority", "normal")
    callback_url = params.pop("callback_url", None)
    callback_progress = params.pop("callback_progress", False)
    if callback_url:
        try:
            webhooks.check_callback_url(callback_url, current_app.config["WEBHOOK_ALLOWED_HOSTS"])
        except webhooks.CallbackRefused as exc:
            raise SubmitRefused(str(exc)) from None
    job_id = uuid.uuid4()
    input_key = None
    size = None
    if upload is not None:
        input_key = f"jobs/{job_id}/input/{safe_filename(filename)}"
        size_limit = quota.upload_limit()
        try:
            size = storage().save(input_key, upload, max_bytes=size_limit)
        except StorageLimitExceeded:
            raise quota.too_large(size_limit) from None
    columns: dict[str, Any] = {}
    if callback_url:
        columns.update(callback_url=callback_url, callback_progress=callback_progress)
        if user.webhook_secret is None:
            with transaction():
                webhooks.secret_for(user)
    if input_key:
        input_filename = safe_filename(filename)
        columns.update(input_key=input_key, input_filename=input_filename, input_size=size,
                       input_content_type=(content_type or mimetypes.guess_type(input_filename)[0]
                                           or "application/octet-stream"))
    try:
        # The kind's check probes a file on disk: on S3 that is a temporary copy, gone after the check.
        with storage().local_copy(input_key) if input_key else nullcontext() as local_input:
            params = spec.check(params, local_input)
        # The limits (active jobs, with the steps running pipelines reserved; the storage quota), the
        # job, its outbox row and the Idempotency-Key: one round trip, one transaction.
        limit = current_app.config["MAX_ACTIVE_JOBS"]
        try:
            job = jobflow.submit_job(user.id, kind, params, priority, limit, job_id, idempotency,
                                     quota_bytes=quota.limit() if input_key else None, **columns)
        except jobflow.QuotaExceeded as exc:
            raise quota.refusal(exc.used, size) from None
        if job is None:
            raise SubmitRefused(f"You already have {limit} active jobs (queued or running, counting the "
                                "steps your running pipelines have yet to start); wait for one to finish "
                                "or cancel one.", 429)
    except BaseException:
        if input_key:
            storage().delete_prefix(f"jobs/{job_id}")
        raise
    metrics.JOBS_SUBMITTED.labels(kind).inc()
    LOGGER.info("job %s: submitted by user %s (%s, %s)", job.id, user.id, kind, priority)
    return job


def list_jobs(filters: dict[str, Any], user: Optional[User] = None) -> dict[str, Any]:
    """A page of jobs, newest first; all users' when ``user`` is None (administrators)."""
    query = select(Job)
    if user is not None:
        query = query.where(Job.user_id == user.id)
    elif filters.get("user_id"):
        query = query.where(Job.user_id == filters["user_id"])
    for name in ("kind", "status"):
        if filters.get(name):
            query = query.where(getattr(Job, name) == filters[name])
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page, per_page = filters["page"], filters["per_page"]
    jobs = db.session.scalars(query.order_by(Job.created_at.desc(), Job.number.desc())
                              .offset((page - 1) * per_page).limit(per_page)).all()
    # The page's pipelines in one query, so that each step's expires_at finds its pipeline loaded.
    pipeline_ids = {job.pipeline_id for job in jobs if job.pipeline_id is not None}
    if pipeline_ids and current_app.config["RETENTION_DAYS"]:
        db.session.scalars(select(Pipeline).where(Pipeline.id.in_(pipeline_ids))).all()
    return {"items": [job_view(job) for job in jobs], "page": page, "per_page": per_page, "total": total}


def job_view(job: Job, with_position: bool = False) -> dict[str, Any]:
    """The public view of a job (no storage keys, claim ids or worker secrets)."""
    return {
        "id": job.id, "number": job.number, "kind": job.kind, "status": job.status,
        "priority": job.priority, "params": job.params, "error": job.error, "attempts": job.attempts,
        "progress": progress_view(job, with_position),
        "input": job.input_info,
        "artifacts": [{"name": a.name, "content_type": a.content_type, "size": a.size,
                       "url": url_for("jobs.artifact", job_id=job.id, name=a.name)} for a in job.artifacts],
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "user_id": job.user_id, "worker_id": job.worker_id,
        "pipeline_id": job.pipeline_id, "pipeline_step": job.pipeline_step,
        "expires_at": expires_at(job),
    }


def expires_at(job: Job) -> Any:
    """When the sweeper deletes the job and its files: RETENTION_DAYS after it ended (after its
    pipeline ended, for a step); None while it runs or when nothing expires."""
    days = current_app.config["RETENTION_DAYS"]
    if not days or not is_terminal(job.status):
        return None
    if job.pipeline_id is None:
        return expiry(job.finished_at, days)
    pipeline = db.session.get(Pipeline, job.pipeline_id)
    ended = pipeline is not None and pipeline.status != pipelineflow.RUNNING
    return expiry(pipeline.finished_at if ended else None, days)


def active_job_count(user_id: int) -> int:
    """The user's queued, running and retrying jobs (their counter: what the active-job limit reads)."""
    return db.session.scalar(select(User.active_jobs).where(User.id == user_id)) or 0


def export_source(job: Job) -> Optional[dict[str, Any]]:
    """The job's result; for a partial job of a kind that can, one assembled from its chunks."""
    if job.result is not None:
        return job.result
    spec = kind_spec(job.kind)
    if job.status != JobStatus.PARTIAL.value or spec.assemble_partial is None:
        return None
    data = db.session.scalars(select(JobChunk.data).where(JobChunk.job_id == job.id)
                              .order_by(JobChunk.seq)).all()
    return spec.assemble_partial(list(data)) if data else None


def chunks_after(job: Job, after: int, limit: int) -> list[JobChunk]:
    return db.session.scalars(select(JobChunk).where(JobChunk.job_id == job.id, JobChunk.seq > after)
                              .order_by(JobChunk.seq).limit(limit)).all()


@unit_of_work
def cancel(job: Job) -> Job:
    """Cancel the job (jobflow.Conflict once it has finished); what was done so far is kept."""
    jobflow.cancel(job)
    LOGGER.info("job %s: cancelled by its owner (%s)", job.id, job.status)
    return job


def get_any_job(job_id: Any) -> Job:
    """Any user's job with this id (administrators' routes), else NotFound."""
    try:
        job = db.session.get(Job, uuid.UUID(str(job_id)))
    except ValueError:
        raise NotFound() from None
    if job is None:
        raise NotFound()
    return job


def retry(failed: Job) -> Job:
    """Queue a failed job again, as a new job of the same owner (an administrator's action).

    The new job has the same kind, parameters, priority, callback and a copy of the input file;
    the failed one stays as it is, its error on record. Parameters are not checked again: they
    passed at submit and were stored normalized. A pipeline's step is retried with its pipeline.
    """
    if failed.status != JobStatus.FAILED.value:
        raise jobflow.Conflict(f"only a failed job can be retried; this one is {failed.status}")
    if failed.pipeline_id is not None:
        raise jobflow.Conflict(f"it is a step of pipeline {failed.pipeline_id}: retry the pipeline")
    job_id = uuid.uuid4()
    input_key = f"jobs/{job_id}/input/{safe_filename(failed.input_filename)}" if failed.input_key else None
    if input_key:
        with storage().local_copy(failed.input_key) as original, open(original, "rb") as stream:
            storage().save(input_key, stream)
    try:
        with transaction():
            job = jobflow.create_job(failed.user_id, failed.kind, dict(failed.params), failed.priority,
                                     job_id=job_id, callback_url=failed.callback_url,
                                     callback_progress=failed.callback_progress)
            if input_key:
                job.input_key, job.input_filename = input_key, failed.input_filename
                job.input_content_type, job.input_size = failed.input_content_type, failed.input_size
    except BaseException:
        if input_key:
            storage().delete_prefix(f"jobs/{job_id}")
        raise
    metrics.JOBS_SUBMITTED.labels(job.kind).inc()
    LOGGER.info("job %s: retried as job %s by an administrator", failed.id, job.id)
    return job


def delete(job: Job) -> None:
    """Delete a job with its chunks, artifacts and files; a running job's worker gets 404 and stops."""
    job_id = job.id
    with transaction():
        if job.pipeline_id is not None and is_active(job.status):
            jobflow.cancel(job)  # first, so its pipeline ends (cancelled) instead of waiting for it forever
        db.session.delete(job)
    storage().delete_prefix(f"jobs/{job_id}")
    LOGGER.info("job %s: deleted", job_id)
