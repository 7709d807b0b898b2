"""The internal worker API: claim, input, events, artifacts, succeed, fail.

Workers authenticate with the worker secret (``X-Worker-Token``), never with a
user token; every callback names its claim, so a worker whose claim was taken
over (lease lost) cannot write over the new one.
"""
from __future__ import annotations

import functools
import hmac
import logging
import re
import uuid

from flask import current_app, request, send_file
from flask_smorest import Blueprint
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.api import jobs, schemas
from shared import jobflow
from shared.db import db
from shared.errors import fail
from shared.models import Artifact, WorkerRecord
from shared.states import JobStatus
from shared.storage import StorageLimitExceeded

LOGGER = logging.getLogger(__name__)

bp = Blueprint("internal", __name__, url_prefix="/internal/v1",
               description="Worker callbacks (worker secret in X-Worker-Token)")

ARTIFACT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


def worker_only(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        presented = request.headers.get("X-Worker-Token", "")
        if not hmac.compare_digest(presented.encode(), current_app.config["WORKER_TOKEN"].encode()):
            fail(401, "Worker token missing or wrong.")
        return view(*args, **kwargs)
    return wrapper


def _locked_job(job_id: str):
    try:
        job = jobflow.lock_job(uuid.UUID(job_id))
    except ValueError:
        job = None
    if job is None:
        fail(404, "No such job.")
    return job


def _require_claim(job, claim_id: str):
    """The job if ``claim_id`` is its live claim; 409 for a superseded claim or a finished job."""
    try:
        jobflow.check_claim(job, claim_id)
    except jobflow.Conflict as exc:
        db.session.rollback()
        fail(409, str(exc))
    return job


def _claimed_job(job_id: str, claim_id: str):
    return _require_claim(_locked_job(job_id), claim_id)


@bp.route("/workers/<string:worker_id>/heartbeat", methods=["POST"])
@worker_only
@bp.arguments(schemas.WorkerHeartbeatSchema)
@bp.response(204)
def worker_heartbeat(data, worker_id):
    """Register a worker and what it can do, or refresh its registration."""
    statement = pg_insert(WorkerRecord).values(id=worker_id[:128], kind=data["kind"],
                                               capabilities=data["capabilities"])
    db.session.execute(statement.on_conflict_do_update(index_elements=[WorkerRecord.id], set_={
        "kind": statement.excluded.kind, "capabilities": statement.excluded.capabilities,
        "last_seen_at": jobflow.utcnow()}))
    db.session.commit()


@bp.route("/jobs/<job_id>/claim", methods=["POST"])
@worker_only
@bp.arguments(schemas.ClaimRequestSchema)
@bp.response(200, schemas.ClaimResponseSchema)
def claim(data, job_id):
    """Take a job; a second delivery of a running or finished job is a no-op (``claimed: false``)."""
    job = _locked_job(job_id)
    config = current_app.config
    outcome = jobflow.claim(job, data["worker_id"], config["LEASE_SECONDS"], config["MAX_ATTEMPTS"])
    db.session.commit()
    if not outcome.claimed:
        LOGGER.info("job %s: claim by %s is a no-op (%s)", job.id, data["worker_id"], outcome.reason)
        return {"claimed": False, "reason": outcome.reason, "claim_id": None, "job": None}
    LOGGER.info("job %s: claimed by %s (attempt %d)", job.id, data["worker_id"], job.attempts)
    return {"claimed": True, "reason": "", "claim_id": outcome.claim_id, "job": {
        "id": str(job.id), "number": job.number, "kind": job.kind, "params": job.params,
        "attempt": job.attempts, "lease_seconds": config["LEASE_SECONDS"],
        "input": job.input_info}}


@bp.route("/jobs/<job_id>/input", methods=["GET"])
@worker_only
@bp.response(200, content_type="application/octet-stream")
def job_input(job_id):
    """The job's input file, for the worker that holds the claim (``X-Claim-Id``)."""
    job = _claimed_job(job_id, request.headers.get("X-Claim-Id"))
    db.session.commit()
    if not job.input_key:
        fail(404, "This job has no input file.")
    return send_file(jobs.storage().local_path(job.input_key), mimetype=job.input_content_type)


@bp.route("/jobs/<job_id>/events", methods=["POST"])
@worker_only
@bp.arguments(schemas.WorkerEventsSchema)
@bp.response(200, schemas.EventsReplySchema)
def job_events(data, job_id):
    """Progress, chunks, log lines and heartbeats; the reply says whether the job was cancelled."""
    job = _locked_job(job_id)
    if job.cancelled_at is not None:
        db.session.rollback()
        return {"cancelled": True}
    _require_claim(job, data["claim_id"])
    for event in data["events"]:
        if event["type"] == "progress":
            jobflow.record_progress(job, event.get("current", 0.0), event.get("total"), event.get("unit"))
        elif event["type"] == "chunk":
            if "seq" not in event or "data" not in event:
                db.session.rollback()
                fail(422, "A chunk event needs seq and data.")
            jobflow.upsert_chunk(job, event["seq"], event["data"])
        elif event["type"] == "log" and event.get("message"):
            jobflow.add_log(job, event["message"])
    jobflow.extend_lease(job, current_app.config["LEASE_SECONDS"])
    db.session.commit()
    return {"cancelled": False}


@bp.route("/jobs/<job_id>/artifacts/<name>", methods=["PUT"])
@worker_only
@bp.response(201, schemas.ArtifactSchema)
def upload_artifact(job_id, name):
    """Store an output file of the job (the request body), replacing one of the same name."""
    if not re.match(ARTIFACT_NAME, name):
        fail(400, "Artifact names are 1-128 characters: letters, digits, '.', '_', '-'.")
    job = _claimed_job(job_id, request.headers.get("X-Claim-Id"))
    key = f"jobs/{job.id}/artifacts/{name}"
    try:
        size = jobs.storage().save(key, request.stream, max_bytes=current_app.config["MAX_UPLOAD_BYTES"] * 4)
    except StorageLimitExceeded:
        db.session.rollback()
        fail(413, "The artifact is larger than allowed.")
    statement = pg_insert(Artifact).values(job_id=job.id, name=name, storage_key=key, size=size,
                                           content_type=request.mimetype or "application/octet-stream")
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[Artifact.job_id, Artifact.name],
        set_={"size": statement.excluded.size, "content_type": statement.excluded.content_type}))
    jobflow.extend_lease(job, current_app.config["LEASE_SECONDS"])
    db.session.commit()
    return {"name": name, "size": size, "content_type": request.mimetype, "url": None}


@bp.route("/jobs/<job_id>/succeed", methods=["POST"])
@worker_only
@bp.arguments(schemas.SucceedSchema)
@bp.response(200, schemas.FinishReplySchema)
def succeed(data, job_id):
    """Finish the job with its result (repeating the same call is harmless)."""
    job = _locked_job(job_id)
    if job.status == JobStatus.SUCCEEDED.value and str(job.claim_id) == data["claim_id"]:
        db.session.rollback()
        return {"status": job.status}
    _require_claim(job, data["claim_id"])
    jobflow.succeed(job, data["result"])
    db.session.commit()
    LOGGER.info("job %s: succeeded on %s", job.id, job.worker_id)
    return {"status": job.status}


@bp.route("/jobs/<job_id>/fail", methods=["POST"])
@worker_only
@bp.arguments(schemas.FailSchema)
@bp.response(200, schemas.FinishReplySchema)
def fail_job(data, job_id):
    """Report a failure: transient ones are retried while attempts remain, permanent ones fail now."""
    job = _claimed_job(job_id, data["claim_id"])
    config = current_app.config
    jobflow.fail(job, data["error"], data["transient"], config["MAX_ATTEMPTS"], config["RETRY_BACKOFF_SECONDS"])
    db.session.commit()
    return {"status": job.status}
