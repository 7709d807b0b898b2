"""Seed 001's image-task API (FastAPI conventions) under /compat/primitives.

Its tasks are native vision jobs; a task id is the job's integer ``number``. Tokens come from
``/compat/primitives/oauth/login`` in the auth service.

Decisions on what the seed leaves open:

* Statuses: ``queued`` (queued), ``in progress`` (running, retrying), ``done`` (succeeded), and one
  value the seed lacks, ``failed`` (failed, cancelled, partial). "done" is kept for a result that
  exists: a client that sees "done" reads ``result["primitives"]``, and a failure reported as done
  would make it crash on ``"None"`` or show an empty scene as if nothing were there. A client that
  polls "while queued or in progress" stops on "failed" as it would on "done"; the seed's own server
  had no failed state at all (a crashed task stayed "in progress" forever), so its clients already
  give up after a while.
* ``primitive_class`` is the detection's label, with the seed's vocabulary for the two shapes it
  names: circle -> ``sphere``, square -> ``cube``; every other label (ellipse, rectangle, triangle,
  polygon, and the object detectors' classes) is passed through.
* ``x``, ``y`` are the centre of the box and ``width``, ``height`` its extent, all normalized by the
  image size; ``rotation`` is degrees / 360 in [0, 1) (the vision kind's conventions).
* ``input_path`` is ``img_<id>.<ext>``, the name the input is served under: never a server path.
* Both model ids default to the catalog defaults when absent; a non-integer id is FastAPI's 422.
* The body is the raw image whatever its Content-Type (the seed says ``application/json``); a
  multipart upload with one file part is accepted too.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, BinaryIO, Optional

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from services.api import jobs
from services.api.compat.common import CompatError, compat_user, error_handler
from services.api.downloads import send_stored
from services.api.kinds import SubmitRefused
from services.api.kinds.vision import offered_models
from shared.db import db
from shared.image_check import CONTENT_TYPES, sniff_format
from shared.kinds.vision import catalog
from shared.models import Job, User

bp = Blueprint("compat_primitives", __name__, url_prefix="/compat/primitives")

KIND = "vision"
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
STATUSES = {"queued": "queued", "running": "in progress", "retrying": "in progress",
            "succeeded": "done", "failed": "failed", "cancelled": "failed", "partial": "failed"}
SEED_CLASSES = {"circle": "sphere", "square": "cube"}
BOX_KEYS = ("x", "y", "width", "height", "rotation", "probability")
INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"
MODEL_ID_PARAMS = {"detection_model_id": catalog.DEFAULT_DETECTION_MODEL_ID,
                   "classification_model_id": catalog.DEFAULT_CLASSIFICATION_MODEL_ID}
MAX_NUMBER = 2**63 - 1  # job numbers are BIGINT; a larger id would be a database error, not a 404
EXTENSIONS = {content_type: fmt for fmt, content_type in CONTENT_TYPES.items()}

error_handler(bp, lambda code, message: {"detail": message})


class _Prefixed:
    """A readable stream that gives ``head`` first, then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data


def _not_found(task_id: int) -> CompatError:
    return CompatError(404, {"detail": f"Task with id {task_id} does not exist."})


def _task_for(user: User, task_id: int, lock: bool = False) -> Job:
    """The caller's vision job numbered ``task_id``; ownership is checked by jobs.get_job_for."""
    if task_id > MAX_NUMBER:
        raise _not_found(task_id)
    job_id = db.session.scalar(select(Job.id).where(Job.number == task_id, Job.kind == KIND))
    if job_id is None:
        raise _not_found(task_id)
    try:
        return jobs.get_job_for(user, job_id, lock=lock)
    except jobs.NotFound:
        raise _not_found(task_id) from None


def _iso_ms(moment: datetime) -> str:
    """A UTC timestamp as the seed writes it: ``2012-04-23T18:25:43.511Z``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _input_name(job: Job) -> str:
    return f"img_{job.number}.{EXTENSIONS.get(job.input_content_type or '', 'jpeg')}"


def _model_ids() -> dict[str, int]:
    ids, problems = {}, []
    for name, default in MODEL_ID_PARAMS.items():
        raw = request.args.get(name)
        try:
            ids[name] = default if raw is None else int(raw)
        except ValueError:
            problems.append({"type": "int_parsing", "loc": ["query", name], "input": raw,
                             "msg": INT_PARSING})
    if problems:
        raise CompatError(422, {"detail": problems})
    return ids


def _upload() -> tuple[BinaryIO, Optional[str], Optional[str]]:
    """The image (raw body, or the one file of a multipart body), its name and sniffed type."""
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file") or next(iter(request.files.values()), None)
        stream, name = (part.stream, part.filename) if part else (request.stream, None)
    else:
        stream, name = request.stream, None
    head = stream.read(16)
    fmt = sniff_format(head)
    return _Prefixed(head, stream), name or f"image.{fmt or 'bin'}", CONTENT_TYPES.get(fmt or "")


@bp.post("/api/tasks")
def create_task():
    user = compat_user(NOT_AUTHENTICATED)
    ids = _model_ids()
    upload, filename, content_type = _upload()
    try:
        # Through the kind's schema, so the job gets the same defaults as a native submission.
        params = jobs.kind_spec(KIND).params_schema().load(ids)
        job = jobs.submit(user, KIND, params, upload, filename, content_type)
    except SubmitRefused as exc:
        raise CompatError(exc.status, {"detail": str(exc)}) from None
    return jsonify({"id": job.number})


@bp.get("/api/tasks")
def list_tasks():
    user = compat_user(NOT_AUTHENTICATED)
    rows = db.session.scalars(select(Job).where(Job.user_id == user.id, Job.kind == KIND)
                              .order_by(Job.number)).all()
    return jsonify({"tasks": [{"id": job.number, "status": STATUSES[job.status],
                               "created_at": _iso_ms(job.created_at),
                               "input_path": _input_name(job)} for job in rows]})


@bp.get("/api/tasks/<int:task_id>/status")
def task_status(task_id: int):
    job = _task_for(compat_user(NOT_AUTHENTICATED), task_id)
    return jsonify({"id": job.number, "status": STATUSES[job.status]})


@bp.get("/api/tasks/<int:task_id>/input")
def task_input(task_id: int):
    job = _task_for(compat_user(NOT_AUTHENTICATED), task_id)
    return send_stored(job.input_key, job.input_content_type or "image/jpeg", _input_name(job))


def _primitive(detection: dict[str, Any]) -> dict[str, Any]:
    label = detection["label"]
    return {"primitive_class": SEED_CLASSES.get(label, label),
            **{key: detection[key] for key in BOX_KEYS}}


@bp.get("/api/tasks/<int:task_id>/result")
@bp.get("/tasks/<int:task_id>/result")
def task_result(task_id: int):
    job = _task_for(compat_user(NOT_AUTHENTICATED), task_id)
    status = STATUSES[job.status]
    result: Any = "None"
    if status == "done" and job.result is not None:
        result = {"image_class": job.result.get("image_class"),
                  "primitives": [_primitive(d) for d in job.result.get("detections", [])]}
    return jsonify({"id": job.number, "status": status, "result": result})


@bp.get("/api/models")
def models():
    compat_user(NOT_AUTHENTICATED)
    try:
        offered = offered_models()
    except SubmitRefused:  # no vision worker yet: nothing can be chosen
        offered = []
    return jsonify({f"{kind}_models": [{"model_name": m.name, "model_id": m.id}
                                       for m in offered if m.kind == kind]
                    for kind in (catalog.DETECTION, catalog.CLASSIFICATION)})


@bp.delete("/api/tasks/<int:task_id>")
def delete_task(task_id: int):
    job = _task_for(compat_user(NOT_AUTHENTICATED), task_id, lock=True)
    jobs.delete(job)
    return jsonify({"id": task_id})
