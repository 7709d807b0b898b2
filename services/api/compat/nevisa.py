"""Seed 000's speech-to-text API (Nevisa: Django REST framework + celery-progress) under /compat/nevisa.

Its tasks are native asr jobs; a task id is the job's UUID, as Celery's are. The login that hands
out ``auth_token`` is ``/compat/nevisa/account/login`` in the auth service; ``api_key`` is a native
API key (``POST /auth/v1/api-keys``).

How callers are identified (every credential sent must be valid and all must name one user, else
401 with DRF's ``{"detail": ...}``):

* ``POST /recognize-file`` needs both form fields: ``auth_token`` (an access token from the login)
  and ``api_key``. The ``Authorization`` header is optional and checked when sent.
* ``POST /file/terminate-task`` needs the header ``Authorization: Token <auth-token>`` (``Bearer``
  and an API key in its place work too); its ``auth_token`` / ``api_key`` fields are checked when sent.
* ``GET /celery-progress/<task_id>/`` needs no credential, as the seed shows (it sends no header there)
  and as the celery-progress library works: the task id is the capability. It is the job's random
  UUID (version 4, 122 random bits), handed only to the submitter, so it cannot be guessed; ids that
  are not such a UUID, or name no asr job, are 404. Headers sent there are not consulted. Setting
  ``CONVEYOR_NEVISA_PROGRESS_NEEDS_AUTH`` makes it need terminate-task's header as well, and then
  only the owner reads the task.

Decisions on what the seed leaves open:

* States are celery-progress's: PENDING (queued), PROGRESS (running, retrying), SUCCESS, FAILURE
  (failed, or stopped by an error after some chunks; ``result`` is the reason), REVOKED (cancelled,
  with or without kept chunks; ``result`` is ``"Task terminated"``). ``progress`` counts percent of
  the audio (``total`` 100), as the seed's example does; ``current`` stays below 100 until the end.
* ``progress_url`` is the seed's path, relative to the base URL the client was given.
* A missing task (and, with ``CONVEYOR_NEVISA_PROGRESS_NEEDS_AUTH``, another user's) is 404
  ``{"detail": "Not found."}`` on celery-progress; on terminate-task another user's task or a missing
  one is 401, which the seed documents; both answers are the same either way.
* Terminating a finished task is 200 and changes nothing; the reply says the state it ended in.
"""
from __future__ import annotations

import math
import uuid
from typing import Any, Optional

from flask import Blueprint, current_app, g, jsonify, request

from services.api import jobs
from services.api.compat.common import CompatError, error_handler
from services.api.kinds import SubmitRefused
from shared.db import db
from shared.models import Job, User
from shared.principal import API_KEY_PREFIX, user_for_access_token, user_for_api_key
from shared.states import is_terminal

bp = Blueprint("compat_nevisa", __name__, url_prefix="/compat/nevisa")

KIND = "asr"
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
FORM_NOT_PROVIDED = {"detail": "Authentication credentials were not provided: send auth_token and api_key."}
INVALID_TOKEN = {"detail": "Invalid token."}
INVALID_API_KEY = {"detail": "Invalid API key."}
MIXED_ACCOUNTS = {"detail": "The credentials sent belong to different accounts."}
NOT_FOUND = {"detail": "Not found."}
NOT_YOURS = {"detail": "This task does not belong to you."}
COMPLETED_PROGRESS = {"pending": False, "current": 100, "total": 100, "percent": 100}
STATES = {"queued": "PENDING", "running": "PROGRESS", "retrying": "PROGRESS", "succeeded": "SUCCESS",
          "failed": "FAILURE", "cancelled": "REVOKED"}

error_handler(bp, lambda code, message: {"detail": message})


def _user_for_credential(value: str) -> Optional[User]:
    return user_for_api_key(value) if value.startswith(API_KEY_PREFIX) else user_for_access_token(value)


def _header_credential() -> Optional[str]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key") or None


def _caller(header_required: bool, form_required: bool) -> User:
    """The one user that every credential sent names, or 401 (see the module's docstring)."""
    header = _header_credential()
    auth_token, api_key = request.form.get("auth_token"), request.form.get("api_key")
    if header_required and header is None:
        raise CompatError(401, NOT_PROVIDED)
    if form_required and not (auth_token and api_key):
        raise CompatError(401, FORM_NOT_PROVIDED)
    users = []
    for value, lookup, refusal in ((header, _user_for_credential, INVALID_TOKEN),
                                   (auth_token, user_for_access_token, INVALID_TOKEN),
                                   (api_key, user_for_api_key, INVALID_API_KEY)):
        if value:
            user = lookup(value)
            if user is None:
                raise CompatError(401, refusal)
            users.append(user)
    if not users:
        raise CompatError(401, NOT_PROVIDED)
    if len({user.id for user in users}) > 1:
        raise CompatError(401, MIXED_ACCOUNTS)
    g.user = users[0]
    return users[0]


def _task_for(user: User, task_id: str, refusal: CompatError, lock: bool = False) -> Job:
    try:
        job = jobs.get_job_for(user, task_id, lock=lock)
    except jobs.NotFound:
        raise refusal from None
    if job.kind != KIND:
        raise refusal
    return job


def _task_by_capability(task_id: str) -> Job:
    """The asr job whose random id this is, whoever owns it (the id is the capability), else 404."""
    try:
        key = uuid.UUID(task_id)
    except ValueError:
        raise CompatError(404, NOT_FOUND) from None
    # Job ids are uuid4; any other version names no job this surface handed out.
    job = db.session.get(Job, key) if key.version == 4 else None
    if job is None or job.kind != KIND:
        raise CompatError(404, NOT_FOUND)
    return job


def _state(job: Job) -> str:
    if job.status == "partial":
        return "REVOKED" if job.cancelled_at else "FAILURE"
    return STATES[job.status]


def _transcription(result: dict[str, Any]) -> dict[str, Any]:
    words = [{"conf": float(w["conf"]) if w.get("conf") is not None else 1.0, "end": w["end"],
              "start": w["start"], "word": str(w["word"]).strip()} for w in result.get("words") or []]
    return {"result": words, "text": result.get("text") or ""}


def progress_view(job: Job) -> dict[str, Any]:
    """The job in celery-progress's shape."""
    state = _state(job)
    if state == "PENDING":
        return {"state": state, "complete": False, "success": None,
                "progress": {"pending": True, "current": 0, "total": 100, "percent": 0}}
    if state == "PROGRESS":
        # Below 100 until the job has succeeded: the seed's "current" is "less than total" meanwhile.
        done = min(99, math.floor(job.progress_percent or 0))
        return {"state": state, "complete": False, "success": None,
                "progress": {"pending": False, "current": done, "total": 100, "percent": done}}
    body = {"state": state, "complete": True, "success": state == "SUCCESS", "progress": COMPLETED_PROGRESS}
    if state == "SUCCESS":
        body["result"] = {"transcription": _transcription(job.result or {}), "final": True}
    elif state == "REVOKED":
        body["result"] = "Task terminated"
    else:
        body["result"] = job.error or "The task failed."
    return body


@bp.post("/recognize-file")
def recognize_file():
    user = _caller(header_required=False, form_required=True)
    upload = request.files.get("file")
    if upload is None:
        raise CompatError(400, {"file": ["No file was submitted."]})
    try:
        # Through the kind's schema, so the job gets the same defaults as a native submission.
        params = jobs.kind_spec(KIND).params_schema().load({})
        job = jobs.submit(user, KIND, params, upload.stream, upload.filename, upload.mimetype)
    except SubmitRefused as exc:
        raise CompatError(exc.status, {"detail": str(exc)}) from None
    return jsonify({"progress_url": f"/celery-progress/{job.id}/", "task_id": str(job.id)})


@bp.get("/celery-progress/<task_id>/")
def celery_progress(task_id: str):
    if current_app.config["NEVISA_PROGRESS_NEEDS_AUTH"]:
        job = _task_for(_caller(header_required=True, form_required=False), task_id, CompatError(404, NOT_FOUND))
    else:
        job = _task_by_capability(task_id)
    return jsonify(progress_view(job))


@bp.post("/file/terminate-task")
def terminate_task():
    user = _caller(header_required=True, form_required=False)
    task_id = request.form.get("task_id")
    if not task_id:
        raise CompatError(400, {"task_id": ["This field is required."]})
    job = _task_for(user, task_id, CompatError(401, NOT_YOURS), lock=True)
    if is_terminal(job.status):
        return jsonify({"message": "The task had already finished.", "task_id": str(job.id),
                        "state": _state(job)})
    jobs.cancel(job)
    return jsonify({"message": "Task terminated.", "task_id": str(job.id), "state": _state(job)})
