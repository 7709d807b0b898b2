"""The internal worker API: claim, input, events, artifacts, succeed, fail.

Workers authenticate with the worker secret (``X-Worker-Token``), never with a
user token; every callback names its claim, so a worker whose claim was taken
over (lease lost) cannot write over the new one. The views parse and dump;
``services.api.workers`` does the work.
"""
from __future__ import annotations

import functools
import hmac
import re

from flask import current_app, redirect, request
from flask_smorest import Blueprint

from services.api import schemas, workers
from services.api.downloads import send_stored
from shared.errors import error_response, fail
from shared.internal_api import DIRECT_DOWNLOAD_HEADER

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


def _check_artifact_name(name: str) -> None:
    # fullmatch: with re.match, the pattern's "$" also let a trailing newline through ("out.txt\n")
    if not re.fullmatch(ARTIFACT_NAME, name):
        fail(400, "Artifact names are 1-128 characters: letters, digits, '.', '_', '-'.")


@bp.errorhandler(workers.Refused)
def _refused(exc: workers.Refused):
    return error_response(exc.status, str(exc))


@bp.route("/workers/<string:worker_id>/heartbeat", methods=["POST"])
@worker_only
@bp.arguments(schemas.WorkerHeartbeatSchema)
@bp.response(204)
def worker_heartbeat(data, worker_id):
    """Register a worker and what it can do, or refresh its registration."""
    workers.register(worker_id, data["kind"], data["capabilities"])


@bp.route("/workers/<string:worker_id>/gone", methods=["POST"])
@worker_only
@bp.arguments(schemas.WorkerGoneSchema)
@bp.response(204)
def worker_gone(data, worker_id):
    """A supervisor saw this worker die: its running jobs are handed back at once."""
    workers.worker_gone(worker_id, data["reason"])


@bp.route("/jobs/<job_id>/claim", methods=["POST"])
@worker_only
@bp.arguments(schemas.ClaimRequestSchema)
@bp.response(200, schemas.ClaimResponseSchema)
def claim(data, job_id):
    """Take a job; a second delivery of a running or finished job is a no-op (``claimed: false``)."""
    return workers.claim(job_id, data["worker_id"])


@bp.route("/jobs/<job_id>/input", methods=["GET"])
@worker_only
@bp.response(200, content_type="application/octet-stream")
def job_input(job_id):
    """The job's input file, for the worker that holds the claim (``X-Claim-Id``).

    A worker that sends ``X-Direct-Download: allowed`` gets, on a store that can sign URLs (S3),
    307 to a short-lived presigned URL instead: large media then skip the API process.
    """
    direct = request.headers.get(DIRECT_DOWNLOAD_HEADER) == "allowed"
    key, content_type, url = workers.input_file(job_id, request.headers.get("X-Claim-Id"), direct)
    if url:
        return redirect(url, 307)
    return send_stored(key, content_type)


@bp.route("/jobs/<job_id>/events", methods=["POST"])
@worker_only
@bp.arguments(schemas.WorkerEventsSchema)
@bp.response(200, schemas.EventsReplySchema)
def job_events(data, job_id):
    """Progress, chunks, log lines and heartbeats; the reply says whether the job was cancelled."""
    return {"cancelled": workers.record_events(job_id, data["claim_id"], data["events"])}


@bp.route("/jobs/<job_id>/artifacts/<name>", methods=["PUT"])
@worker_only
@bp.response(201, schemas.ArtifactSchema)
def upload_artifact(job_id, name):
    """Store an output file of the job (the request body), replacing one of the same name."""
    _check_artifact_name(name)
    size = workers.store_artifact(job_id, request.headers.get("X-Claim-Id"), name, request.stream,
                                  request.mimetype)
    return {"name": name, "size": size, "content_type": request.mimetype, "url": None}


@bp.route("/jobs/<job_id>/artifacts/<name>/direct", methods=["POST"])
@worker_only
@bp.arguments(schemas.DirectUploadSchema)
@bp.response(200, schemas.DirectUploadReplySchema)
def direct_upload(data, job_id, name):
    """A presigned URL to PUT an output file straight to the object store (``url`` null: none)."""
    _check_artifact_name(name)
    return {"url": workers.direct_upload_url(job_id, data["claim_id"], name, data["size"])}


@bp.route("/jobs/<job_id>/artifacts/<name>/direct/done", methods=["POST"])
@worker_only
@bp.arguments(schemas.DirectUploadDoneSchema)
@bp.response(201, schemas.ArtifactSchema)
def direct_upload_done(data, job_id, name):
    """Record the output file the worker PUT to its presigned URL (409 when nothing arrived there)."""
    _check_artifact_name(name)
    size = workers.record_direct_upload(job_id, data["claim_id"], name, data["content_type"])
    return {"name": name, "size": size, "content_type": data["content_type"], "url": None}


@bp.route("/jobs/<job_id>/succeed", methods=["POST"])
@worker_only
@bp.arguments(schemas.SucceedSchema)
@bp.response(200, schemas.FinishReplySchema)
def succeed(data, job_id):
    """Finish the job with its result (repeating the same call is harmless)."""
    return {"status": workers.succeed(job_id, data["claim_id"], data["result"], data.get("progress"))}


@bp.route("/jobs/<job_id>/fail", methods=["POST"])
@worker_only
@bp.arguments(schemas.FailSchema)
@bp.response(200, schemas.FinishReplySchema)
def fail_job(data, job_id):
    """Report a failure: transient ones are retried while attempts remain, permanent ones fail now."""
    return {"status": workers.fail(job_id, data["claim_id"], data["error"], data["transient"])}
