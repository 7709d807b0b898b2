"""Public HTTP endpoints of the API service: jobs, results, files, catalogs."""
from __future__ import annotations

import functools

import pika
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.api import idempotency, jobs, operations, quota, schemas
from services.api.downloads import DOWNLOAD_RESPONSES, send_stored
from services.api.events import job_event_stream
from services.api.kinds import SPECS, SubmitRefused
from services.api.kinds.docs import SUBMIT_REFUSALS, submit_body
from services.api.kinds.translate import translation_pairs
from shared.db import db
from shared.errors import fail
from shared.kinds import KINDS
from shared.models import Artifact, JobLog
from shared.principal import admin_required, current_user, login_required
from shared.states import is_active

bp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="Jobs, results and files")


def _job_or_404(job_id, lock: bool = False):
    try:
        return jobs.get_job_for(current_user(), job_id, lock=lock)
    except jobs.NotFound:
        fail(404, "Job not found.")


def submission() -> tuple[dict, object, str | None, str | None]:
    """Parameters and optional file of a JSON or multipart submission (a job's, a pipeline's)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        params = request.form.to_dict()
        if None in params:
            # werkzeug names a part whose name it cannot read None, which no error message can hold.
            fail(400, "Every part of the form needs a name.")
        if upload is None:
            return params, None, None, None
        return params, upload.stream, upload.filename, upload.mimetype
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        fail(400, "Send a JSON object, or multipart/form-data with a 'file' part.")
    return body, None, None, None


@functools.cache
def _params_schema(kind: str):
    """One schema instance per kind: building one deep-copies every field, and loading keeps no state."""
    return jobs.kind_spec(kind).params_schema()


def _submit(kind: str):
    """Queue a job of ``kind`` at once (every kind's documented route, and the undocumented fallback)."""
    if kind not in KINDS:
        fail(404, f"Unknown job kind {kind!r}; use one of {', '.join(KINDS)}.")
    raw, upload, filename, content_type = submission()
    key = idempotency.key_from_request()
    user = current_user()
    try:
        params = _params_schema(kind).load(raw)
        digest = idempotency.request_hash(kind, params, upload) if key else ""
        earlier = idempotency.earlier_job(user.id, key, digest) if key else None
        if earlier is not None:
            return jobs.job_view(earlier), 202, {"Location": f"/api/v1/jobs/{earlier.id}",
                                                 "Idempotent-Replayed": "true"}
        job = jobs.submit(user, kind, params, upload, filename, content_type,
                          idempotency=(key, digest) if key else None)
    except ValidationError as exc:
        fail(422, "Invalid job parameters.", errors={"json": exc.messages})
    except SubmitRefused as exc:
        fail(exc.status, str(exc))
    except idempotency.KeyReused as exc:
        fail(409, str(exc))
    except IntegrityError:
        # A concurrent request with the same key committed first (submit rolled back): answer with its job.
        earlier = idempotency.earlier_job(user.id, key, digest) if key else None
        if earlier is None:
            raise
        return jobs.job_view(earlier), 202, {"Location": f"/api/v1/jobs/{earlier.id}", "Idempotent-Replayed": "true"}
    return jobs.job_view(job), 202, {"Location": f"/api/v1/jobs/{job.id}"}


def _documented_submit(kind: str):
    """The submit route of one kind, documented with that kind's own body; the handler is shared."""
    @login_required
    @bp.doc(requestBody=submit_body(SPECS[kind]), responses=SUBMIT_REFUSALS)
    @bp.response(202, schemas.JobSchema)
    def view():
        return _submit(kind)
    view.__doc__ = f"Submit a{'n' if kind[0] in 'aeiou' else ''} {kind} job; it is queued at once."
    return view


for _kind in KINDS:
    bp.add_url_rule(f"/jobs/{_kind}", endpoint=f"submit_{_kind}", view_func=_documented_submit(_kind),
                    methods=["POST"])
# Any other name answers 404 saying which kinds exist. Flask's own add_url_rule keeps the route out of
# the document, where the four routes above describe each body.
FlaskBlueprint.add_url_rule(bp, "/jobs/<string:kind>", "submit", login_required(_submit), methods=["POST"])


@bp.route("/jobs", methods=["GET"])
@login_required
@bp.arguments(schemas.JobListArgs, location="query")
@bp.response(200, schemas.JobPageSchema)
def list_jobs(args):
    """The caller's jobs, newest first, filtered by kind and status."""
    return jobs.list_jobs(args, user=current_user())


@bp.route("/jobs/<job_id>", methods=["GET"])
@login_required
@bp.response(200, schemas.JobSchema)
def get_job(job_id):
    """One job with its status and progress."""
    return jobs.job_view(_job_or_404(job_id), with_position=True)


@bp.route("/jobs/<job_id>/progress", methods=["GET"])
@login_required
@bp.response(200, schemas.ProgressSchema)
def progress(job_id):
    """Progress of one job (and its place in the queue while it waits)."""
    return jobs.job_view(_job_or_404(job_id), with_position=True)["progress"]


@bp.route("/jobs/<job_id>/events", methods=["GET"])
@login_required
@bp.doc(responses={"200": {"description": "text/event-stream of status, progress and chunk events",
                           "content": {"text/event-stream": {}}}})
def events(job_id):
    """Server-sent events: ``status`` on every change, ``chunk`` per partial result, ``end`` at the end."""
    job = _job_or_404(job_id)
    last_seq = request.headers.get("Last-Event-ID", type=int, default=-1)
    stream = job_event_stream(job.id, current_user().id, last_seq)
    db.session.close()
    return Response(stream_with_context(stream), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.route("/jobs/<job_id>/result", methods=["GET"])
@login_required
@bp.response(200, schemas.ResultSchema)
def result(job_id):
    """The result of a finished job (409 while it is queued or running).

    A partial job's result is assembled from its chunks where its kind can (asr), marked partial.
    """
    job = _job_or_404(job_id)
    found = jobs.export_source(job)
    if found is None:
        fail(409, f"The job is {job.status}; it has no result"
             + (" yet." if is_active(job.status) else "."))
    return {"id": job.id, "status": job.status, "result": found, "error": job.error}


@bp.route("/jobs/<job_id>/chunks", methods=["GET"])
@login_required
@bp.arguments(schemas.ChunkListArgs, location="query")
@bp.response(200, schemas.ChunkSchema(many=True))
def chunks(args, job_id):
    """Partial results posted so far (poll with ``after`` = the last seq seen)."""
    return jobs.chunks_after(_job_or_404(job_id), args["after"], args["limit"])


@bp.route("/jobs/<job_id>/logs", methods=["GET"])
@login_required
@bp.response(200, schemas.LogSchema(many=True))
def logs(job_id):
    """Log lines the worker attached to the job."""
    job = _job_or_404(job_id)
    return db.session.scalars(select(JobLog).where(JobLog.job_id == job.id).order_by(JobLog.id)).all()


@bp.route("/jobs/<job_id>/input", methods=["GET"])
@login_required
@bp.response(200, content_type="application/octet-stream")
@bp.doc(responses=DOWNLOAD_RESPONSES)
def download_input(job_id):
    """The file the job was submitted with."""
    job = _job_or_404(job_id)
    if not job.input_key:
        fail(404, "This job has no input file.")
    return send_stored(job.input_key, job.input_content_type, job.input_filename, as_attachment=True)


@bp.route("/jobs/<job_id>/artifacts/<name>", methods=["GET"])
@login_required
@bp.response(200, content_type="application/octet-stream")
@bp.doc(responses=DOWNLOAD_RESPONSES)
def artifact(job_id, name):
    """An output file of the job."""
    job = _job_or_404(job_id)
    found = db.session.scalars(select(Artifact).where(Artifact.job_id == job.id, Artifact.name == name)).first()
    if found is None:
        fail(404, "No such artifact.")
    return send_stored(found.storage_key, found.content_type, name, as_attachment=True)


@bp.route("/jobs/<job_id>/export", methods=["GET"])
@login_required
@bp.arguments(schemas.ExportArgs, location="query")
@bp.response(200, content_type="application/octet-stream")
def export(args, job_id):
    """The result in a file format (``txt`` for translations; more per kind)."""
    job = _job_or_404(job_id)
    exporters = jobs.kind_spec(job.kind).exporters
    if args["format"] not in exporters:
        fail(400, f"Unknown export format {args['format']!r}; this job offers: {', '.join(exporters) or 'none'}.")
    source = jobs.export_source(job)
    if source is None:
        fail(409, f"The job is {job.status}; there is nothing to export yet.")
    body, content_type, extension = exporters[args["format"]](source)
    return Response(body, mimetype=content_type, headers={
        "Content-Disposition": f'attachment; filename="{job.kind}-{job.number}.{extension}"'})


@bp.route("/jobs/<job_id>/cancel", methods=["POST"])
@login_required
@bp.response(200, schemas.JobSchema)
def cancel(job_id):
    """Cancel a queued or running job; what was done so far is kept (``partial``)."""
    job = _job_or_404(job_id, lock=True)
    try:
        jobs.cancel(job)
    except jobs.jobflow.Conflict as exc:
        fail(409, f"Cannot cancel: {exc}.")
    return jobs.job_view(job)


@bp.route("/jobs/<job_id>", methods=["DELETE"])
@login_required
@bp.response(204)
def delete(job_id):
    """Delete a job and its files."""
    jobs.delete(_job_or_404(job_id, lock=True))


@bp.route("/usage", methods=["GET"])
@login_required
@bp.response(200, schemas.UsageSchema)
def usage():
    """What the caller stores against their quota, and their active jobs against the limit.

    An upload that would pass the quota is refused: 413 when the file alone is larger than the
    quota, 429 when it does not fit beside the files already stored (free space, then send again).
    """
    user = current_user()
    days = current_app.config["RETENTION_DAYS"]
    return {"storage": {"used_bytes": quota.used_bytes(user.id), "limit_bytes": quota.limit(),
                        "retention_days": days or None},
            "jobs": {"active": jobs.active_job_count(user.id), "limit": current_app.config["MAX_ACTIVE_JOBS"]}}


@bp.route("/admin/jobs", methods=["GET"])
@admin_required
@bp.arguments(schemas.AdminJobListArgs, location="query")
@bp.response(200, schemas.AdminJobPageSchema)
def admin_jobs(args):
    """Every user's jobs, newest first (administrators only)."""
    return jobs.list_jobs(args)


@bp.route("/admin/jobs/<job_id>/retry", methods=["POST"])
@admin_required
@bp.response(202, schemas.AdminJobSchema)
@bp.alt_response(409, description="The job has not failed, or is a pipeline's step")
def admin_retry(job_id):
    """Queue a failed job again as a new job of its owner (same parameters and input file)."""
    try:
        failed = jobs.get_any_job(job_id)
    except jobs.NotFound:
        fail(404, "Job not found.")
    try:
        return jobs.job_view(jobs.retry(failed))
    except jobs.jobflow.Conflict as exc:
        fail(409, f"Cannot retry: {exc}.")


@bp.route("/admin/operations", methods=["GET"])
@admin_required
@bp.response(200, schemas.OperationsSchema)
def admin_operations():
    """Queue depth and dead letters per kind, and the live workers with their last heartbeat and current job."""
    workers = operations.live_workers()
    try:
        depths = operations.queue_depths(current_app.config["AMQP_URL"], current_app.config["AMQP_PREFIX"])
    except pika.exceptions.AMQPError:
        return {"broker_up": False, "queues": [], "workers": workers}
    return {"broker_up": True, "queues": [{"kind": kind, **counts} for kind, counts in depths.items()],
            "workers": workers}


@bp.route("/languages", methods=["GET"])
@bp.doc(security=[])
@bp.response(200, schemas.LanguagesSchema)
def languages():
    """Language pairs the running translate workers serve (``via``: pivot languages)."""
    pairs = translation_pairs()
    return {"pairs": pairs, "languages": sorted({p["source"] for p in pairs} | {p["target"] for p in pairs})}
