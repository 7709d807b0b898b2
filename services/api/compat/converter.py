"""Seed 004's conversion API (Flask + Celery conventions) under /compat/converter.

Its tasks are native convert jobs, identified by the job's UUID; ``conversion_type`` is the native
``target``. Tokens come from ``/compat/converter/api/auth/login`` in the auth service and are
sent as ``Authorization: Bearer <token>``.

Decisions on what the seed leaves open:

* States are Celery's: PENDING (queued), STARTED (running), RETRY (retrying), SUCCESS (succeeded),
  FAILURE (failed, or partial without a cancel), REVOKED (cancelled, or partial after a cancel).
* Status codes: the seed names one only where it is not 200 (DELETE -> 204), so every other success
  is 200, creating a task included.
* ``POST /api/tasks`` takes multipart/form-data (``file`` + ``conversion_type``): the seed's JSON
  ``"file": "file_path"`` names a path on the client's disk, which a server cannot read, so a JSON
  body is refused with 400 and a message saying how to send the file.
* ``GET /api/tasks/<id>`` returns Celery's ``result`` as the seed shows it, a string: for SUCCESS
  ``"{'status': 'File saved to <file name>'}"`` (the download's file name, never a server path), for
  FAILURE the reason, otherwise null.
* Errors are ``{"message": ...}`` as the seed's own replies are, in English like its task messages.
"""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from services.api import jobs
from services.api.compat.common import CompatError, compat_user, error_handler
from services.api.downloads import send_stored
from services.api.kinds import SubmitRefused
from shared.db import db
from shared.models import Artifact, Job, User

bp = Blueprint("compat_converter", __name__, url_prefix="/compat/converter")

KIND = "convert"
NOT_AUTHENTICATED = {"message": "Missing or invalid token: send 'Authorization: Bearer <token>'."}
NOT_FOUND = {"message": "Task not found."}
HOW_TO_SEND = "send multipart/form-data with a 'file' part and a 'conversion_type' field"
STATES = {"queued": "PENDING", "running": "STARTED", "retrying": "RETRY", "succeeded": "SUCCESS",
          "failed": "FAILURE", "cancelled": "REVOKED"}

error_handler(bp, lambda code, message: {"message": message})


def _task_for(user: User, task_id: str, lock: bool = False) -> Job:
    try:
        job = jobs.get_job_for(user, task_id, lock=lock)
    except jobs.NotFound:
        raise CompatError(404, NOT_FOUND) from None
    if job.kind != KIND:
        raise CompatError(404, NOT_FOUND)
    return job


def _state(job: Job) -> str:
    if job.status == "partial":
        return "REVOKED" if job.cancelled_at else "FAILURE"
    return STATES[job.status]


def _result(job: Job) -> Optional[str]:
    state = _state(job)
    if state == "SUCCESS" and job.result:
        return str({"status": f"File saved to {job.result.get('artifact')}"})
    if state == "FAILURE":
        return job.error
    return None


@bp.get("/api/tasks")
def list_tasks():
    user = compat_user(NOT_AUTHENTICATED)
    rows = db.session.scalars(select(Job).where(Job.user_id == user.id, Job.kind == KIND)
                              .order_by(Job.created_at, Job.number)).all()
    return jsonify({"tasks": [{"task_id": str(job.id), "conversion_type": job.params.get("target"),
                               "status": _state(job)} for job in rows]})


@bp.post("/api/tasks")
def create_task():
    user = compat_user(NOT_AUTHENTICATED)
    if request.is_json:
        raise CompatError(400, {"message": f"Send the file itself, not its path: {HOW_TO_SEND}."})
    upload = request.files.get("file")
    if upload is None:
        raise CompatError(400, {"message": f"The 'file' part is missing: {HOW_TO_SEND}."})
    conversion_type = request.form.get("conversion_type")
    try:
        # Through the kind's schema, so the job gets the same defaults as a native submission.
        params = jobs.kind_spec(KIND).params_schema().load(
            {} if conversion_type is None else {"target": conversion_type})
        job = jobs.submit(user, KIND, params, upload.stream, upload.filename, upload.mimetype)
    except SubmitRefused as exc:
        raise CompatError(exc.status, {"message": str(exc)}) from None
    return jsonify({"message": "Conversion started", "task_id": str(job.id)})


@bp.get("/api/tasks/<task_id>")
def get_task(task_id: str):
    job = _task_for(compat_user(NOT_AUTHENTICATED), task_id)
    return jsonify({"state": _state(job), "result": _result(job)})


@bp.delete("/api/tasks/<task_id>")
def delete_task(task_id: str):
    jobs.delete(_task_for(compat_user(NOT_AUTHENTICATED), task_id, lock=True))
    return "", 204


@bp.get("/api/download")
def download():
    user = compat_user(NOT_AUTHENTICATED)
    task_id = request.args.get("task_id")
    if not task_id:
        raise CompatError(400, {"message": "The 'task_id' query parameter is required."})
    job = _task_for(user, task_id)
    name = (job.result or {}).get("artifact")
    found = db.session.scalars(select(Artifact).where(Artifact.job_id == job.id,
                                                      Artifact.name == name)).first()
    if found is None:
        raise CompatError(409, {"message": f"The task is {_state(job)}; "
                                           "there is no converted file to download."})
    return send_stored(found.storage_key, found.content_type, found.name, as_attachment=True)
