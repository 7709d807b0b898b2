"""What every compat surface shares: identifying the caller without the native error envelope."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from flask import Response, jsonify
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from services.api import jobs
from shared.db import db
from shared.models import Job, User
from shared.principal import authenticate
from shared.states import is_terminal


class CompatError(Exception):
    """An error in a surface's own shape: ``body`` is sent as JSON with ``status``."""

    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status = status
        self.body = body


def compat_user(unauthorized_body: Any, status: int = 401) -> User:
    """The caller (token or API key), or a CompatError with the surface's own 401 body."""
    try:
        return authenticate()
    except (JWTExtendedException, PyJWTError):
        raise CompatError(status, unauthorized_body) from None
    except HTTPException as exc:
        if exc.code == 401:
            raise CompatError(status, unauthorized_body) from None
        raise


def error_handler(bp, reshape: Callable[[int, str], Any]) -> None:
    """Answer CompatError as is, and reshape every other HTTP error of the surface with ``reshape``."""

    @bp.errorhandler(CompatError)
    def _compat(exc: CompatError) -> tuple[Response, int]:
        return jsonify(exc.body), exc.status

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        message = (getattr(exc, "data", None) or {}).get("message") or exc.description
        return jsonify(reshape(exc.code or 500, message)), exc.code or 500


def iso_z(moment: Optional[datetime]) -> Optional[str]:
    """A UTC timestamp as Django REST framework writes it: ``2025-11-13T17:13:21.827306Z``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JobVanished(Exception):
    """A job being waited for was deleted meanwhile."""


class WaitTimedOut(Exception):
    """The jobs did not end in time; they were cancelled."""


def wait_for_jobs(user_id: int, job_ids: list[uuid.UUID], timeout: float, first_poll: float,
                  max_poll: float) -> dict[uuid.UUID, tuple[str, Any, Any]]:
    """Each job's (status, result, error) once all have ended, for faces that answer synchronously.

    Polls with a growing pause; on timeout cancels the jobs nobody waits for any more.
    """
    deadline = time.monotonic() + timeout
    pause = first_poll
    while True:
        rows = db.session.execute(select(Job.id, Job.status, Job.result, Job.error)
                                  .where(Job.id.in_(job_ids), Job.user_id == user_id)).all()
        # Give the connection back between polls: the wait may last minutes and the pool is shared.
        db.session.close()
        if len(rows) < len(job_ids):
            raise JobVanished()
        if all(is_terminal(row.status) for row in rows):
            return {row.id: (row.status, row.result, row.error) for row in rows}
        if time.monotonic() >= deadline:
            cancel_jobs(user_id, job_ids)
            raise WaitTimedOut()
        time.sleep(pause)
        pause = min(pause * 1.5, max_poll)


def cancel_jobs(user_id: int, job_ids: list[uuid.UUID]) -> None:
    """Cancel the jobs that are still active (those already ended or deleted are left as they are)."""
    user = db.session.get(User, user_id)
    for job_id in job_ids:
        try:
            jobs.cancel(jobs.get_job_for(user, job_id, lock=True))
        except (jobs.NotFound, jobs.jobflow.Conflict):
            continue  # already ended or deleted: nothing to cancel
