"""Seed 002's translation API under /compat/translate (Django REST framework conventions).

Its jobs are native translate jobs; its statuses are ``pending | processing | completed | failed``.
Tokens come from ``/compat/translate/api/token/`` in the auth service.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from services.api import jobs
from services.api.compat.common import CompatError, compat_user, error_handler, iso_z
from services.api.kinds import SubmitRefused
from shared.db import db
from shared.models import Job

bp = Blueprint("compat_translate", __name__, url_prefix="/compat/translate")

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
NOT_FOUND = {"detail": "Not found."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
STATUSES = {"queued": "pending", "running": "processing", "retrying": "processing", "succeeded": "completed",
            "partial": "failed", "failed": "failed", "cancelled": "failed"}

error_handler(bp, lambda code, message: {"detail": message})


class SubmitSchema(Schema):
    source_text = fields.String(required=True, validate=validate.Length(min=1))
    source_lang = fields.String(required=True)
    target_lang = fields.String(required=True)
    priority = fields.String(load_default="normal", validate=validate.OneOf(["normal", "high"]))


def _job_for(user, job_id: str) -> Job:
    try:
        return jobs.get_job_for(user, job_id)
    except jobs.NotFound:
        raise CompatError(404, NOT_FOUND) from None


def _completed_at(job: Job):
    return job.finished_at if job.status == "succeeded" or job.result is not None else None


@bp.post("/api/v1/translate/")
def submit():
    user = compat_user(NOT_AUTHENTICATED)
    try:
        data = SubmitSchema().load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        raise CompatError(400, exc.messages) from None
    try:
        job = jobs.submit(user, "translate", {"text": data["source_text"], "source_lang": data["source_lang"],
                                              "target_lang": data["target_lang"], "priority": data["priority"]})
    except SubmitRefused as exc:
        field = "target_lang" if exc.status == 400 else "detail"
        body = {field: [str(exc)]} if field != "detail" else {"detail": str(exc)}
        raise CompatError(exc.status, body) from None
    return jsonify({"id": str(job.id), "source_text": data["source_text"], "source_lang": data["source_lang"],
                    "target_lang": data["target_lang"], "priority": data["priority"]}), 201


@bp.get("/api/v1/translate/<job_id>/status/")
def status(job_id: str):
    job = _job_for(compat_user(NOT_AUTHENTICATED), job_id)
    return jsonify({"id": str(job.id), "status": STATUSES[job.status], "priority": job.priority,
                    "created_at": iso_z(job.created_at), "started_at": iso_z(job.started_at),
                    "completed_at": iso_z(_completed_at(job)), "word_count": job.params.get("word_count", 0)})


@bp.get("/api/v1/translate/<job_id>/result/")
def result(job_id: str):
    job = _job_for(compat_user(NOT_AUTHENTICATED), job_id)
    return jsonify({"id": str(job.id), "status": STATUSES[job.status],
                    "translated_text": (job.result or {}).get("translated_text"), "error_message": job.error})


@bp.get("/api/v1/translate/all/")
def list_all():
    user = compat_user(NOT_AUTHENTICATED)
    if not user.is_admin:
        raise CompatError(403, FORBIDDEN)
    rows = db.session.scalars(select(Job).where(Job.kind == "translate").order_by(Job.created_at.desc())).all()
    return jsonify([_full(job) for job in rows])


def _full(job: Job) -> dict[str, Any]:
    return {"id": str(job.id), "user": job.user_id, "source_text": job.params.get("text"),
            "translated_text": (job.result or {}).get("translated_text"),
            "source_lang": job.params.get("source_lang"), "target_lang": job.params.get("target_lang"),
            "status": STATUSES[job.status], "priority": job.priority,
            "word_count": job.params.get("word_count", 0),
            "error_message": job.error, "created_at": iso_z(job.created_at), "started_at": iso_z(job.started_at),
            "completed_at": iso_z(_completed_at(job))}
